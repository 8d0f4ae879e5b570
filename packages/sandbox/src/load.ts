import {
  ERR_CANCELLED,
  type JSSandbox,
  type LoadedJSSandbox,
  type ProtoJSSandbox,
  SandboxBuilder,
  type SandboxLoadOptions,
  type Snapshot,
} from '@hyperlight/js-host-api';
import {
  type CallObserver,
  createCallObserver,
  isMonitor,
  type Monitor,
} from '@hyperlight/monitors';
import {
  type HostModuleInstallation,
  moduleSpecifier,
  type PrintLevel,
  type SandboxDefinition,
} from './definition';
import { codedError } from './errors';

/** A loaded sandbox of a definition, the observer of its host functions, its post-load snapshot. */
export interface Loaded {
  readonly loaded: LoadedJSSandbox;
  readonly observer: CallObserver;
  /**
   * The post-load snapshot, taken by the sandbox's first job: calls made meanwhile queue behind
   * it on the sandbox's thread, so they start from the state it captures. Never rejects
   * unhandled (a failure surfaces at the first restore).
   */
  readonly snapshot: Promise<Snapshot>;
  /** The host modules' per-sandbox hooks that have a `beginCall`. */
  readonly installations: readonly HostModuleInstallation[];
}

/** A signal that stops loads, and the `terminatedBy` it is reported as. */
export interface NamedSignal {
  readonly signal: AbortSignal;
  readonly name: string;
}

/** The binding's load options of a definition, without signals (computed once per definition). */
interface LoadLimits {
  readonly options: SandboxLoadOptions;
  /** No timeout (and no grace period) is set. */
  readonly none: boolean;
  readonly signals: readonly NamedSignal[];
}

const limitsOf = new WeakMap<object, LoadLimits>();

function loadLimits(definition: SandboxDefinition<unknown>): LoadLimits {
  let limits = limitsOf.get(definition);
  if (limits) return limits;
  const input = definition.loadLimits;
  const monitors: readonly Monitor[] =
    input === undefined || input === null ? [] : isMonitor(input) ? [input] : input.monitors;
  const options: SandboxLoadOptions = {};
  const signals: NamedSignal[] = [];
  for (const m of monitors) {
    if (m.kind === 'wall-clock') {
      options.wallClockTimeoutMs = Math.min(options.wallClockTimeoutMs ?? Infinity, m.limitMs ?? 0);
    } else if (m.kind === 'cpu-time') {
      options.cpuTimeoutMs = Math.min(options.cpuTimeoutMs ?? Infinity, m.limitMs ?? 0);
    } else if (m.kind === 'signal' && m.signal !== null) {
      signals.push({ signal: m.signal, name: m.name });
      if (m.gracePeriodMs !== null) {
        options.abortGracePeriodMs = Math.min(
          options.abortGracePeriodMs ?? Infinity,
          m.gracePeriodMs,
        );
      }
    }
  }
  limits = { options, none: Object.keys(options).length === 0, signals };
  limitsOf.set(definition, limits);
  return limits;
}

/** Whether a signal of the definition's `loadLimits` has aborted: it makes no sandbox any more. */
export function loadsStopped(definition: SandboxDefinition<unknown>): boolean {
  return loadLimits(definition).signals.some((s) => s.signal.aborted);
}

/** The `ERR_CANCELLED` of a load stopped by `hit` between two of the binding's steps. */
export function cancelled(hit: NamedSignal, step: string): Error {
  return codedError(
    ERR_CANCELLED,
    `the sandbox was not made: its load was stopped by the \`${hit.name}\` signal ${step}; ` +
      'everything made so far was released',
    { terminatedBy: hit.name, cause: hit.signal.reason },
  );
}

/** Names the signal behind a binding's `terminatedBy: 'abort'` (its monitor's name). */
function renamed(error: unknown, signals: readonly NamedSignal[], combined: AbortSignal | null) {
  const e = error as { code?: unknown; terminatedBy?: unknown } | null;
  if (e?.code !== ERR_CANCELLED || e.terminatedBy !== 'abort' || combined === null) return error;
  const hit =
    signals.find((s) => s.signal.aborted && s.signal.reason === combined.reason) ??
    signals.find((s) => s.signal.aborted);
  if (hit !== undefined && hit.name !== 'abort') {
    try {
      (e as { terminatedBy: string }).terminatedBy = hit.name;
    } catch {
      // A read-only property keeps the binding's name.
    }
  }
  return error;
}

/**
 * Builds a micro-VM for `definition`, registers its host functions and host modules through an
 * observer, loads the runtime, modules and handlers under the definition's `loadLimits` and
 * `abortSignal`, and starts the post-load snapshot: three awaited steps of the binding (build,
 * `loadRuntime`, `getLoadedSandbox`), the fewest it offers, and the snapshot queued on the
 * sandbox's thread ahead of any call. On failure everything made so far is released and the
 * error is rethrown (an abort between two steps, or after the last, is `ERR_CANCELLED` naming
 * the signal).
 */
export async function load<H>(
  definition: SandboxDefinition<H>,
  sandboxId: number,
  abortSignal?: AbortSignal,
): Promise<Loaded> {
  const limits = loadLimits(definition as SandboxDefinition<unknown>);
  const signals: readonly NamedSignal[] =
    abortSignal === undefined
      ? limits.signals
      : [...limits.signals, { signal: abortSignal, name: 'abort' }];
  const check = (step: string) => {
    for (const s of signals) if (s.signal.aborted) throw cancelled(s, step);
  };
  check('before it started');
  const builder = new SandboxBuilder();
  const sizes = definition.sizes ?? {};
  if (sizes.heapBytes !== undefined) builder.setHeapSize(sizes.heapBytes);
  if (sizes.scratchBytes !== undefined) builder.setScratchSize(sizes.scratchBytes);
  if (sizes.inputBufferBytes !== undefined) builder.setInputBufferSize(sizes.inputBufferBytes);
  if (sizes.outputBufferBytes !== undefined) builder.setOutputBufferSize(sizes.outputBufferBytes);
  const observer = createCallObserver();
  const sink = definition.printSink;
  if (sink !== undefined) {
    builder.setPrintSink(
      observer.printSink((line, level) => {
        try {
          sink(line, level as PrintLevel, sandboxId);
        } catch (error) {
          process.emitWarning(`@hyperlight/sandbox: the printSink threw: ${String(error)}`);
        }
      }),
    );
  }
  const combined =
    signals.length === 0
      ? null
      : signals.length === 1
        ? (signals[0] as NamedSignal).signal
        : AbortSignal.any(signals.map((s) => s.signal));
  const options: SandboxLoadOptions =
    combined === null ? limits.options : { ...limits.options, signal: combined };
  // Whatever holds the micro-VM now, released if a step fails.
  let holder: ProtoJSSandbox | JSSandbox | LoadedJSSandbox = await builder.build();
  try {
    check('while the micro-VM was built');
    const proto = observer.instrument(holder as ProtoJSSandbox);
    for (const [module, fns] of Object.entries(definition.hostFunctions ?? {})) {
      const m = proto.hostModule(module);
      for (const [name, fn] of Object.entries(fns)) m.register(name, fn);
    }
    const installations: HostModuleInstallation[] = [];
    for (const hostModule of definition.hostModules ?? []) {
      const installed = hostModule.install(proto);
      if (typeof (installed as HostModuleInstallation | undefined)?.beginCall === 'function') {
        installations.push(installed as HostModuleInstallation);
      }
    }
    // No signal here: loadRuntime runs no guest code, and the signals are checked right after.
    const js: JSSandbox = await proto.loadRuntime();
    holder = js;
    check('while the runtime loaded');
    for (const [key, source] of Object.entries(definition.modules ?? {})) {
      const { namespace, name } = moduleSpecifier(key);
      js.addModule(name, source, namespace);
    }
    for (const [name, source] of Object.entries<string>(definition.handlers)) {
      js.addHandler(name, source);
    }
    const loaded = await (combined === null && limits.none
      ? js.getLoadedSandbox()
      : js.getLoadedSandbox(options));
    holder = loaded;
    check('after the load');
    // Not awaited: the snapshot is the sandbox's first job, and the first call queues behind it
    // on the sandbox's thread instead of waiting a round trip for it here.
    const snapshot = loaded.snapshot();
    snapshot.catch(() => undefined);
    return { loaded, observer, snapshot, installations };
  } catch (error) {
    await holder[Symbol.asyncDispose]().catch(() => undefined);
    throw renamed(error, signals, combined);
  }
}
