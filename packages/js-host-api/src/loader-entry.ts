// `@hyperlight/js-host-api/loader`: how the package finds its native binding, for tools and tests
// that need to look somewhere else or inspect the raw binding. Programs use the main entry point,
// which loads the binding by itself on first use; this entry point may change in any minor release.

export {
  type BindingSource,
  ERR_NO_NATIVE_BINDING,
  type LoadAttempt,
  NativeBindingError,
} from './errors';
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
