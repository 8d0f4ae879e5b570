import {
  type JSSandbox,
  type LoadedJSSandbox,
  type ProtoJSSandbox,
  SandboxBuilder,
  type Snapshot,
} from '@hyperlight/js-host-api';
import { type CallObserver, createCallObserver } from '@hyperlight/monitors';
import { moduleSpecifier, type SandboxDefinition } from './definition';

/** A loaded sandbox of a definition, the observer of its host functions, its post-load snapshot. */
export interface Loaded {
  readonly loaded: LoadedJSSandbox;
  readonly observer: CallObserver;
  readonly snapshot: Snapshot;
}

/**
 * Builds a micro-VM for `definition`, registers its host functions and host modules through an
 * observer, loads the runtime, modules and handlers, and snapshots the result. On failure
 * everything made so far is released and the error is rethrown as is.
 */
export async function load<H>(definition: SandboxDefinition<H>): Promise<Loaded> {
  const builder = new SandboxBuilder();
  const sizes = definition.sizes ?? {};
  if (sizes.heapBytes !== undefined) builder.setHeapSize(sizes.heapBytes);
  if (sizes.scratchBytes !== undefined) builder.setScratchSize(sizes.scratchBytes);
  if (sizes.inputBufferBytes !== undefined) builder.setInputBufferSize(sizes.inputBufferBytes);
  if (sizes.outputBufferBytes !== undefined) builder.setOutputBufferSize(sizes.outputBufferBytes);
  const observer = createCallObserver();
  // Whatever holds the micro-VM now, released if a step fails.
  let holder: ProtoJSSandbox | JSSandbox | LoadedJSSandbox = await builder.build();
  try {
    const proto = observer.instrument(holder as ProtoJSSandbox);
    for (const [module, fns] of Object.entries(definition.hostFunctions ?? {})) {
      const m = proto.hostModule(module);
      for (const [name, fn] of Object.entries(fns)) m.register(name, fn);
    }
    for (const hostModule of definition.hostModules ?? []) hostModule.install(proto);
    const js: JSSandbox = await proto.loadRuntime();
    holder = js;
    for (const [key, source] of Object.entries(definition.modules ?? {})) {
      const { namespace, name } = moduleSpecifier(key);
      js.addModule(name, source, namespace);
    }
    for (const [name, source] of Object.entries<string>(definition.handlers)) {
      js.addHandler(name, source);
    }
    const loaded = await js.getLoadedSandbox();
    holder = loaded;
    const snapshot = await loaded.snapshot();
    return { loaded, observer, snapshot };
  } catch (error) {
    await holder[Symbol.asyncDispose]().catch(() => undefined);
    throw error;
  }
}
