import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SandboxBuilder } from '@hyperlight/js-host-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchModule, HostCallError, HostModuleDefinitionError } from '../src/index';

// A real HTTP server on 127.0.0.1, started by the test; a second one stands for a forbidden origin.

type Route = (req: IncomingMessage, res: ServerResponse, body: string) => void;
const routes = new Map<string, Route>();
const closed: string[] = [];
let server: Server;
let other: Server;
let origin = '';
let otherOrigin = '';

function listen(s: Server): Promise<string> {
  return new Promise((resolve) =>
    s.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(s.address() as AddressInfo).port}`),
    ),
  );
}

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      const route = routes.get(new URL(req.url ?? '/', origin).pathname);
      if (!route) {
        res.writeHead(404).end('not found');
        return;
      }
      route(req, res, body);
    });
    res.on('close', () => closed.push(req.url ?? ''));
  });
  other = createServer((_req, res) => res.end('other'));
  origin = await listen(server);
  otherOrigin = await listen(other);
  routes.set('/echo', (req, res, body) => {
    res.setHeader('content-type', 'application/json');
    res.setHeader('x-multi', ['a', 'b']);
    res.end(
      JSON.stringify({
        method: req.method,
        body,
        auth: req.headers.authorization ?? null,
        custom: req.headers['x-custom'] ?? null,
      }),
    );
  });
  routes.set('/redirect-same', (_req, res) => res.writeHead(302, { location: '/echo' }).end());
  routes.set('/redirect-see-other', (_req, res) => res.writeHead(303, { location: '/echo' }).end());
  routes.set('/redirect-away', (_req, res) =>
    res.writeHead(302, { location: `${otherOrigin}/` }).end(),
  );
  routes.set('/loop', (_req, res) => res.writeHead(302, { location: '/loop' }).end());
  routes.set('/big', (_req, res) => res.end('x'.repeat(4096)));
  routes.set('/big-chunked', (_req, res) => {
    res.write('y'.repeat(3000));
    setTimeout(() => res.end('y'.repeat(3000)), 10);
  });
  routes.set('/binary', (_req, res) => res.end(Buffer.from([0, 255, 1, 254])));
  routes.set('/hang', () => {});
});

afterAll(async () => {
  server.closeAllConnections();
  other.closeAllConnections();
  await Promise.all([new Promise((r) => server.close(r)), new Promise((r) => other.close(r))]);
});

async function rejection(promise: Promise<unknown>): Promise<HostCallError> {
  try {
    await promise;
  } catch (error) {
    return error as HostCallError;
  }
  throw new Error('expected a rejection');
}

function http(extra: Partial<Parameters<typeof fetchModule>[0]> = {}) {
  return fetchModule({
    allow: [{ origin, methods: ['GET', 'POST'], headers: { authorization: 'Bearer host-secret' } }],
    maxResponseBytes: 1024,
    maxRequestBytes: 64,
    timeoutMs: 300,
    ...extra,
  });
}

describe('fetchModule against a real HTTP server', () => {
  it('GET: status, lower-case headers, body; the rule’s headers are added and win', async () => {
    const res = (await http().invoke('fetch', [
      `${origin}/echo`,
      { headers: { Authorization: 'guest', 'X-Custom': 'c' } },
    ])) as {
      status: number;
      headers: Record<string, string>;
      body: string;
      redirected: boolean;
      url: string;
    };
    expect(res.status).toBe(200);
    expect(res.redirected).toBe(false);
    expect(res.url).toBe(`${origin}/echo`);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['x-multi']).toBe('a, b');
    expect(JSON.parse(res.body)).toEqual({
      method: 'GET',
      body: '',
      auth: 'Bearer host-secret',
      custom: 'c',
    });
  });

  it('POST with a body; base64 in and out', async () => {
    const res = (await http().invoke('fetch', [
      `${origin}/echo`,
      { method: 'post', body: Buffer.from('héllo').toString('base64'), bodyEncoding: 'base64' },
    ])) as { body: string };
    expect(JSON.parse(res.body)).toMatchObject({ method: 'POST', body: 'héllo' });
    const bin = (await http().invoke('fetch', [
      `${origin}/binary`,
      { responseEncoding: 'base64' },
    ])) as { body: string };
    expect(Buffer.from(bin.body, 'base64')).toEqual(Buffer.from([0, 255, 1, 254]));
  });

  it('follows redirects inside the allow-list (303 turns POST into GET)', async () => {
    const res = (await http().invoke('fetch', [
      `${origin}/redirect-see-other`,
      { method: 'POST', body: 'x' },
    ])) as {
      body: string;
      redirected: boolean;
      url: string;
    };
    expect(res.redirected).toBe(true);
    expect(res.url).toBe(`${origin}/echo`);
    expect(JSON.parse(res.body)).toMatchObject({ method: 'GET', body: '' });
    expect((await http().invoke('fetch', [`${origin}/redirect-same`])) as object).toMatchObject({
      status: 200,
    });
  });

  it.each([
    ['another origin', () => [`${otherOrigin}/`], `the origin ${'OTHER'} is not allowed`],
    [
      'a method not allowed',
      () => [`${origin}/echo`, { method: 'DELETE' }],
      'DELETE is not allowed for',
    ],
    ['a redirect to another origin', () => [`${origin}/redirect-away`], 'is not allowed'],
    ['a file: URL', () => ['file:///etc/passwd'], 'file: URLs are not allowed'],
    [
      'credentials in the URL',
      () => [`http://user:pw@${origin.slice(7)}/echo`],
      'URLs with credentials are not allowed',
    ],
    [
      'a connection header',
      () => [`${origin}/echo`, { headers: { Host: 'evil' } }],
      'the header host is set by the host',
    ],
  ])('refuses %s with ERR_HOST_DENIED', async (_what, args, message) => {
    const error = await rejection(http().invoke('fetch', args()));
    expect(error).toBeInstanceOf(HostCallError);
    expect(error.code).toBe('ERR_HOST_DENIED');
    expect(error.message).toContain(message.replace('OTHER', otherOrigin));
  });

  it.each([
    ['a large response (content-length)', [`/big`], 'the response is 4096 bytes, more than 1024'],
    ['a large chunked response', [`/big-chunked`], 'the response is more than 1024 bytes'],
    ['a redirect loop', [`/loop`], 'more than 5 redirects'],
  ])('stops %s with ERR_HOST_LIMIT', async (_what, [path], message) => {
    const error = await rejection(http().invoke('fetch', [`${origin}${path}`]));
    expect(error.code).toBe('ERR_HOST_LIMIT');
    expect(error.message).toContain(message);
  });

  it('refuses a request body over the limit, and a body on GET', async () => {
    const big = await rejection(
      http().invoke('fetch', [`${origin}/echo`, { method: 'POST', body: 'z'.repeat(65) }]),
    );
    expect(big.code).toBe('ERR_HOST_LIMIT');
    expect(big.message).toContain('the request body is 65 bytes, more than 64');
    const get = await rejection(http().invoke('fetch', [`${origin}/echo`, { body: 'x' }]));
    expect(get.code).toBe('ERR_HOST_ARGUMENTS');
  });

  it('times out (ERR_HOST_TIMEOUT) and aborts the request', async () => {
    const error = await rejection(http({ timeoutMs: 100 }).invoke('fetch', [`${origin}/hang`]));
    expect(error.code).toBe('ERR_HOST_TIMEOUT');
    expect(error.message).toBe('host:fetch.fetch: did not finish within 100 ms (ERR_HOST_TIMEOUT)');
    await expect.poll(() => closed.includes('/hang')).toBe(true);
  });

  it('reports a network failure with the host’s reason', async () => {
    const dead = createServer();
    const deadOrigin = await listen(dead);
    await new Promise((r) => dead.close(r));
    const error = await rejection(
      fetchModule({ allow: [deadOrigin] }).invoke('fetch', [`${deadOrigin}/`]),
    );
    expect(error.message).toBe(
      `host:fetch.fetch: the request to ${deadOrigin} failed: ECONNREFUSED`,
    );
  });

  it('validates the guest’s arguments', async () => {
    const notUrl = await rejection(http().invoke('fetch', ['/relative']));
    expect(notUrl.code).toBe('ERR_HOST_ARGUMENTS');
    expect(notUrl.message).toContain('not an absolute URL');
    const bad = await rejection(
      http().invoke('fetch', [
        `${origin}/echo`,
        { method: 1, headers: { a: 1 }, body: {}, bodyEncoding: 'hex', extra: true },
      ]),
    );
    expect(bad.code).toBe('ERR_HOST_ARGUMENTS');
    expect(bad.issues.map((i) => i.path)).toEqual([
      [1, 'extra'],
      [1, 'method'],
      [1, 'headers'],
      [1, 'body'],
      [1, 'bodyEncoding'],
    ]);
    expect((await rejection(http().invoke('fetch', [42]))).code).toBe('ERR_HOST_ARGUMENTS');
  });

  it.each([
    [{}],
    [{ allow: [] }],
    [{ allow: ['not a url'] }],
    [{ allow: ['ftp://example.com'] }],
    [{ allow: ['https://example.com/path'] }],
    [{ allow: ['https://u:p@example.com'] }],
    [{ allow: [{ origin: 'https://example.com', methods: ['get'] }] }],
    [{ allow: [{ origin: 'https://example.com', headers: { a: 1 } }] }],
    [{ allow: [{ origin: 'https://example.com', extra: 1 }] }],
    [{ allow: [42] }],
    [{ allow: ['https://example.com'], maxResponseBytes: 0 }],
    [{ allow: ['https://example.com'], maxRedirects: 21 }],
    [{ allow: ['https://example.com'], timeoutMs: -5 }],
    [{ allow: ['https://example.com'], fetch: 'no' }],
    [{ allow: ['https://example.com'], proxy: 'x' }],
  ])('refuses the options %j with ERR_INVALID_ARG', (options) => {
    expect(() => fetchModule(options as never)).toThrow(HostModuleDefinitionError);
  });

  it('maxRedirects: 0 returns the redirect to the guest', async () => {
    const m = fetchModule({ allow: [origin], maxRedirects: 0 });
    const error = await rejection(m.invoke('fetch', [`${origin}/redirect-same`]));
    expect(error.message).toContain('more than 0 redirects');
  });

  it('in a micro-VM: the guest fetches synchronously and catches refusals', async () => {
    const proto = await new SandboxBuilder().build();
    http().install(proto);
    const sandbox = await proto.loadRuntime();
    sandbox.addHandler(
      'handler',
      `import { fetch } from 'host:fetch';
       function handler(event) {
         const ok = fetch(event.origin + '/echo', { method: 'POST', body: 'from the guest' });
         let denied;
         try { fetch(event.other); } catch (e) { denied = e.message; }
         return { status: ok.status, echo: JSON.parse(ok.body), denied };
       }`,
    );
    const loaded = await sandbox.getLoadedSandbox();
    try {
      const result = await loaded.callHandler('handler', { origin, other: otherOrigin });
      expect(result).toEqual({
        status: 200,
        echo: { method: 'POST', body: 'from the guest', auth: 'Bearer host-secret', custom: null },
        denied: `host:fetch.fetch: the origin ${otherOrigin} is not allowed (ERR_HOST_DENIED)`,
      });
    } finally {
      await loaded[Symbol.asyncDispose]();
    }
  });
});
