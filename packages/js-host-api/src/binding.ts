import { type NativeBinding, nativeBinding } from './loader';

/** The classes whose objects hold a micro-VM; `dispose()` is their native release. */
const VM_HOLDERS = ['ProtoJSSandbox', 'JSSandbox', 'LoadedJSSandbox'] as const;

const prepared = new WeakSet<object>();

/**
 * The native binding, with `[Symbol.asyncDispose]` added to the classes that hold a VM (so
 * `await using` releases it). Done once per binding.
 */
export function preparedBinding(): NativeBinding {
  const binding = nativeBinding();
  if (prepared.has(binding)) return binding;
  for (const name of VM_HOLDERS) {
    const cls = binding[name] as { prototype: Record<PropertyKey, unknown> } | undefined;
    const proto = cls?.prototype;
    if (!proto || typeof proto.dispose !== 'function') continue;
    Object.defineProperty(proto, Symbol.asyncDispose, {
      configurable: true,
      writable: true,
      value: function asyncDispose(this: { dispose(): Promise<void> }) {
        return this.dispose();
      },
    });
  }
  prepared.add(binding);
  return binding;
}
