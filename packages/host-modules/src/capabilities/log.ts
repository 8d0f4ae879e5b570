import {
  defineHostModule,
  type HostFunctionDefinition,
  type HostModuleDefinition,
  hostFunction,
} from '../define';
import { HostModuleDefinitionError } from '../errors';
import {
  type CapabilitySchema,
  capabilitySchema,
  checkKeys,
  checkOptions,
  kind,
  limit,
  stringSchema,
  utf8Bytes,
} from './schema';

/**
 * The levels of {@link logModule}, lowest first.
 * @public
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * A structured logger in pino's style: one method per level taking the fields first, then the
 * message. A pino logger is one as it is; {@link consoleLogger} adapts `console`.
 * @public
 */
export type StructuredLogger = Record<
  LogLevel,
  (fields: Record<string, unknown>, message: string) => void
>;

/**
 * A {@link StructuredLogger} writing to a console (`console.info(message, fields)`, …).
 * @param target - the console to write to.
 * @defaultValue target: the global `console`
 * @public
 */
export function consoleLogger(target: Pick<Console, LogLevel> = console): StructuredLogger {
  return {
    debug: (fields, message) => target.debug(message, fields),
    info: (fields, message) => target.info(message, fields),
    warn: (fields, message) => target.warn(message, fields),
    error: (fields, message) => target.error(message, fields),
  };
}

/**
 * Options of {@link logModule}. Sizes are UTF-8 bytes of the message plus the fields' JSON text.
 * @public
 */
export interface LogModuleOptions {
  /**
   * Where records go.
   * @defaultValue {@link consoleLogger}()
   */
  readonly logger?: StructuredLogger;
  /**
   * The module name.
   * @defaultValue `'log'`
   */
  readonly name?: string;
  /**
   * Fields added to every record (e.g. `{ tenant: 'acme' }`); the guest's fields cannot override
   * them.
   * @defaultValue `{}`
   */
  readonly fields?: Readonly<Record<string, unknown>>;
  /**
   * The lowest level recorded; lower ones are dropped without counting.
   * @defaultValue `'debug'`
   */
  readonly level?: LogLevel;
  /**
   * Largest record, in bytes; a larger one is dropped (counted as dropped).
   * @defaultValue 8192
   */
  readonly maxRecordBytes?: number;
  /**
   * Most records per handler call (between two {@link LogModule.beginCall} calls).
   * @defaultValue 100
   */
  readonly maxRecordsPerCall?: number;
  /**
   * Most bytes per handler call (between two {@link LogModule.beginCall} calls).
   * @defaultValue 65536 (64 KiB)
   */
  readonly maxBytesPerCall?: number;
}

/**
 * The functions of {@link logModule}: the guest calls `info(message, fields?)` (and `debug`,
 * `warn`, `error`), which returns whether the record was kept.
 * @public
 */
export type LogFunctions = {
  readonly [L in LogLevel]: HostFunctionDefinition<
    readonly [CapabilitySchema<string>, CapabilitySchema<Record<string, unknown> | undefined>],
    boolean
  >;
};

/**
 * The value {@link logModule} returns: a host module with the volume accounting of the current
 * handler call.
 * @public
 */
export interface LogModule extends HostModuleDefinition<string, LogFunctions> {
  /**
   * Starts a new handler call: the per-call record and byte counts go back to zero. Call it
   * before each `callHandler()`; without it the per-call limits apply to everything since the
   * module was made (or since the last `beginCall()`). One module value installed on several
   * sandboxes shares one count.
   */
  beginCall(): void;
  /** Records kept and dropped since the last {@link LogModule.beginCall}. */
  readonly stats: LogStats;
}

/**
 * The volume of the current handler call (since the last {@link LogModule.beginCall}).
 * @public
 */
export interface LogStats {
  /** Records kept. */
  readonly records: number;
  /** Bytes kept (messages plus the fields' JSON). */
  readonly bytes: number;
  /** Records dropped by a limit. */
  readonly dropped: number;
}

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/**
 * A structured-logging capability: the guest writes records (a message and JSON fields) at four
 * levels to your logger, with a size limit per record and a volume limit per handler call. Over a
 * limit, records are dropped (the guest's call returns `false`) and one warning record says so;
 * logging never throws into the guest for volume.
 *
 * @example
 * ```ts
 * const log = logModule({ logger: pino(), fields: { tenant: 'acme' }, maxRecordsPerCall: 50 });
 * // guest: import * as log from 'host:log'; log.info('charged', { amount: 42 });
 * ```
 * @throws {@link HostModuleDefinitionError} (`ERR_INVALID_ARG`) for a logger without the four
 * level methods, a bad level, a limit that is not a positive integer, or an unknown option.
 * @public
 */
export function logModule(options: LogModuleOptions = {}): LogModule {
  checkOptions('logModule()', options);
  checkKeys('logModule()', options, [
    'logger',
    'name',
    'fields',
    'level',
    'maxRecordBytes',
    'maxRecordsPerCall',
    'maxBytesPerCall',
  ]);
  const logger = options.logger ?? consoleLogger();
  if (
    typeof logger !== 'object' ||
    logger === null ||
    !LEVELS.every((l) => typeof (logger as Record<string, unknown>)[l] === 'function')
  ) {
    throw new HostModuleDefinitionError(
      'logModule(): logger must have debug, info, warn and error methods (fields, message)',
    );
  }
  const minLevel = options.level ?? 'debug';
  if (!LEVELS.includes(minLevel)) {
    throw new HostModuleDefinitionError(`logModule(): level must be one of ${LEVELS.join(', ')}`);
  }
  const fixed = options.fields ?? {};
  if (typeof fixed !== 'object' || fixed === null || Array.isArray(fixed)) {
    throw new HostModuleDefinitionError('logModule(): fields must be an object');
  }
  const maxRecordBytes = limit('logModule(): maxRecordBytes', options.maxRecordBytes, 8192);
  const maxRecords = limit('logModule(): maxRecordsPerCall', options.maxRecordsPerCall, 100);
  const maxBytes = limit('logModule(): maxBytesPerCall', options.maxBytesPerCall, 64 * 1024);
  const name = options.name ?? 'log';
  const stats = { records: 0, bytes: 0, dropped: 0 };
  const fieldsSchema = capabilitySchema<Record<string, unknown> | undefined>(
    { type: 'object' },
    (value) =>
      value === undefined || (typeof value === 'object' && value !== null && !Array.isArray(value))
        ? []
        : [{ message: `expected an object of fields or nothing, received ${kind(value)}` }],
  );
  const drop = (level: LogLevel, reason: string): boolean => {
    stats.dropped++;
    if (stats.dropped === 1) {
      logger.warn(
        { ...fixed, module: `host:${name}`, level, reason },
        `guest log records dropped: ${reason}`,
      );
    }
    return false;
  };
  const record = (level: LogLevel) =>
    hostFunction({
      args: [stringSchema, fieldsSchema],
      params: ['message', 'fields'],
      description: `Writes a ${level} record; false when it was dropped by a limit.`,
      handler: (message, fields) => {
        if (LEVELS.indexOf(level) < LEVELS.indexOf(minLevel)) return false;
        const bytes = utf8Bytes(message) + (fields ? utf8Bytes(JSON.stringify(fields)) : 0);
        if (bytes > maxRecordBytes)
          return drop(level, `a record of ${bytes} bytes is over ${maxRecordBytes}`);
        if (stats.records + 1 > maxRecords)
          return drop(level, `more than ${maxRecords} records in one call`);
        if (stats.bytes + bytes > maxBytes)
          return drop(level, `more than ${maxBytes} bytes in one call`);
        stats.records++;
        stats.bytes += bytes;
        logger[level]({ ...fields, ...fixed }, message);
        return true;
      },
    });
  const module = defineHostModule(name, {
    debug: record('debug'),
    info: record('info'),
    warn: record('warn'),
    error: record('error'),
  });
  return Object.freeze({
    name: module.name,
    functions: module.functions,
    options: module.options,
    install: module.install,
    invoke: module.invoke,
    beginCall() {
      stats.records = 0;
      stats.bytes = 0;
      stats.dropped = 0;
    },
    get stats() {
      return { ...stats };
    },
  }) as LogModule;
}
