import type {
  HostFunction,
  HostModule,
  ProtoJSSandbox,
  SandboxLoadOptions,
} from '@hyperlight/js-host-api';
import { invalidArg } from './errors';

/**
 * The event source of one sandbox for monitors: host functions registered through it and guest
 * output fed to it are reported to the monitors of the call running at that moment.
 *
 * The binding calls host functions on the Node main thread, so wrapping them is all it takes to
 * see every host call (no binding change). Use one observer per sandbox, and register that
 * sandbox's host functions through it, before `loadRuntime()`:
 *
 * @example
 * ```ts
 * const observer = createCallObserver();
 * const proto = observer.instrument(await new SandboxBuilder().build());
 * proto.hostModule('db').register('get', (key) => table.get(key)); // observed
 * const loaded = await (await proto.loadRuntime()).getLoadedSandbox();
 * const monitored = monitorSandbox(loaded, { observer });
 * ```
 * @public
 */
export interface CallObserver {
  /**
   * Wraps one host function so that each guest call of it is reported to the running call's
   * monitors before it runs; once a monitor has killed the call, the wrapper throws instead of
   * running `fn`. Host calls made while no monitored call runs (e.g. at load time) go straight
   * to `fn`.
   * @param module - the host module name (for {@link HostCallEvent.module}).
   * @param name - the function name (for `HostCallEvent.function`).
   */
  hostFunction(module: string, name: string, fn: HostFunction): HostFunction;
  /**
   * A view of `proto` whose `hostModule(name).register(...)` and `register(...)` wrap every
   * function with {@link CallObserver.hostFunction}; everything else goes to `proto`. Pass the
   * view wherever a `ProtoJSSandbox` is expected, e.g. to a host module's `install(proto)`.
   */
  instrument(proto: ProtoJSSandbox): ProtoJSSandbox;
  /**
   * Reports one line of guest output to the running call's monitors; does nothing while no
   * monitored call runs. Prefer {@link CallObserver.printSink}: until `printSink()` was made or
   * `output()` called once, output monitors are refused (`ERR_INVALID_ARG`), as they would see
   * nothing. The arguments are a print sink's (`SandboxBuilder.setPrintSink`).
   * @param line - the line.
   * @param level - the line's level (`'print'`, `'debug'`, `'info'`, `'warn'`, `'error'`).
   */
  output(line: string, level: string): void;
  /**
   * A print sink for `SandboxBuilder.setPrintSink` that reports every line to the monitors and
   * then passes it to `next`.
   * @param next - where the lines go afterwards.
   * @defaultValue next: nowhere (the lines are only counted)
   */
  printSink(next?: (line: string, level: string) => void): (line: string, level: string) => void;
}

/** What the observer reports to: the call running now. */
export interface ObservedCall {
  hostCall(module: string, name: string): void;
  output(level: string, bytes: number): void;
  /** The monitor that killed the call, or `null`. */
  readonly killedBy: string | null;
}

/** The observer's private state, reachable only inside this package. */
interface ObserverState {
  current: ObservedCall | null;
  owner: object | null;
  /** Whether guest output reaches the observer: `printSink()` was made or `output()` called. */
  outputWired: boolean;
}

const states = new WeakMap<CallObserver, ObserverState>();

/** The private state of an observer made by {@link createCallObserver}. */
export function observerState(observer: unknown): ObserverState {
  const state = states.get(observer as CallObserver);
  if (!state) throw invalidArg('observer must be a CallObserver from createCallObserver()');
  return state;
}

/**
 * Creates a {@link CallObserver} for one sandbox.
 * @public
 */
export function createCallObserver(): CallObserver {
  const state: ObserverState = { current: null, owner: null, outputWired: false };
  const hostFunction = (module: string, name: string, fn: HostFunction): HostFunction => {
    if (typeof fn !== 'function') {
      throw invalidArg(`the host function ${module}.${name} must be a function`);
    }
    return function observed(this: unknown, ...args: Parameters<HostFunction>) {
      const call = state.current;
      if (call) {
        call.hostCall(module, name);
        if (call.killedBy !== null) {
          throw new Error(
            `the call was cancelled by the \`${call.killedBy}\` monitor; host function ${module}.${name} was not run`,
          );
        }
      }
      return fn.apply(this, args);
    };
  };
  const wrapModule = (module: HostModule): HostModule => {
    const view: HostModule = {
      get name() {
        return module.name;
      },
      register(name, callback) {
        module.register(name, hostFunction(module.name, name, callback));
        return view;
      },
    };
    return view;
  };
  const output = (line: string, level: string) => {
    state.outputWired = true;
    state.current?.output(String(level), Buffer.byteLength(String(line), 'utf8'));
  };
  const observer: CallObserver = Object.freeze({
    hostFunction,
    instrument(proto: ProtoJSSandbox): ProtoJSSandbox {
      return {
        hostModule: (name: string) => wrapModule(proto.hostModule(name)),
        register: (module: string, name: string, callback: HostFunction) =>
          proto.register(module, name, hostFunction(module, name, callback)),
        loadRuntime: (options?: SandboxLoadOptions) =>
          options === undefined ? proto.loadRuntime() : proto.loadRuntime(options),
        dispose: () => proto.dispose(),
        [Symbol.asyncDispose]: () => proto[Symbol.asyncDispose](),
      };
    },
    output,
    printSink(next?: (line: string, level: string) => void) {
      if (next !== undefined && typeof next !== 'function') {
        throw invalidArg('printSink(next): next must be a function');
      }
      state.outputWired = true;
      return (line: string, level: string) => {
        output(line, level);
        next?.(line, level);
      };
    },
  });
  states.set(observer, state);
  return observer;
}
