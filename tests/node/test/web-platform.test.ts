import { ERR_CANCELLED } from '@hyperlight/js-host-api';
import { describe, expect, it } from 'vitest';
import { expectRejectCode, loadedSandbox } from './helpers';

/** Waits `event.ms` in the guest with a timer, then answers. */
const SLEEP = `async function handler(event) {
  await new Promise((resolve) => setTimeout(resolve, event.ms));
  return { slept: event.ms };
}`;

/**
 * Snippets run both in the guest and in this Node process: each is the body of a function
 * returning a JSON-serialisable value, and the two results must be equal.
 */
const SAME_AS_NODE: Record<string, string> = {
  url: `const u = new URL('../a b/c?x=1&y=é#frag', 'https://user:pw@EXAMPLE.com:443/p/q/');
        u.searchParams.append('z', '&=');
        return [u.href, u.origin, u.host, u.pathname, u.search, [...u.searchParams], URL.canParse('http://[::1]:80/')];`,
  urlSearchParams: `const p = new URLSearchParams([['b', '2'], ['a', '1'], ['b', '1']]);
        p.sort();
        return [p.toString(), p.getAll('b'), p.size, new URLSearchParams({ k: 'v w' }).toString()];`,
  structuredClone: `const src = { d: new Date(5), m: new Map([[1, [2]]]), s: new Set(['x']), r: /x/y, b: new Uint16Array([1, 2]) };
        src.self = src;
        const c = structuredClone(src);
        let err;
        try { structuredClone({ f() {} }); } catch (e) { err = [e.name, e.code]; }
        return [c.self === c, c.d.getTime(), [...c.m], [...c.s], c.r.flags, [...c.b], err];`,
  textDecoderStream: `const bytes = new TextEncoder().encode('a€😀');
        const d = new TextDecoder();
        let out = '';
        for (const b of bytes) out += d.decode(new Uint8Array([b]), { stream: true });
        return [out + d.decode(), bytes.length];`,
  domExceptions: `const names = [];
        for (const f of [() => crypto.getRandomValues(new Uint8Array(70000)), () => crypto.getRandomValues(new Float32Array(1))]) {
          try { f(); } catch (e) { names.push([e.name, e.code, e instanceof DOMException]); }
        }
        return names;`,
};

const SUBTLE = `const enc = new TextEncoder();
  const hex = (b) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, '0')).join('');
  const key = await crypto.subtle.importKey('raw', enc.encode('k'), { name: 'HMAC', hash: 'SHA-512' }, true, ['sign', 'verify']);
  const sig = await crypto.subtle.sign('HMAC', key, enc.encode('data'));
  const aes = await crypto.subtle.importKey('jwk', { kty: 'oct', k: 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8', alg: 'A256GCM' }, 'AES-GCM', false, ['encrypt', 'decrypt']);
  const iv = new Uint8Array(12).fill(9);
  const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, tagLength: 96 }, aes, enc.encode('hello'));
  const pt = await crypto.subtle.decrypt({ name: 'AES-GCM', iv, tagLength: 96 }, aes, ct);
  return [hex(await crypto.subtle.digest('SHA-384', enc.encode('x'))), hex(sig),
          await crypto.subtle.verify('HMAC', key, sig, enc.encode('data')), hex(ct), new TextDecoder().decode(pt),
          (await crypto.subtle.exportKey('jwk', key)).k];`;

describe('web platform APIs in the guest', () => {
  it('give what Node gives for the same code', async () => {
    const handlers: Record<string, string> = {};
    for (const [name, body] of Object.entries(SAME_AS_NODE)) {
      handlers[name] = `function handler() { ${body} }`;
    }
    handlers.subtle = `async function handler() { ${SUBTLE} }`;
    const loaded = await loadedSandbox(handlers);
    for (const [name, body] of Object.entries(SAME_AS_NODE)) {
      const inNode = JSON.parse(JSON.stringify(new Function(body)()));
      expect(await loaded.callHandler(name, {}), name).toEqual(inNode);
    }
    const AsyncFunction = (async () => {}).constructor as new (
      body: string,
    ) => () => Promise<unknown>;
    const subtleInNode = await new AsyncFunction(SUBTLE)();
    expect(await loaded.callHandler('subtle', {})).toEqual(subtleInNode);
    await loaded[Symbol.asyncDispose]();
  });

  it('a guest timer waits without CPU time and without blocking the Node event loop', async () => {
    const loaded = await loadedSandbox({ sleep: SLEEP });
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    // 300 ms of waiting fits a 100 ms CPU budget.
    expect(await loaded.callHandler('sleep', { ms: 300 }, { cpuTimeoutMs: 100 })).toEqual({
      slept: 300,
    });
    clearInterval(ticker);
    expect(ticks).toBeGreaterThan(0);
    expect(loaded.lastCallStats?.terminatedBy).toBeNull();
    await loaded[Symbol.asyncDispose]();
  });

  it('timers work in back-to-back calls (the warm path) and do not outlive a call', async () => {
    const loaded = await loadedSandbox({
      tick: `let fired = 0;
        async function handler(event) {
          setTimeout(() => fired++, 1000);
          await new Promise((resolve) => setTimeout(resolve, event.ms));
          return { i: event.i, fired };
        }`,
    });
    const results = [];
    for (let i = 0; i < 20; i++) results.push(await loaded.callHandler('tick', { i, ms: 2 }));
    expect(results).toEqual(Array.from({ length: 20 }, (_, i) => ({ i, fired: 0 })));
    await loaded[Symbol.asyncDispose]();
  });

  it('the wall-clock timeout ends a timer wait; a smaller CPU budget never fires', async () => {
    const loaded = await loadedSandbox({ sleep: SLEEP });
    // A minute of waiting (longer than the test's own timeout: only the kill can end it in time).
    const error = await expectRejectCode(
      loaded.callHandler('sleep', { ms: 60_000 }, { wallClockTimeoutMs: 300, cpuTimeoutMs: 100 }),
      ERR_CANCELLED,
    );
    expect(error.terminatedBy).toBe('wall-clock');
    await loaded[Symbol.asyncDispose]();
  });

  it('an AbortSignal ends a timer wait politely: the sandbox stays usable', async () => {
    const loaded = await loadedSandbox({ sleep: SLEEP });
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 100);
    const error = await expectRejectCode(
      loaded.callHandler(
        'sleep',
        { ms: 60_000 },
        { signal: controller.signal, abortGracePeriodMs: 60_000 },
      ),
      ERR_CANCELLED,
    );
    clearTimeout(timer);
    expect(error.terminatedBy).toBe('abort');
    expect(loaded.poisoned).toBe(false);
    expect(await loaded.callHandler('sleep', { ms: 1 })).toEqual({ slept: 1 });
    await loaded[Symbol.asyncDispose]();
  });
});
