// Node.js API of hyperlight-js: run untrusted JavaScript handlers inside hardware-isolated KVM
// micro-VMs. For now this package holds the loader of the native binding: it finds the binary
// built for this platform (the `@hyperlight/js-host-api-<triple>` package, a local build, or the
// file named by `HYPERLIGHT_JS_NATIVE_PATH`) and explains what to do when there is none.

import { lazyNativeClass, type NativeConstructor } from './lazy';

export {
  type BindingSource,
  ERR_NO_NATIVE_BINDING,
  type LoadAttempt,
  NativeBindingError,
} from './errors';
export type { NativeConstructor } from './lazy';
export {
  type LoadOptions,
  loadNativeBinding,
  NATIVE_PATH_ENV,
  type NativeBinding,
  nativeBinding,
} from './loader';
export {
  bindingFileName,
  currentPlatform,
  detectLibc,
  type Libc,
  PLATFORM_PACKAGES,
  type PlatformInfo,
  platformTriple,
} from './platform';

/**
 * Creates and configures a sandbox: `new SandboxBuilder()`, then `await builder.build()`.
 *
 * The class is the native binding's own; it is loaded on first use, so importing this package
 * works everywhere and `new SandboxBuilder()` throws a `NativeBindingError`
 * (`code: 'ERR_NO_NATIVE_BINDING'`) on a machine that has no binding.
 * @public
 */
export const SandboxBuilder: NativeConstructor = lazyNativeClass('SandboxBuilder');
