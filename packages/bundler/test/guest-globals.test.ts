import { readFileSync } from 'node:fs';
import { SandboxBuilder } from '@hyperlight/js-host-api';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { GUEST_GLOBALS_DTS } from '../src/index';

// guest-globals.d.ts against a real guest: what it declares exists, what the guest has is
// declared, and Node.js's globals are neither in the guest nor in the types.

/** Globals of Node.js (and browsers) that the guest does not have and must not be typed. */
const ABSENT = [
  'process',
  'module',
  'exports',
  'Buffer',
  '__dirname',
  '__filename',
  'global',
  'setImmediate',
  'window',
  'document',
  'XMLHttpRequest',
  'WebAssembly',
];

let guestGlobals: string[] = [];
let guestMembers: Record<string, string> = {};
let guestCrypto: string[] = [];
let guestUtil: string[] = [];
let guestModules: Record<string, string[]> = {};
let typed: Set<string> = new Set();
let declaredMembers: string[] = [];
let missingMembers: string[] = [];

beforeAll(async () => {
  const proto = await new SandboxBuilder().build();
  const sandbox = await proto.loadRuntime();
  sandbox.addHandler(
    'globals',
    `import * as crypto from 'crypto';
     import * as util from 'util';
     import * as consoleModule from 'console';
     import * as io from 'io';
     import * as requireModule from 'require';
     import * as vm from 'vm';
     function handler(event) {
       const members = {};
       for (const path of event.members) {
         let v = globalThis;
         for (const k of path.split('.')) v = v == null ? undefined : v[k];
         members[path] = typeof v;
       }
       return { names: Object.getOwnPropertyNames(globalThis), members, crypto: Object.keys(crypto), util: Object.keys(util),
         modules: { console: Object.keys(consoleModule), io: Object.keys(io), require: Object.keys(requireModule), vm: Object.keys(vm) } };
     }`,
  );
  const loaded = await sandbox.getLoadedSandbox();
  try {
    const result = await loaded.callHandler<{
      names: string[];
      members: Record<string, string>;
      crypto: string[];
      util: string[];
      modules: Record<string, string[]>;
    }>('globals', {
      members: ['Atomics.waitAsync', 'Intl', 'fetch', 'setTimeout', 'structuredClone', 'URL'],
    });
    guestGlobals = result.names;
    guestMembers = result.members;
    guestCrypto = result.crypto;
    guestUtil = result.util;
    guestModules = result.modules;
  } finally {
    await loaded[Symbol.asyncDispose]();
  }
  typed = typedGlobals();
  declaredMembers = membersDeclaredHere();
  // Every member declared here, looked up in a second sandbox (instance members on the prototype).
  const proto2 = await new SandboxBuilder().build();
  const sandbox2 = await proto2.loadRuntime();
  sandbox2.addHandler(
    'members',
    `function handler(paths) {
       return paths.filter((path) => {
         const [name, kind, member] = path.split(' ');
         const g = globalThis[name];
         if (g == null) return true;
         const target = kind === 'instance' ? g.prototype : g;
         return target == null || !(member in target);
       });
     }`,
  );
  const loaded2 = await sandbox2.getLoadedSandbox();
  try {
    missingMembers = await loaded2.callHandler('members', declaredMembers);
  } finally {
    await loaded2[Symbol.asyncDispose]();
  }
}, 120_000);

/**
 * \`<global> static|instance <member>\` for every member this file declares on its own globals:
 * the value's properties, and for a class the properties of its instances.
 */
function membersDeclaredHere(): string[] {
  const program = ts.createProgram({
    rootNames: [GUEST_GLOBALS_DTS],
    options: { lib: ['lib.es2023.d.ts'], types: [], noEmit: true },
  });
  const checker = program.getTypeChecker();
  const file = program.getSourceFile(GUEST_GLOBALS_DTS) as ts.SourceFile;
  const out: string[] = [];
  for (const statement of file.statements) {
    if (!ts.isVariableStatement(statement)) continue;
    for (const d of statement.declarationList.declarations) {
      const name = d.name.getText(file);
      const type = checker.getTypeAtLocation(d.name);
      const own = (p: ts.Symbol) =>
        !p.name.startsWith('__@') && (p.declarations ?? []).some((x) => x.getSourceFile() === file);
      for (const p of type.getProperties()) {
        if (p.name === 'prototype' || !own(p)) continue;
        out.push(`${name} static ${p.name}`);
      }
      if (type.getConstructSignatures().length > 0 || type.getProperty('prototype')) {
        const instance = checker.getTypeOfSymbol(type.getProperty('prototype') as ts.Symbol);
        for (const p of instance.getProperties()) {
          if (own(p)) out.push(`${name} instance ${p.name}`);
        }
      }
    }
  }
  return out;
}

/** The global value names of a program made of the guest globals file (and the libs it references). */
function typedGlobals(): Set<string> {
  const probe = '/guest-probe.ts';
  const host = ts.createCompilerHost({});
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, version) =>
    name === probe ? ts.createSourceFile(name, '', version) : getSourceFile(name, version);
  const program = ts.createProgram({
    rootNames: [probe, GUEST_GLOBALS_DTS],
    options: { lib: ['lib.es2023.d.ts'], types: [], noEmit: true, strict: true },
    host,
  });
  const diagnostics = ts
    .getPreEmitDiagnostics(program)
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  expect(diagnostics, 'guest-globals.d.ts compiles').toEqual([]);
  const source = program.getSourceFile(probe);
  if (!source) throw new Error('no probe file');
  return new Set(
    program
      .getTypeChecker()
      .getSymbolsInScope(source, ts.SymbolFlags.Value)
      .map((s) => s.name)
      .filter((name) => !name.startsWith('"')), // ambient modules ('crypto')
  );
}

/** The globals guest-globals.d.ts declares itself (top-level `declare var` and `declare function`). */
function declaredHere(): string[] {
  const file = ts.createSourceFile(
    GUEST_GLOBALS_DTS,
    readFileSync(GUEST_GLOBALS_DTS, 'utf8'),
    ts.ScriptTarget.ES2022,
  );
  const names: string[] = [];
  for (const statement of file.statements) {
    if (ts.isVariableStatement(statement)) {
      for (const d of statement.declarationList.declarations) names.push(d.name.getText(file));
    } else if (ts.isFunctionDeclaration(statement) && statement.name)
      names.push(statement.name.text);
  }
  return names;
}

describe('guest-globals.d.ts matches the real guest', () => {
  it('every global it declares exists in the guest', () => {
    const declared = declaredHere();
    expect(declared).toContain('console');
    expect(declared.filter((name) => !guestGlobals.includes(name))).toEqual([]);
  });

  it('every member declared on those globals exists in the guest', () => {
    expect(declaredMembers).toContain('URL static canParse');
    expect(declaredMembers).toContain('URL instance searchParams');
    expect(declaredMembers).toContain('console static log');
    expect(missingMembers).toEqual([]);
  });

  it('every global of the guest is typed (by the ES libs it references or by itself)', () => {
    expect(guestGlobals.filter((name) => !typed.has(name))).toEqual([]);
  });

  it('every typed global exists in the guest', () => {
    // `Intl` comes with lib.es5 itself and cannot be left out of a TypeScript program; the guest
    // gains it with the ICU4X work. Until then a guest using Intl type checks but fails at run time.
    const knownGaps = guestGlobals.includes('Intl') ? [] : ['Intl'];
    const missing = [...typed].filter(
      (name) => !guestGlobals.includes(name) && !knownGaps.includes(name),
    );
    expect(missing).toEqual([]);
  });

  it('Node.js and browser globals are neither in the guest nor typed', () => {
    for (const name of ABSENT) {
      expect(guestGlobals, name).not.toContain(name);
      expect(typed.has(name), name).toBe(false);
    }
  });

  it('members the libs would type but the guest lacks are left out (Atomics.waitAsync)', () => {
    expect(guestMembers['Atomics.waitAsync']).toBe('undefined');
    const text = readFileSync(GUEST_GLOBALS_DTS, 'utf8');
    expect(text).not.toContain('reference lib="es2024.sharedmemory"');
    expect(text).not.toContain('reference lib="es2024"');
  });

  it.each([
    ['crypto', () => guestCrypto],
    ['util', () => guestUtil],
    ['node:crypto', () => guestCrypto],
    ['node:util', () => guestUtil],
    ['console', () => guestModules.console ?? []],
    ['node:console', () => guestModules.console ?? []],
    ['io', () => guestModules.io ?? []],
    ['require', () => guestModules.require ?? []],
    ['vm', () => guestModules.vm ?? []],
    ['node:vm', () => guestModules.vm ?? []],
  ])(
    'the %s module declares exactly the guest module’s exports',
    { timeout: 60_000 },
    (name, guest) => {
      const probe = '/module-probe.ts';
      const host = ts.createCompilerHost({});
      const getSourceFile = host.getSourceFile.bind(host);
      host.getSourceFile = (file, version) =>
        file === probe
          ? ts.createSourceFile(file, `import * as m from '${name}'; export { m };`, version)
          : getSourceFile(file, version);
      const program = ts.createProgram({
        rootNames: [probe, GUEST_GLOBALS_DTS],
        options: { lib: ['lib.es2023.d.ts'], types: [], noEmit: true },
        host,
      });
      const checker = program.getTypeChecker();
      const source = program.getSourceFile(probe) as ts.SourceFile;
      const probeModule = checker.getSymbolAtLocation(source) as ts.Symbol;
      const m = checker.getExportsOfModule(probeModule).find((s) => s.name === 'm') as ts.Symbol;
      const declared = checker.getExportsOfModule(checker.getAliasedSymbol(m)).map((s) => s.name);
      expect(declared.sort()).toEqual([...guest()].sort());
    },
  );

  it('web APIs are typed exactly when the guest has them', () => {
    for (const name of ['fetch', 'setTimeout', 'structuredClone', 'URL']) {
      expect(typed.has(name), name).toBe(guestMembers[name] !== 'undefined');
    }
  });
});
