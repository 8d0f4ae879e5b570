import { ERR_HANDLER, isHyperlightError } from '@hyperlight/js-host-api';
import { describe, expect, it } from 'vitest';
import { bundle, createStackMapper, GUEST_TARGET } from '../src/index';
import { loadTypeScript } from '../src/typescript';
import { bundleError, fixture, loadBundle } from './helpers';

const basic = fixture('basic');
const broken = fixture('broken');

describe('bundle() into real micro-VMs', () => {
  it('bundles npm dependencies and runs in the guest; a dependency’s own `handler` does not clash', async () => {
    const out = await bundle({ root: basic, handlers: { greet: 'src/greet.ts' } });
    const greet = out.handlers.greet;
    expect(greet?.entry).toBe('src/greet.ts');
    expect(greet?.code).not.toMatch(/^import .*valibot/m);
    expect(greet?.inputs.map((i) => i.path).some((p) => p.includes('valibot'))).toBe(true);
    expect(out.sources.greet).toBe(greet?.code);
    const loaded = await loadBundle(out);
    try {
      expect(await loaded.callHandler('greet', { name: 'Ada', times: 2 })).toEqual({
        message: 'Hello, Ada!Hello, Ada!',
        doubled: 4,
        at: '1970-01-01T00:00:00.000Z',
      });
      const error = await loaded.callHandler('greet', { name: '' }).catch((e: unknown) => e);
      expect(isHyperlightError(error, ERR_HANDLER)).toBe(true);
      expect((error as { guestName: string }).guestName).toBe('ValiError');
    } finally {
      await loaded[Symbol.asyncDispose]();
    }
  }, 60_000);

  it('minified output runs the same', async () => {
    const out = await bundle({
      root: basic,
      handlers: { greet: 'src/greet.ts' },
      minify: true,
      declaration: false,
    });
    expect(out.declaration).toBeNull();
    const plain = await bundle({
      root: basic,
      handlers: { greet: 'src/greet.ts' },
      declaration: false,
    });
    expect(out.handlers.greet?.bytes).toBeLessThan(plain.handlers.greet?.bytes ?? 0);
    const loaded = await loadBundle(out);
    try {
      expect((await loaded.callHandler<{ message: string }>('greet', { name: 'Bo' })).message).toBe(
        'Hello, Bo!',
      );
    } finally {
      await loaded[Symbol.asyncDispose]();
    }
  }, 60_000);

  it('leaves host:*, user:*, crypto and `external` imports to the guest', async () => {
    const out = await bundle({
      root: basic,
      handlers: { modules: 'src/modules.ts', fail: 'src/fail.ts' },
      external: ['mylib:*'],
    });
    expect(out.handlers.modules?.code).toContain('from "host:db"');
    expect(out.handlers.modules?.code).toContain('from "user:strings"');
    expect(out.handlers.modules?.code).toContain('from "mylib:tags"');
    expect(out.handlers.fail?.code).toContain('from "crypto"');
    expect(out.handlers.modules?.code).toContain('from "util"');
    const loaded = await loadBundle(
      out,
      (proto) => proto.register('db', 'get', (id: string) => ({ name: `user ${id}` })),
      {
        strings: ['export const shout = (s) => s.toUpperCase() + "!";'],
        tags: ['export const tag = () => "t1";', 'mylib'],
      },
    );
    try {
      expect(await loaded.callHandler('modules', { id: 'ab' })).toEqual({
        user: { name: 'user ab' },
        loud: 'AB!',
        tag: 't1',
        formatted: 'n=1',
      });
    } finally {
      await loaded[Symbol.asyncDispose]();
    }
  }, 60_000);

  it('maps a guest stack back to the TypeScript source', async () => {
    for (const minify of [false, true]) {
      const out = await bundle({
        root: basic,
        handlers: { fail: 'src/fail.ts' },
        minify,
        declaration: false,
      });
      const loaded = await loadBundle(out);
      try {
        const error = (await loaded
          .callHandler('fail', { input: 'x' })
          .catch((e: unknown) => e)) as {
          guestName: string;
          guestStack: string;
        };
        expect(error.guestName).toBe('RangeError');
        expect(error.guestStack).toMatch(/handler\/fail:\d+:\d+/);
        const mapped = createStackMapper(out)(error.guestStack);
        const frames = mapped.split('\n').filter((l) => l.includes('src/fail.ts'));
        // deep() throws on line 6; handler() calls deep() on line 10.
        expect(frames[0]).toMatch(/src\/fail\.ts:6:\d+/);
        expect(frames[1]).toMatch(/src\/fail\.ts:10:\d+/);
        if (!minify) {
          // esbuild renamed the entry's `handler` (the guest's binding is the bundler's glue): the
          // frame gets its original name back, and the glue's own frame is dropped.
          expect(error.guestStack).toMatch(/at handler2 \(handler\/fail:/);
          expect(frames[1]).toMatch(/^ {4}at handler \(src\/fail\.ts:10:\d+\)$/);
        }
        expect(mapped).not.toContain('handler/fail');
        expect(createStackMapper(out, { sourceRoot: '/project/' })(error.guestStack)).toContain(
          '/project/src/fail.ts:6:',
        );
        // Raw maps (JSON text or parsed) by routing key work the same; other frames are kept.
        const raw = out.handlers.fail?.map as string;
        expect(createStackMapper({ fail: raw })(error.guestStack)).toBe(mapped);
        expect(createStackMapper({ fail: JSON.parse(raw) })(error.guestStack)).toBe(mapped);
        expect(createStackMapper({ other: raw })(error.guestStack)).toBe(error.guestStack);
      } finally {
        await loaded[Symbol.asyncDispose]();
      }
    }
  }, 60_000);
});

describe('the handler-map declaration and size report', () => {
  it('inlines the event and result types as they cross JSON', async () => {
    const out = await bundle({
      root: basic,
      handlers: { greet: 'src/greet.ts', fail: 'src/fail.ts', 'a-b': 'src/modules.ts' },
      external: ['mylib:*'],
    });
    expect(out.declaration).toBe(
      [
        '// Generated by @hyperlight/bundler from the handler entries: the event and result of each',
        "// handler as they cross JSON. For @hyperlight/sandbox's typed call(name, event).",
        'export interface Handlers {',
        '  /** src/greet.ts */',
        '  greet(event: { name: string; times?: number }): { message: string; doubled: number; at: string; note?: string };',
        '  /** src/fail.ts */',
        '  fail(event: { input: string }): string;',
        '  /** src/modules.ts */',
        '  "a-b"(event: { id: string }): { user: { name: string } | null; loud: string; tag: string; formatted: string };',
        '}',
        '',
      ].join('\n'),
    );
    expect(out.sizeReport.split('\n')[0]).toMatch(/^handler\s+size\s+gzip\s+largest inputs$/);
    expect(out.sizeReport).toMatch(
      /\ngreet\s+\d+\.\d KiB\s+\d+\.\d KiB\s+valibot\/dist\/index\.mjs/,
    );
  }, 60_000);

  it('JSON edge cases: collections, functions in tuples, recursion, bigint, Date, template keys', async () => {
    const out = await bundle({ root: basic, handlers: { shapes: 'src/shapes.ts' } });
    const line = out.declaration?.split('\n').find((l) => l.includes('shapes(event'));
    expect(line?.trim()).toBe(
      'shapes(event: { ids: Record<string, never> | null }): { env?: string; map: Record<string, never>; tuple: [number, null, (string | null)?]; list: { value: number; next?: unknown }; when: string | null; nested: { deeper: { flag: boolean } }[] };',
    );
    // process.env.NODE_ENV is defined as "production" (npm libraries read it; the guest has no process).
    const loaded = await loadBundle(out);
    try {
      const result = await loaded.callHandler('shapes', { ids: null });
      expect(result).toMatchObject({
        env: 'production',
        map: {},
        tuple: [1, null, 'none'],
        when: null,
      });
    } finally {
      await loaded[Symbol.asyncDispose]();
    }
  }, 60_000);

  it('a custom interface name', async () => {
    const out = await bundle({
      root: basic,
      handlers: { fail: 'src/fail.ts' },
      interfaceName: 'GuestHandlers',
    });
    expect(out.declaration).toContain('export interface GuestHandlers {');
  }, 60_000);
});

describe('build errors', () => {
  it('a Node built-in the guest lacks is an error naming the importer', async () => {
    const error = await bundleError(bundle({ root: broken, handlers: { read: 'src/uses-fs.ts' } }));
    expect(error.code).toBe('ERR_BUNDLE_BUILD');
    expect(error.message).toContain('bundle(): the handler "read" (src/uses-fs.ts) did not build');
    expect(error.diagnostics[0]).toMatchObject({
      file: 'src/lib/reads-files.ts',
      line: 1,
      column: 30,
    });
    expect(error.diagnostics[0]?.message).toContain(
      'src/lib/reads-files.ts imports "node:fs", a Node.js built-in module the guest does not have',
    );
    const child = await bundleError(bundle({ root: broken, handlers: { child: 'src/child.ts' } }));
    expect(child.message).toContain('src/child.ts imports "child_process"');
  });

  it('a syntax error or a missing module names the file, line and column', async () => {
    const syntax = await bundleError(bundle({ root: broken, handlers: { s: 'src/syntax.ts' } }));
    expect(syntax.code).toBe('ERR_BUNDLE_BUILD');
    expect(syntax.diagnostics[0]).toMatchObject({ file: 'src/syntax.ts', line: 2 });
    expect(syntax.message).toMatch(/\n {2}src\/syntax\.ts:2:\d+: Expected "}" but found ";"/);
    const missing = await bundleError(bundle({ root: broken, handlers: { m: 'src/missing.ts' } }));
    expect(missing.diagnostics[0]?.message).toContain('Could not resolve "./does-not-exist"');
  });

  it('an entry without a handler export', async () => {
    const error = await bundleError(bundle({ root: broken, handlers: { n: 'src/no-handler.ts' } }));
    expect(error.code).toBe('ERR_BUNDLE_NO_HANDLER');
    expect(error.message).toBe(
      'bundle(): src/no-handler.ts (handler "n") exports neither a default function nor a function named handler',
    );
  });

  it('a handler over maxBytes, with the size report', async () => {
    const error = await bundleError(
      bundle({ root: basic, handlers: { greet: 'src/greet.ts' }, maxBytes: 1000 }),
    );
    expect(error.code).toBe('ERR_BUNDLE_TOO_LARGE');
    expect(error.message).toMatch(
      /^bundle\(\): the handler "greet" is \d+ bytes, more than maxBytes \(1000\)\nhandler/,
    );
    expect(error.message).toContain('(over the limit of 1000 B)');
  });

  it.each([
    [null, 'takes an options object'],
    [{ handlers: {}, root: '.' }, 'at least one routing key'],
    [{ handlers: { a: 1 } }, 'must be a file path'],
    [{ handlers: { '': 'x' } }, 'must be 1-256 characters'],
    [{ handlers: { a: 'src/nope.ts' } }, 'does not exist: src/nope.ts'],
    [{ handlers: { a: 'src/greet.ts' }, root: '/nonexistent-root' }, 'root is not a folder'],
    [{ handlers: { a: 'src/greet.ts' }, maxBytes: 0 }, 'maxBytes must be a positive integer'],
    [{ handlers: { a: 'src/greet.ts' }, external: [''] }, 'external must be an array'],
    [{ handlers: { a: 'src/greet.ts' }, define: { x: 1 } }, 'define must be an object'],
    [{ handlers: { a: 'src/greet.ts' }, minify: 'yes' }, 'minify must be a boolean'],
    [{ handlers: { a: 'src/greet.ts' }, declaration: 'maybe' }, 'declaration must be'],
    [{ handlers: { a: 'src/greet.ts' }, interfaceName: 'not valid' }, 'interfaceName must be'],
    [{ handlers: { a: 'src/greet.ts' }, tsconfig: 'nope.json' }, 'tsconfig not found'],
    [{ handlers: { a: 'src/greet.ts' }, sourcemap: false }, 'unknown option "sourcemap"'],
  ])('refuses %j with ERR_INVALID_ARG', async (options, message) => {
    const withRoot =
      options && typeof options === 'object' && !('root' in options)
        ? { root: basic, ...options }
        : options;
    const error = await bundleError(bundle(withRoot as never));
    expect(error.code).toBe('ERR_INVALID_ARG');
    expect(error.message).toContain(message);
  });

  it('without the typescript package: ERR_BUNDLE_NO_TYPESCRIPT', async () => {
    const error = await bundleError(
      loadTypeScript('type checking', () =>
        Promise.reject(new Error("Cannot find package 'typescript'")),
      ),
    );
    expect(error.code).toBe('ERR_BUNDLE_NO_TYPESCRIPT');
    expect(error.message).toBe(
      'type checking needs the typescript package: install it (npm install --save-dev typescript@5)',
    );
  });

  it('with TypeScript 7 (no compiler API, only `version`): ERR_BUNDLE_NO_TYPESCRIPT', async () => {
    for (const fake of [
      { version: '7.0.2' },
      { default: { version: '7.0.2' }, version: '7.0.2' },
    ]) {
      const error = await bundleError(loadTypeScript('type checking', () => Promise.resolve(fake)));
      expect(error.code).toBe('ERR_BUNDLE_NO_TYPESCRIPT');
      expect(error.message).toContain('installed typescript 7.0.2');
      expect(error.message).toContain('npm install --save-dev typescript@5');
    }
  });

  it('loads the real compiler API (ESM namespace or default export)', async () => {
    const real = await import('typescript');
    const ts = await loadTypeScript('type checking', () => Promise.resolve(real));
    expect(typeof ts.createProgram).toBe('function');
    expect(ts.version.startsWith('5.')).toBe(true);
  });
});

describe('typecheck', () => {
  it('passes a correct project (host-module declarations from its .d.ts files)', async () => {
    const out = await bundle({
      root: basic,
      handlers: { greet: 'src/greet.ts', modules: 'src/modules.ts' },
      external: ['mylib:*'],
      typecheck: true,
    });
    expect(Object.keys(out.handlers)).toEqual(['greet', 'modules']);
  }, 60_000);

  it('lists every error: what the guest lacks (Buffer, process) and wrong calls', async () => {
    const error = await bundleError(
      bundle({ root: broken, handlers: { a: 'src/ambient.ts' }, typecheck: true }),
    );
    expect(error.code).toBe('ERR_BUNDLE_TYPECHECK');
    expect(error.message).toMatch(/^type checking found 3 errors\n/);
    expect(error.diagnostics.map((d) => [d.file, d.line])).toEqual([
      ['src/ambient.ts', 2],
      ['src/ambient.ts', 3],
      ['src/ambient.ts', 3],
    ]);
    expect(error.message).toContain(
      "src/ambient.ts:2:14: TS2591: Cannot find name 'Buffer': the guest is not Node.js and has no Buffer",
    );
    expect(error.message).toContain(
      "src/ambient.ts:3:18: TS2591: Cannot find name 'process': the guest",
    );
    expect(error.message).toContain('TS2554: Expected 0 arguments, but got 1.');
  }, 60_000);
});

it('createStackMapper refuses a map that is neither JSON text nor an object', () => {
  expect(() => createStackMapper({ a: 42 as never })).toThrow(
    'the source map of "a" must be JSON text or an object',
  );
});

it('GUEST_TARGET is the guest engine’s language level', () => {
  expect(GUEST_TARGET).toBe('es2023');
});
