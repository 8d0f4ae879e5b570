import { mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { lazyNativeClass } from '../src/lazy';
import {
  ERR_NO_NATIVE_BINDING,
  type LoadOptions,
  loadNativeBinding,
  NATIVE_PATH_ENV,
  NativeBindingError,
  platformTriple,
} from '../src/loader-entry';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const linuxGnu = { platform: 'linux', arch: 'x64', libc: 'glibc' } as const;
const ownVersion = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

/** A `require` that finds nothing, recording what it was asked for. */
function requireNothing(asked: string[] = []): (id: string) => never {
  return (id) => {
    asked.push(id);
    const error = new Error(`Cannot find module '${id}'`) as Error & { code: string };
    error.code = 'MODULE_NOT_FOUND';
    throw error;
  };
}

function emptyDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'hyperlight-loader-'));
}

function loadError(options: LoadOptions): NativeBindingError {
  try {
    loadNativeBinding(options);
  } catch (error) {
    expect(error).toBeInstanceOf(NativeBindingError);
    return error as NativeBindingError;
  }
  throw new Error('loadNativeBinding did not throw');
}

describe('platformTriple', () => {
  it('names platforms the napi-rs way', () => {
    expect(platformTriple(linuxGnu)).toBe('linux-x64-gnu');
    expect(platformTriple({ platform: 'linux', arch: 'arm64', libc: 'musl' })).toBe(
      'linux-arm64-musl',
    );
    expect(platformTriple({ platform: 'darwin', arch: 'arm64', libc: null })).toBe('darwin-arm64');
    expect(platformTriple({ platform: 'win32', arch: 'x64', libc: null })).toBe('win32-x64-msvc');
  });
});

describe('loadNativeBinding error path', () => {
  it('names the triple, the missing package and what to do on linux x64 glibc', () => {
    const asked: string[] = [];
    const error = loadError({
      platform: linuxGnu,
      env: {},
      require: requireNothing(asked),
    });
    expect(error.code).toBe(ERR_NO_NATIVE_BINDING);
    expect(error.code).toBe('ERR_NO_NATIVE_BINDING');
    expect(error.triple).toBe('linux-x64-gnu');
    expect(error.packageName).toBe('@hyperlight/js-host-api-linux-x64-gnu');
    expect(asked).toEqual([
      '@hyperlight/js-host-api-linux-x64-gnu/package.json',
      '@hyperlight/js-host-api-linux-x64-gnu',
      '@hyperlight/js-host-api-linux-x64-gnu/package.json',
    ]);
    expect(error.message).toContain('for linux-x64-gnu');
    expect(error.message).toContain(
      "package @hyperlight/js-host-api-linux-x64-gnu: Cannot find module '@hyperlight/js-host-api-linux-x64-gnu'",
    );
    expect(error.message).toContain('What to do:');
    expect(error.message).toContain('--omit=optional');
    expect(error.message).toContain(NATIVE_PATH_ENV);
    expect(error.attempts.map((a) => a.source)).toEqual(['package']);
    expect((error.cause as Error).message).toContain('Cannot find module');
  });

  it('tells an installed platform package without its binary from a missing one', () => {
    const error = loadError({
      platform: linuxGnu,
      env: {},
      require: (id) => {
        if (id.endsWith('/package.json')) return { name: id, version: ownVersion };
        return requireNothing()(`/somewhere/${id}/js-host-api.linux-x64-gnu.node`);
      },
    });
    expect(error.attempts).toHaveLength(1);
    expect(error.attempts[0]?.reason).toMatch(
      /^installed, but its binary did not load: Cannot find/,
    );
    expect(error.message).toContain(
      '@hyperlight/js-host-api-linux-x64-gnu is installed without a working binary',
    );
    expect(error.message).not.toContain('--omit=optional');
  });

  it('says an unsupported platform has no prebuilt binding and which ones do', () => {
    const asked: string[] = [];
    const error = loadError({
      platform: { platform: 'darwin', arch: 'arm64', libc: null },
      env: {},
      require: requireNothing(asked),
    });
    expect(error.code).toBe('ERR_NO_NATIVE_BINDING');
    expect(error.packageName).toBeNull();
    expect(asked).toEqual([]);
    expect(error.message).toContain('no native binding for darwin-arm64');
    expect(error.message).toContain('linux-x64-gnu (@hyperlight/js-host-api-linux-x64-gnu)');
    expect(error.message).toContain('run on Linux x64 with glibc and /dev/kvm');
  });

  it('treats musl as its own platform', () => {
    const error = loadError({
      platform: { platform: 'linux', arch: 'x64', libc: 'musl' },
      env: {},
      require: requireNothing(),
    });
    expect(error.triple).toBe('linux-x64-musl');
    expect(error.message).toContain('no native binding for linux-x64-musl');
  });

  it('tells Alpine (musl) users that no musl build exists and which image to use instead', () => {
    const error = loadError({
      platform: { platform: 'linux', arch: 'x64', libc: 'musl' },
      env: {},
      require: requireNothing(),
    });
    expect(error.code).toBe('ERR_NO_NATIVE_BINDING');
    expect(error.message).toContain('no musl build exists');
    expect(error.message).toContain('node:20-bookworm-slim');
    expect(error.message).not.toContain('run on Linux x64 with glibc and /dev/kvm, or build');
  });

  it('stops at a HYPERLIGHT_JS_NATIVE_PATH that does not load, naming it', () => {
    const asked: string[] = [];
    const missing = path.join(emptyDir(), 'nowhere.node');
    const error = loadError({
      platform: linuxGnu,
      env: { [NATIVE_PATH_ENV]: missing },
      require: (id) => {
        asked.push(id);
        return createRequire(import.meta.url)(id);
      },
    });
    expect(asked).toEqual([missing]);
    expect(error.code).toBe('ERR_NO_NATIVE_BINDING');
    expect(error.message).toContain(`that ${NATIVE_PATH_ENV} names, for linux-x64-gnu`);
    expect(error.message).toContain(`file ${missing}:`);
    expect(error.message).toContain('or unset it to use @hyperlight/js-host-api-linux-x64-gnu');
  });

  it('refuses a module that is not a binding', () => {
    const file = path.join(fixtures, 'not-a-binding.cjs');
    const error = loadError({ platform: linuxGnu, env: { [NATIVE_PATH_ENV]: file } });
    expect(error.attempts[0]?.reason).toContain('exports 42, not a native binding');
  });
});

describe('loadNativeBinding version skew', () => {
  it('refuses a platform package of another version, naming both versions and the fix', () => {
    const asked: string[] = [];
    const error = loadError({
      platform: linuxGnu,
      env: {},
      version: '0.1.0',
      require: (id) => {
        asked.push(id);
        if (id === '@hyperlight/js-host-api-linux-x64-gnu/package.json')
          return { version: '0.0.9' };
        return { SandboxBuilder: class {} };
      },
    });
    // The binary itself is never loaded.
    expect(asked).toEqual(['@hyperlight/js-host-api-linux-x64-gnu/package.json']);
    expect(error.code).toBe(ERR_NO_NATIVE_BINDING);
    expect(error.message).toContain('@hyperlight/js-host-api-linux-x64-gnu is version 0.0.9');
    expect(error.message).toContain('@hyperlight/js-host-api is version 0.1.0');
    expect(error.message).toContain('npm install @hyperlight/js-host-api@0.1.0');
    expect(error.attempts[0]?.reason).toContain('version 0.0.9 is installed');
  });

  it('loads a platform package of the same version, and checks against its own by default', () => {
    const binding = loadNativeBinding({
      platform: linuxGnu,
      env: {},
      require: (id) =>
        id.endsWith('/package.json') ? { version: ownVersion } : { SandboxBuilder: class {} },
    });
    expect(typeof binding.SandboxBuilder).toBe('function');
    // The real platform package of this checkout has this package's version.
    const require = createRequire(import.meta.url);
    expect(
      (require('@hyperlight/js-host-api-linux-x64-gnu/package.json') as { version: string })
        .version,
    ).toBe(ownVersion);
  });
});

describe('loadNativeBinding success path', () => {
  it('loads the file named by HYPERLIGHT_JS_NATIVE_PATH', () => {
    const file = path.join(fixtures, 'binding.cjs');
    const binding = loadNativeBinding({ platform: linuxGnu, env: { [NATIVE_PATH_ENV]: file } });
    expect(typeof binding.SandboxBuilder).toBe('function');
  });

  it('finds the platform package through optionalDependencies', () => {
    const require = createRequire(import.meta.url);
    const manifest = require('@hyperlight/js-host-api-linux-x64-gnu/package.json') as {
      main: string;
      os: string[];
      cpu: string[];
      libc: string[];
    };
    expect(manifest.main).toBe('js-host-api.linux-x64-gnu.node');
    expect([manifest.os, manifest.cpu, manifest.libc]).toEqual([['linux'], ['x64'], ['glibc']]);
    // And the loader, with the real `require` and no override, loads that package's binary.
    const asked: string[] = [];
    const binding = loadNativeBinding({
      platform: linuxGnu,
      env: {},
      require: (id) => {
        asked.push(id);
        return require(id);
      },
    });
    expect(asked).toContain('@hyperlight/js-host-api-linux-x64-gnu');
    expect(binding).toBe(require('@hyperlight/js-host-api-linux-x64-gnu'));
    expect(typeof binding.SandboxBuilder).toBe('function');
  });
});

describe('lazyNativeClass', () => {
  const fixtureBinding = () =>
    loadNativeBinding({
      platform: linuxGnu,
      env: { [NATIVE_PATH_ENV]: path.join(fixtures, 'binding.cjs') },
    });

  it('forwards construction, statics and instanceof to the real class', () => {
    const Lazy = lazyNativeClass('SandboxBuilder', fixtureBinding);
    const Real = fixtureBinding().SandboxBuilder as new (heap: number) => { heapSize: number };
    const builder = new Lazy(8 * 1024 * 1024) as { heapSize: number };
    expect(builder).toBeInstanceOf(Real);
    expect(builder).toBeInstanceOf(Lazy);
    expect(builder.heapSize).toBe(8 * 1024 * 1024);
    expect((Lazy as unknown as { flavour: string }).flavour).toBe('fixture');
    expect(Lazy.name).toBe('SandboxBuilder');
  });

  it('throws the loader error on first use when there is no binding', () => {
    const Lazy = lazyNativeClass('SandboxBuilder', () =>
      loadNativeBinding({
        platform: linuxGnu,
        env: {},
        require: requireNothing(),
      }),
    );
    expect(() => new Lazy()).toThrow(NativeBindingError);
    expect(() => new Lazy()).toThrow(/could not load its native binding for linux-x64-gnu/);
  });

  it('says so when the binding lacks the class', () => {
    const Lazy = lazyNativeClass('NoSuchClass', fixtureBinding);
    expect(() => new Lazy()).toThrow(/has no class NoSuchClass/);
  });
});
