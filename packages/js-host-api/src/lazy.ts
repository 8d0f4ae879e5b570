import { type NativeBinding, nativeBinding } from './loader';

/**
 * A class exported by the native binding.
 * @public
 */
export type NativeConstructor = new (...args: unknown[]) => unknown;

/**
 * A stand-in for the binding's class `name` that loads the binding only when first used.
 *
 * Importing this package therefore never fails; `new X()`, a static member or `instanceof X`
 * loads the binding and forwards to its real class, or throws the loader's `NativeBindingError`
 * (`ERR_NO_NATIVE_BINDING`) when there is none. Instances are the binding's own objects.
 */
export function lazyNativeClass(
  name: string,
  load: () => NativeBinding = nativeBinding,
): NativeConstructor {
  const resolve = (): NativeConstructor => {
    const value = load()[name];
    if (typeof value !== 'function') {
      throw new TypeError(
        `The native binding of hyperlight-js has no class ${name}: it does not match this version of @hyperlight/js-host-api.`,
      );
    }
    return value as NativeConstructor;
  };
  // The proxy needs a constructible target; the real class is looked up on every use.
  const target = function (this: unknown) {} as unknown as NativeConstructor;
  Object.defineProperty(target, 'name', { value: name });
  const proxy: NativeConstructor = new Proxy(target, {
    construct(_target, args, newTarget) {
      const real = resolve();
      return Reflect.construct(real, args, newTarget === proxy ? real : newTarget);
    },
    apply(_target, thisArg, args) {
      return Reflect.apply(resolve() as unknown as (...a: unknown[]) => unknown, thisArg, args);
    },
    get(_target, property) {
      const real = resolve();
      return Reflect.get(real, property, real);
    },
    has(_target, property) {
      return Reflect.has(resolve(), property);
    },
  });
  return proxy;
}
