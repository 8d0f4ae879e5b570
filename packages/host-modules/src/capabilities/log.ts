import type { ProtoJSSandbox } from '@hyperlight/js-host-api';
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
 * Which handler call is starting, as `@hyperlight/sandbox` passes it to a host module's
 * per-call hook (its `HostModuleCallContext` fits).
 * @public
 */
export interface LogCallContext {
  /** The routing key of the handler called: records get it as the field `handler`. */
  readonly handler: string;
  /** An id of the call: records get it as the field `callId`. */
  readonly callId: number | string;
}

/**
 * The per-sandbox side of {@link logModule}, returned by its `install(proto)`:
 * `@hyperlight/sandbox` calls `beginCall` before each call of that sandbox, so the per-call
 * limits count that sandbox's call alone (a pool runs calls on several sandboxes at once) and
 * every record carries the call's `handler` and `callId`.
 * @public
 */
export interface LogInstallation {
  /**
   * Starts a handler call on this sandbox: its counts go back to zero and its records are tagged
   * with `call`. From the first `beginCall`, this installation keeps its own counts (before it,
   * the module's shared ones, see {@link LogModule.beginCall}).
   */
  beginCall(call: LogCallContext): void;
  /** Records kept and dropped in this sandbox's current call. */
  readonly stats: LogStats;
}

/**
 * The value {@link logModule} returns: a host module with the volume accounting of the current
 * handler call.
 * @public
 */
export interface LogModule extends HostModuleDefinition<string, LogFunctions> {
  /**
   * Registers the functions on `proto` and returns that sandbox's {@link LogInstallation}, whose
   * `beginCall` `@hyperlight/sandbox` calls before each call (nothing to do by hand there).
   */
  install(proto: Pick<ProtoJSSandbox, 'hostModule'>): LogInstallation;
  /**
   * Starts a new handler call for the low-level API (`install(proto)` and `callHandler()` by
   * hand): the per-call record and byte counts go back to zero, and with `call` records are
   * tagged with its `handler` and `callId` until the next `beginCall`. Call it before each
   * `callHandler()`; without it the per-call limits apply to everything since the module was
   * made (or since the last `beginCall()`). These counts are shared by every installation that
   * has not had its own {@link LogInstallation.beginCall} (which `@hyperlight/sandbox` calls).
   */
  beginCall(call?: LogCallContext): void;
  /** Records kept and dropped since the last {@link LogModule.beginCall} (shared counts). */
  readonly stats: LogStats;
}

/**
 * The volume of the current handler call (since the last `beginCall`).
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

/** The counts of one call, and the fields that tag its records. */
interface CallState {
  records: number;
  bytes: number;
  dropped: number;
  tags: { handler: string; callId: number | string } | null;
}

function newState(): CallState {
  return { records: 0, bytes: 0, dropped: 0, tags: null };
}

function begin(state: CallState, call: LogCallContext | undefined): void {
  state.records = 0;
  state.bytes = 0;
  state.dropped = 0;
  if (call === undefined) {
    state.tags = null;
    return;
  }
  if (typeof call !== 'object' || call === null || typeof call.handler !== 'string') {
    throw new HostModuleDefinitionError(
      'logModule(): beginCall(call) takes { handler: string, callId: number | string }',
    );
  }
  state.tags = { handler: call.handler, callId: call.callId };
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
  const shared = newState();
  const fieldsSchema = capabilitySchema<Record<string, unknown> | undefined>(
    { type: 'object' },
    (value) =>
      value === undefined || (typeof value === 'object' && value !== null && !Array.isArray(value))
        ? []
        : [{ message: `expected an object of fields or nothing, received ${kind(value)}` }],
  );
  /** The module's functions, counting in whatever state `current()` returns when called. */
  const functions = (current: () => CallState) => {
    const drop = (state: CallState, level: LogLevel, reason: string): boolean => {
      state.dropped++;
      if (state.dropped === 1) {
        logger.warn(
          { ...state.tags, ...fixed, module: `host:${name}`, level, reason },
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
          const state = current();
          const bytes = utf8Bytes(message) + (fields ? utf8Bytes(JSON.stringify(fields)) : 0);
          if (bytes > maxRecordBytes)
            return drop(state, level, `a record of ${bytes} bytes is over ${maxRecordBytes}`);
          if (state.records + 1 > maxRecords)
            return drop(state, level, `more than ${maxRecords} records in one call`);
          if (state.bytes + bytes > maxBytes)
            return drop(state, level, `more than ${maxBytes} bytes in one call`);
          state.records++;
          state.bytes += bytes;
          logger[level]({ ...fields, ...state.tags, ...fixed }, message);
          return true;
        },
      });
    return {
      debug: record('debug'),
      info: record('info'),
      warn: record('warn'),
      error: record('error'),
    };
  };
  const module = defineHostModule(
    name,
    functions(() => shared),
  );
  const statsOf = (state: CallState): LogStats => ({
    records: state.records,
    bytes: state.bytes,
    dropped: state.dropped,
  });
  return Object.freeze({
    name: module.name,
    functions: module.functions,
    options: module.options,
    install(proto: Pick<ProtoJSSandbox, 'hostModule'>): LogInstallation {
      // Until the sandbox starts a call on it, the installation counts in the shared state.
      let own: CallState | null = null;
      defineHostModule(
        name,
        functions(() => own ?? shared),
      ).install(proto);
      return Object.freeze({
        beginCall(call: LogCallContext) {
          own ??= newState();
          begin(own, call);
        },
        get stats() {
          return statsOf(own ?? shared);
        },
      });
    },
    invoke: module.invoke,
    beginCall(call?: LogCallContext) {
      begin(shared, call);
    },
    get stats() {
      return statsOf(shared);
    },
  }) as LogModule;
}
