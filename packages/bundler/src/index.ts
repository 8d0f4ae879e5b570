// @hyperlight/bundler: from a TypeScript project to hyperlight-js guest modules. esbuild bundles
// each handler with its npm dependencies at the guest's language level; the handler-map
// declaration types @hyperlight/sandbox's call(); the guest's globals are a declaration file;
// guest stacks map back to the sources. Needs no native code.

export {
  type BundledHandler,
  type BundleInput,
  type BundleOptions,
  type BundleResult,
  bundle,
  GUEST_BUILTIN_MODULES,
  GUEST_TARGET,
} from './bundle';
export { type HandlerMapOptions, handlerMapDeclaration } from './declarations';
export { type BundleDiagnostic, BundleError, type BundleErrorCode } from './errors';
export { defineHandler, type Handler } from './guest';
export { addBundle, type HandlerTarget } from './load';
export { createStackMapper, type StackMapperOptions, type StackMapSource } from './stack';
export { type TypecheckOptions, typecheck } from './typecheck';
export { GUEST_GLOBALS_DTS } from './typescript';
export { type WrittenBundle, writeBundle } from './write';
