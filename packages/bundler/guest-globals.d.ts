// The globals of the hyperlight-js guest (QuickJS-ng in a micro-VM) and its built-in module
// `crypto`: exactly what the guest has, so that a TypeScript guest gets an error for what would
// fail at run time (`process`, `require`, `Buffer`, `fetch`, `setTimeout` while the guest has no
// timers, the DOM, `Atomics.waitAsync`...). Use it with `lib: ["ES2023"]` and no other `types`:
//
//   { "compilerOptions": { "lib": ["ES2023"], "types": ["@hyperlight/bundler/guest-globals"] } }
//
// The lib references below add the parts of ES2024 and of the next editions the guest's engine
// implements (not `es2024.sharedmemory`: the guest has no `Atomics.waitAsync`).
//
// ONE FILE TO UPDATE when the guest gains a global: the bundler's tests check every global
// declared here (and by these libs) against a real guest, and every global of the guest against
// these declarations.

/// <reference lib="es2023" />
/// <reference lib="es2024.arraybuffer" />
/// <reference lib="es2024.collection" />
/// <reference lib="es2024.object" />
/// <reference lib="es2024.promise" />
/// <reference lib="es2024.regexp" />
/// <reference lib="es2024.string" />
/// <reference lib="esnext.array" />
/// <reference lib="esnext.collection" />
/// <reference lib="esnext.disposable" />
/// <reference lib="esnext.error" />
/// <reference lib="esnext.float16" />
/// <reference lib="esnext.iterator" />
/// <reference lib="esnext.promise" />

/** The console: arguments are formatted (objects as JSON, errors with their stack) and sent to the host's print sink. */
interface Console {
  /** Level 1. */
  debug(...data: unknown[]): void;
  /** Level 1. */
  trace(...data: unknown[]): void;
  /** Level 2. */
  log(...data: unknown[]): void;
  /** Level 2. */
  info(...data: unknown[]): void;
  /** Level 3. */
  warn(...data: unknown[]): void;
  /** Level 4. */
  error(...data: unknown[]): void;
}
declare var console: Console;

/** Prints its arguments, formatted as `console.log` does, at level 0. */
declare function print(...data: unknown[]): void;

/** Schedules `callback` as a microtask (it runs before the handler's call returns). */
declare function queueMicrotask(callback: () => void): void;

/** Decodes base64 to a binary string. */
declare function atob(data: string): string;
/** Encodes a binary string (code points up to U+00FF) to base64. */
declare function btoa(data: string): string;

/** UTF-8 encoder (WHATWG Encoding). */
interface TextEncoderEncodeIntoResult {
  read: number;
  written: number;
}
interface TextEncoder {
  readonly encoding: 'utf-8';
  encode(input?: string): Uint8Array;
  encodeInto(source: string, destination: Uint8Array): TextEncoderEncodeIntoResult;
}
declare var TextEncoder: { prototype: TextEncoder; new (): TextEncoder };

/** UTF-8 decoder (WHATWG Encoding; only UTF-8 labels). */
interface TextDecoderOptions {
  fatal?: boolean;
  ignoreBOM?: boolean;
}
interface TextDecoder {
  readonly encoding: 'utf-8';
  readonly fatal: boolean;
  readonly ignoreBOM: boolean;
  decode(input?: ArrayBuffer | ArrayBufferView, options?: { stream?: boolean }): string;
}
declare var TextDecoder: {
  prototype: TextDecoder;
  new (label?: string, options?: TextDecoderOptions): TextDecoder;
};

/** The global `crypto` object (Web Crypto subset). */
interface Crypto {
  /** Fills an integer typed array (at most 65,536 bytes) with random values and returns it. */
  getRandomValues<
    T extends
      | Int8Array
      | Uint8Array
      | Uint8ClampedArray
      | Int16Array
      | Uint16Array
      | Int32Array
      | Uint32Array
      | BigInt64Array
      | BigUint64Array,
  >(array: T): T;
  /** A random (version 4) UUID. */
  randomUUID(): `${string}-${string}-${string}-${string}-${string}`;
}
declare var crypto: Crypto;

/** High-resolution time (monotonic clock). */
interface Performance {
  /** Milliseconds since `timeOrigin`. */
  now(): number;
  /** When the clock started, in milliseconds since the epoch. */
  readonly timeOrigin: number;
}
declare var performance: Performance;

/** WebIDL DOMException. */
interface DOMException extends Error {
  readonly code: number;
  readonly message: string;
  readonly name: string;
}
declare var DOMException: {
  prototype: DOMException;
  new (message?: string, name?: string): DOMException;
};

/** QuickJS's error for engine-level failures (e.g. `InternalError: interrupted`, too much recursion). */
interface InternalError extends Error {}
declare var InternalError: {
  prototype: InternalError;
  new (message?: string): InternalError;
  (message?: string): InternalError;
};

/** The guest's built-in `crypto` module (also importable as `node:crypto`). */
declare module 'crypto' {
  /** Input accepted by `update()`. */
  type BinaryLike = string | ArrayBuffer | ArrayBufferView;
  /** The algorithms of `createHash` and `createHmac`. */
  type Algorithm = 'sha256' | 'sha384' | 'sha512';
  /** A hash or HMAC in progress. */
  interface Hash {
    update(data: BinaryLike): Hash;
    digest(): Uint8Array;
    digest(encoding: 'hex' | 'base64' | 'base64url'): string;
  }
  export function createHash(algorithm: Algorithm): Hash;
  export function createHmac(algorithm: Algorithm, key: BinaryLike): Hash;
  export function getRandomValues<T extends ArrayBufferView>(array: T): T;
  export function randomUUID(): string;
  const crypto: {
    createHash: typeof createHash;
    createHmac: typeof createHmac;
    getRandomValues: typeof getRandomValues;
    randomUUID: typeof randomUUID;
  };
  export default crypto;
}
declare module 'node:crypto' {
  // biome-ignore lint/style/useNodejsImportProtocol: the guest's own crypto module, not Node's.
  export * from 'crypto';
  // biome-ignore lint/style/useNodejsImportProtocol: the guest's own crypto module, not Node's.
  export { default } from 'crypto';
}
