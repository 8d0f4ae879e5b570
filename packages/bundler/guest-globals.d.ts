// The globals of the hyperlight-js guest (QuickJS-ng in a micro-VM) and its built-in modules
// (`crypto`, `util`, `console`, `io`, `require`, `vm`): exactly what the guest has, so that a TypeScript guest gets an error for what would
// fail at run time (`process`, `Buffer`, `fetch`, `setImmediate`, the DOM,
// `Atomics.waitAsync`...). What each global does: docs/guest-builtins.md. Use it with `lib: ["ES2023"]` and no other `types`:
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

/**
 * Loads a module the guest's loader resolves (a built-in module, `host:<name>`,
 * `<namespace>:<name>`) synchronously and returns its namespace. There is no file system and no
 * npm: `require('fs')` throws. A module graph with top-level `await` cannot be required.
 */
// biome-ignore lint/suspicious/noExplicitAny: a module namespace or a script's value is anything.
declare function require(specifier: string): any;

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
  /** Digests, HMAC and AES-GCM (see `docs/guest-builtins.md` for what is supported). */
  readonly subtle: SubtleCrypto;
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

/** A key of `crypto.subtle` (HMAC or AES-GCM). */
interface CryptoKey {
  readonly type: 'secret';
  readonly extractable: boolean;
  readonly algorithm: { readonly name: string; readonly [key: string]: unknown };
  readonly usages: KeyUsage[];
}
declare var CryptoKey: { prototype: CryptoKey };
type KeyUsage = 'encrypt' | 'decrypt' | 'sign' | 'verify';
type BufferSource = ArrayBuffer | ArrayBufferView;
/** An algorithm: its name, or an object with its name and parameters. */
type AlgorithmIdentifier = string | { name: string; [key: string]: unknown };
/** A JSON Web Key (`kty: "oct"` only). */
interface JsonWebKey {
  kty?: string;
  k?: string;
  alg?: string;
  ext?: boolean;
  key_ops?: string[];
  [key: string]: unknown;
}
/** Web Crypto's SubtleCrypto, as far as the guest implements it: SHA digests, HMAC, AES-GCM. */
interface SubtleCrypto {
  digest(algorithm: AlgorithmIdentifier, data: BufferSource): Promise<ArrayBuffer>;
  importKey(
    format: 'jwk',
    keyData: JsonWebKey,
    algorithm: AlgorithmIdentifier,
    extractable: boolean,
    keyUsages: KeyUsage[],
  ): Promise<CryptoKey>;
  importKey(
    format: 'raw',
    keyData: BufferSource,
    algorithm: AlgorithmIdentifier,
    extractable: boolean,
    keyUsages: KeyUsage[],
  ): Promise<CryptoKey>;
  exportKey(format: 'jwk', key: CryptoKey): Promise<JsonWebKey>;
  exportKey(format: 'raw', key: CryptoKey): Promise<ArrayBuffer>;
  generateKey(
    algorithm: AlgorithmIdentifier,
    extractable: boolean,
    keyUsages: KeyUsage[],
  ): Promise<CryptoKey>;
  sign(algorithm: AlgorithmIdentifier, key: CryptoKey, data: BufferSource): Promise<ArrayBuffer>;
  verify(
    algorithm: AlgorithmIdentifier,
    key: CryptoKey,
    signature: BufferSource,
    data: BufferSource,
  ): Promise<boolean>;
  encrypt(algorithm: AlgorithmIdentifier, key: CryptoKey, data: BufferSource): Promise<ArrayBuffer>;
  decrypt(algorithm: AlgorithmIdentifier, key: CryptoKey, data: BufferSource): Promise<ArrayBuffer>;
}
declare var SubtleCrypto: { prototype: SubtleCrypto };

/** WHATWG URL (on the `url` crate). */
interface URL {
  hash: string;
  host: string;
  hostname: string;
  href: string;
  readonly origin: string;
  password: string;
  pathname: string;
  port: string;
  protocol: string;
  search: string;
  readonly searchParams: URLSearchParams;
  username: string;
  toString(): string;
  toJSON(): string;
}
declare var URL: {
  prototype: URL;
  new (url: string | URL, base?: string | URL): URL;
  /** Whether `url` (against `base`) parses. */
  canParse(url: string | URL, base?: string | URL): boolean;
  /** The parsed URL, or null. */
  parse(url: string | URL, base?: string | URL): URL | null;
};

/** WHATWG URLSearchParams. */
interface URLSearchParams {
  readonly size: number;
  append(name: string, value: string): void;
  delete(name: string, value?: string): void;
  get(name: string): string | null;
  getAll(name: string): string[];
  has(name: string, value?: string): boolean;
  set(name: string, value: string): void;
  sort(): void;
  toString(): string;
  forEach(
    callback: (value: string, key: string, parent: URLSearchParams) => void,
    thisArg?: unknown,
  ): void;
  entries(): IterableIterator<[string, string]>;
  keys(): IterableIterator<string>;
  values(): IterableIterator<string>;
  [Symbol.iterator](): IterableIterator<[string, string]>;
}
declare var URLSearchParams: {
  prototype: URLSearchParams;
  new (init?: string[][] | Record<string, string> | string | URLSearchParams): URLSearchParams;
};

/** HTML structured clone (no `transfer`: a non-empty list throws `DataCloneError`). */
declare function structuredClone<T>(value: T, options?: { transfer?: [] }): T;

/**
 * Calls `callback` after `delay` ms, within the current request (pending timers are dropped when
 * the handler's result is ready). Returns a positive integer id.
 */
declare function setTimeout<A extends unknown[]>(
  callback: (...args: A) => void,
  delay?: number,
  ...args: A
): number;
/** Calls `callback` every `delay` ms (at least 1), within the current request. */
declare function setInterval<A extends unknown[]>(
  callback: (...args: A) => void,
  delay?: number,
  ...args: A
): number;
/** Cancels a timeout (or an interval); unknown ids are ignored. */
declare function clearTimeout(id?: number): void;
/** Cancels an interval (or a timeout); unknown ids are ignored. */
declare function clearInterval(id?: number): void;

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
  type Algorithm = 'md5' | 'sha1' | 'sha256' | 'sha384' | 'sha512';
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

/** The guest's built-in `util` module (also `node:util`): Node's formatter, as `console` uses it. */
declare module 'util' {
  /** Options of `inspect` (Node's). */
  interface InspectOptions {
    depth?: number | null;
    colors?: boolean;
    compact?: boolean | number;
    breakLength?: number;
    showHidden?: boolean;
    sorted?: boolean;
    getters?: boolean;
    maxArrayLength?: number | null;
    maxStringLength?: number | null;
    numericSeparator?: boolean;
    customInspect?: boolean;
    showProxy?: boolean;
  }
  interface Inspect {
    (value: unknown, options?: InspectOptions): string;
    /** The symbol of custom inspection methods (`Symbol.for('nodejs.util.inspect.custom')`). */
    readonly custom: unique symbol;
    defaultOptions: InspectOptions;
  }
  export const inspect: Inspect;
  export function format(format?: unknown, ...args: unknown[]): string;
  export function formatWithOptions(
    options: InspectOptions,
    format?: unknown,
    ...args: unknown[]
  ): string;
  export function stripVTControlCharacters(text: string): string;
  const util: {
    inspect: typeof inspect;
    format: typeof format;
    formatWithOptions: typeof formatWithOptions;
    stripVTControlCharacters: typeof stripVTControlCharacters;
  };
  export default util;
}
declare module 'node:util' {
  // biome-ignore lint/style/useNodejsImportProtocol: the guest's own util module, not Node's.
  export * from 'util';
  // biome-ignore lint/style/useNodejsImportProtocol: the guest's own util module, not Node's.
  export { default } from 'util';
}

/**
 * The guest's built-in `console` module (also `node:console`): the global console as its default
 * export, and its methods as named exports.
 */
declare module 'console' {
  const console: Console;
  export default console;
  export const debug: Console['debug'];
  export const trace: Console['trace'];
  export const log: Console['log'];
  export const info: Console['info'];
  export const warn: Console['warn'];
  export const error: Console['error'];
}
declare module 'node:console' {
  // biome-ignore lint/style/useNodejsImportProtocol: the guest's own console module, not Node's.
  export * from 'console';
  // biome-ignore lint/style/useNodejsImportProtocol: the guest's own console module, not Node's.
  export { default } from 'console';
}

/** The guest's built-in `io` module. */
declare module 'io' {
  /** The global `print`: text without a trailing newline. */
  export function print(...data: unknown[]): void;
  /** Hands buffered output to the host now. */
  export function flush(): void;
  const io: { print: typeof print; flush: typeof flush };
  export default io;
}

/** The guest's built-in `require` module: the global `require`. */
declare module 'require' {
  // biome-ignore lint/suspicious/noExplicitAny: a module namespace or a script's value is anything.
  const require: (specifier: string) => any;

  export { require };
  export default require;
}

/**
 * The guest's built-in `vm` module (also `node:vm`): classic scripts in this realm or in new
 * realms. A context is the new realm's global object; no `vm.Script`, no modules.
 */
declare module 'vm' {
  /** A file name, or `{ filename }`, for stacks. */
  type RunOptions = string | { filename?: string };
  // biome-ignore lint/suspicious/noExplicitAny: a module namespace or a script's value is anything.
  export function runInThisContext(code: string, options?: RunOptions): any;
  // biome-ignore lint/suspicious/noExplicitAny: a module namespace or a script's value is anything.
  export function runInContext(code: string, context: object, options?: RunOptions): any;
  export function createContext<T extends object>(object?: T): T & typeof globalThis;
  export function isContext(value: unknown): boolean;
  const vm: {
    runInThisContext: typeof runInThisContext;
    runInContext: typeof runInContext;
    createContext: typeof createContext;
    isContext: typeof isContext;
  };
  export default vm;
}
declare module 'node:vm' {
  // biome-ignore lint/style/useNodejsImportProtocol: the guest's own vm module, not Node's.
  export * from 'vm';
  // biome-ignore lint/style/useNodejsImportProtocol: the guest's own vm module, not Node's.
  export { default } from 'vm';
}
