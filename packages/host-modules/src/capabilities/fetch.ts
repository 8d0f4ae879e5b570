import {
  defineHostModule,
  type HostCallContext,
  type HostFunctionDefinition,
  type HostModuleDefinition,
  hostFunction,
} from '../define';
import { HostCallError, HostModuleDefinitionError } from '../errors';
import {
  type CapabilitySchema,
  capabilitySchema,
  checkKeys,
  checkOptions,
  isStringRecord,
  kind,
  limit,
  stringSchema,
} from './schema';

/**
 * One allowed origin of {@link fetchModule}.
 * @public
 */
export interface FetchRule {
  /** An origin: scheme, host and port, e.g. `'https://api.example.com'` (a path is refused). */
  readonly origin: string;
  /**
   * The methods allowed there (upper case).
   * @defaultValue `['GET', 'HEAD']`
   */
  readonly methods?: readonly string[];
  /**
   * Headers the host adds to every request to this origin (e.g. an `authorization` the guest
   * never sees); they override the guest's headers of the same name.
   * @defaultValue none
   */
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * Options of {@link fetchModule}.
 * @public
 */
export interface FetchModuleOptions {
  /**
   * The origins the guest may reach: rules, or origin strings (`GET` and `HEAD` only). Every
   * redirect is checked against it too. Anything else is `ERR_HOST_DENIED`.
   */
  readonly allow: readonly (string | FetchRule)[];
  /**
   * The module name.
   * @defaultValue `'fetch'`
   */
  readonly name?: string;
  /**
   * Largest request body, in UTF-8 bytes (`ERR_HOST_LIMIT`).
   * @defaultValue 65536 (64 KiB)
   */
  readonly maxRequestBytes?: number;
  /**
   * Largest response body, in bytes: reading stops and the call fails with `ERR_HOST_LIMIT` as
   * soon as more arrives (a `content-length` over it fails before reading).
   * @defaultValue 1048576 (1 MiB)
   */
  readonly maxResponseBytes?: number;
  /**
   * Milliseconds for the whole exchange, redirects and body included (`ERR_HOST_TIMEOUT`; the
   * request is aborted).
   * @defaultValue 10000
   */
  readonly timeoutMs?: number;
  /**
   * Most redirects followed (`ERR_HOST_LIMIT` beyond).
   * @defaultValue 5
   */
  readonly maxRedirects?: number;
  /**
   * The `fetch` used, e.g. one with a proxy agent.
   * @defaultValue `globalThis.fetch`
   */
  readonly fetch?: typeof globalThis.fetch;
}

/**
 * What the guest passes as `init` to `fetch(url, init?)`.
 * @public
 */
export interface GuestRequestInit {
  /** The method. Default `'GET'`. */
  readonly method?: string;
  /** Request headers. */
  readonly headers?: Readonly<Record<string, string>>;
  /** The body, as text (or base64 when `bodyEncoding` is `'base64'`). */
  readonly body?: string;
  /** How `body` is encoded. Default `'text'`. */
  readonly bodyEncoding?: 'text' | 'base64';
  /** How the response body is returned: `'text'` (UTF-8) or `'base64'`. Default `'text'`. */
  readonly responseEncoding?: 'text' | 'base64';
}

/**
 * What the guest's `fetch()` returns.
 * @public
 */
export interface GuestResponse {
  /** The HTTP status. */
  readonly status: number;
  /** The status text. */
  readonly statusText: string;
  /** The final URL, after redirects. */
  readonly url: string;
  /** Whether a redirect was followed. */
  readonly redirected: boolean;
  /** Response headers, names in lower case (repeated headers joined with `, `). */
  readonly headers: Readonly<Record<string, string>>;
  /** The body, as text or base64 (see `responseEncoding`). */
  readonly body: string;
}

/**
 * The function of {@link fetchModule}: the guest calls `fetch(url, init?)` and gets a
 * {@link GuestResponse}, synchronously.
 * @public
 */
export type FetchFunctions = {
  /** `fetch(url, init?)`. */
  readonly fetch: HostFunctionDefinition<
    readonly [CapabilitySchema<string>, CapabilitySchema<GuestRequestInit | undefined>],
    GuestResponse
  >;
};

interface Rule {
  readonly methods: ReadonlySet<string>;
  readonly headers: Readonly<Record<string, string>>;
}

/** Headers a guest may not set: they describe the connection, which the host owns. */
const FORBIDDEN_HEADERS = new Set([
  'host',
  'connection',
  'content-length',
  'transfer-encoding',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'proxy-authorization',
  'proxy-connection',
]);

const INIT_KEYS = ['method', 'headers', 'body', 'bodyEncoding', 'responseEncoding'];

const initSchema = capabilitySchema<GuestRequestInit | undefined>(
  {
    type: 'object',
    properties: {
      method: { type: 'string' },
      headers: { type: 'object', additionalProperties: { type: 'string' } },
      body: { type: 'string' },
      bodyEncoding: { enum: ['text', 'base64'] },
      responseEncoding: { enum: ['text', 'base64'] },
    },
    additionalProperties: false,
  },
  (value) => {
    if (value === undefined || value === null) return [];
    if (typeof value !== 'object' || Array.isArray(value)) {
      return [{ message: `expected an object or nothing, received ${kind(value)}` }];
    }
    const init = value as Record<string, unknown>;
    const problems = [];
    for (const key of Object.keys(init)) {
      if (!INIT_KEYS.includes(key))
        problems.push({ message: `unknown option (known: ${INIT_KEYS.join(', ')})`, path: [key] });
    }
    if (
      init.method !== undefined &&
      (typeof init.method !== 'string' || !/^[A-Za-z]+$/.test(init.method))
    ) {
      problems.push({ message: 'expected an HTTP method name', path: ['method'] });
    }
    if (init.headers !== undefined && !isStringRecord(init.headers)) {
      problems.push({ message: 'expected an object of string values', path: ['headers'] });
    }
    if (init.body !== undefined && typeof init.body !== 'string') {
      problems.push({ message: `expected a string, received ${kind(init.body)}`, path: ['body'] });
    }
    for (const key of ['bodyEncoding', 'responseEncoding']) {
      if (init[key] !== undefined && init[key] !== 'text' && init[key] !== 'base64') {
        problems.push({ message: "expected 'text' or 'base64'", path: [key] });
      }
    }
    return problems;
  },
);

/** Parses the allow-list into origin → rule. */
function parseRules(allow: unknown): Map<string, Rule> {
  if (!Array.isArray(allow) || allow.length === 0) {
    throw new HostModuleDefinitionError(
      'fetchModule(): allow must be a non-empty array of origins or rules',
    );
  }
  const rules = new Map<string, Rule>();
  for (const [i, entry] of allow.entries()) {
    const rule: FetchRule = typeof entry === 'string' ? { origin: entry } : entry;
    if (typeof rule !== 'object' || rule === null || typeof rule.origin !== 'string') {
      throw new HostModuleDefinitionError(
        `fetchModule(): allow[${i}] must be an origin or { origin, methods?, headers? }`,
      );
    }
    checkKeys(`fetchModule(): allow[${i}]`, rule, ['origin', 'methods', 'headers']);
    let url: URL;
    try {
      url = new URL(rule.origin);
    } catch {
      throw new HostModuleDefinitionError(
        `fetchModule(): allow[${i}].origin is not a URL: ${JSON.stringify(rule.origin)}`,
      );
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new HostModuleDefinitionError(
        `fetchModule(): allow[${i}].origin must be http or https`,
      );
    }
    if (url.origin !== rule.origin.replace(/\/$/, '') || url.username || url.password) {
      throw new HostModuleDefinitionError(
        `fetchModule(): allow[${i}].origin must be an origin only (scheme, host, port), like ${JSON.stringify(url.origin)}`,
      );
    }
    const methods = rule.methods ?? ['GET', 'HEAD'];
    if (
      !Array.isArray(methods) ||
      methods.some((m) => typeof m !== 'string' || !/^[A-Z]+$/.test(m))
    ) {
      throw new HostModuleDefinitionError(
        `fetchModule(): allow[${i}].methods must be upper-case method names`,
      );
    }
    if (rule.headers !== undefined && !isStringRecord(rule.headers)) {
      throw new HostModuleDefinitionError(
        `fetchModule(): allow[${i}].headers must be an object of strings`,
      );
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(rule.headers ?? {})) headers[k.toLowerCase()] = v;
    const existing = rules.get(url.origin);
    rules.set(url.origin, {
      methods: new Set([...(existing?.methods ?? []), ...methods]),
      headers: { ...existing?.headers, ...headers },
    });
  }
  return rules;
}

/**
 * An HTTP capability: the guest calls `fetch(url, init?)` synchronously and gets status, headers
 * and body, only for the origins and methods you allow (redirects included), within request and
 * response size limits and a time limit.
 *
 * Refusals are `ERR_HOST_DENIED` (an origin or method not allowed, a URL with credentials, a
 * connection header), limits `ERR_HOST_LIMIT` (request or response size, redirects) and
 * `ERR_HOST_TIMEOUT`; a network failure throws in the guest with the host's message.
 *
 * @example
 * ```ts
 * const http = fetchModule({
 *   allow: [{ origin: 'https://api.example.com', methods: ['GET', 'POST'] }],
 *   maxResponseBytes: 256 * 1024,
 *   timeoutMs: 2000,
 * });
 * // guest: import { fetch } from 'host:fetch'; JSON.parse(fetch('https://api.example.com/v1').body)
 * ```
 * @throws {@link HostModuleDefinitionError} (`ERR_INVALID_ARG`) for an empty or malformed
 * allow-list, a limit that is not a positive integer, or an unknown option.
 * @public
 */
export function fetchModule(
  options: FetchModuleOptions,
): HostModuleDefinition<string, FetchFunctions> {
  checkOptions('fetchModule()', options);
  checkKeys('fetchModule()', options, [
    'allow',
    'name',
    'maxRequestBytes',
    'maxResponseBytes',
    'timeoutMs',
    'maxRedirects',
    'fetch',
  ]);
  const rules = parseRules(options.allow);
  const maxRequestBytes = limit(
    'fetchModule(): maxRequestBytes',
    options.maxRequestBytes,
    64 * 1024,
  );
  const maxResponseBytes = limit(
    'fetchModule(): maxResponseBytes',
    options.maxResponseBytes,
    1024 * 1024,
  );
  const timeoutMs = limit('fetchModule(): timeoutMs', options.timeoutMs, 10_000, 2_147_483_647);
  const maxRedirects =
    options.maxRedirects === 0
      ? 0
      : limit('fetchModule(): maxRedirects', options.maxRedirects, 5, 20);
  const doFetch = options.fetch ?? globalThis.fetch;
  if (typeof doFetch !== 'function') {
    throw new HostModuleDefinitionError('fetchModule(): fetch must be a function');
  }
  const name = options.name ?? 'fetch';
  const qualified = `host:${name}.fetch`;

  const check = (url: URL, method: string): Rule => {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new HostCallError('ERR_HOST_DENIED', qualified, `${url.protocol} URLs are not allowed`);
    }
    if (url.username || url.password) {
      throw new HostCallError(
        'ERR_HOST_DENIED',
        qualified,
        'URLs with credentials are not allowed',
      );
    }
    const rule = rules.get(url.origin);
    if (!rule)
      throw new HostCallError(
        'ERR_HOST_DENIED',
        qualified,
        `the origin ${url.origin} is not allowed`,
      );
    if (!rule.methods.has(method)) {
      throw new HostCallError(
        'ERR_HOST_DENIED',
        qualified,
        `${method} is not allowed for ${url.origin}`,
      );
    }
    return rule;
  };

  const run = async (
    rawUrl: string,
    init: GuestRequestInit | undefined,
    ctx: HostCallContext,
  ): Promise<GuestResponse> => {
    let url: URL;
    try {
      url = new URL(rawUrl);
    } catch {
      throw new HostCallError(
        'ERR_HOST_ARGUMENTS',
        qualified,
        `not an absolute URL: ${JSON.stringify(rawUrl.slice(0, 200))}`,
      );
    }
    let method = (init?.method ?? 'GET').toUpperCase();
    const guestHeaders: Record<string, string> = {};
    for (const [k, v] of Object.entries(init?.headers ?? {})) {
      const lower = k.toLowerCase();
      if (FORBIDDEN_HEADERS.has(lower)) {
        throw new HostCallError(
          'ERR_HOST_DENIED',
          qualified,
          `the header ${lower} is set by the host`,
        );
      }
      guestHeaders[lower] = v;
    }
    let body: Buffer | undefined;
    if (init?.body !== undefined) {
      body =
        init.bodyEncoding === 'base64'
          ? Buffer.from(init.body, 'base64')
          : Buffer.from(init.body, 'utf8');
      if (body.length > maxRequestBytes) {
        throw new HostCallError(
          'ERR_HOST_LIMIT',
          qualified,
          `the request body is ${body.length} bytes, more than ${maxRequestBytes}`,
        );
      }
      if (method === 'GET' || method === 'HEAD') {
        throw new HostCallError(
          'ERR_HOST_ARGUMENTS',
          qualified,
          `a ${method} request cannot have a body`,
        );
      }
    }
    let redirects = 0;
    for (;;) {
      const rule = check(url, method);
      let response: Response;
      try {
        response = await doFetch(url, {
          method,
          headers: { ...guestHeaders, ...rule.headers },
          ...(body === undefined ? {} : { body }),
          redirect: 'manual',
          signal: ctx.signal,
        });
      } catch (error) {
        if (ctx.signal.aborted) throw ctx.signal.reason;
        const cause = (error as { cause?: { code?: string; message?: string } }).cause;
        throw new Error(
          `${qualified}: the request to ${url.origin} failed: ${cause?.code ?? cause?.message ?? (error as Error).message}`,
        );
      }
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location !== null) {
        await response.body?.cancel();
        if (redirects >= maxRedirects) {
          throw new HostCallError(
            'ERR_HOST_LIMIT',
            qualified,
            `more than ${maxRedirects} redirects`,
          );
        }
        redirects++;
        url = new URL(location, url);
        if (
          response.status === 303 ||
          ((response.status === 301 || response.status === 302) && method === 'POST')
        ) {
          method = method === 'HEAD' ? 'HEAD' : 'GET';
          body = undefined;
        }
        continue;
      }
      const declared = Number(response.headers.get('content-length') ?? Number.NaN);
      if (declared > maxResponseBytes) {
        await response.body?.cancel();
        throw new HostCallError(
          'ERR_HOST_LIMIT',
          qualified,
          `the response is ${declared} bytes, more than ${maxResponseBytes}`,
        );
      }
      const chunks: Uint8Array[] = [];
      let total = 0;
      if (response.body) {
        const reader = response.body.getReader();
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            total += value.byteLength;
            if (total > maxResponseBytes) {
              await reader.cancel();
              throw new HostCallError(
                'ERR_HOST_LIMIT',
                qualified,
                `the response is more than ${maxResponseBytes} bytes`,
              );
            }
            chunks.push(value);
          }
        } catch (error) {
          if (ctx.signal.aborted) throw ctx.signal.reason;
          throw error;
        }
      }
      const bytes = Buffer.concat(chunks);
      const headers: Record<string, string> = {};
      response.headers.forEach((value, key) => {
        headers[key] = value;
      });
      return {
        status: response.status,
        statusText: response.statusText,
        url: url.href,
        redirected: redirects > 0,
        headers,
        body:
          init?.responseEncoding === 'base64' ? bytes.toString('base64') : bytes.toString('utf8'),
      };
    }
  };

  return defineHostModule(name, {
    fetch: hostFunction({
      args: [stringSchema, initSchema],
      params: ['url', 'init'],
      timeoutMs,
      description: `Makes an HTTP request to an allowed origin and returns { status, statusText, url, redirected, headers, body }.`,
      handler: (url, init, ctx) => run(url, init ?? undefined, ctx),
    }),
  }) as unknown as HostModuleDefinition<string, FetchFunctions>;
}
