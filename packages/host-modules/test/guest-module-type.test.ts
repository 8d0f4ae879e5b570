import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { expect, it } from 'vitest';

// The README's way of typing a TypeScript guest with GuestModule (`export =` in a
// `declare module 'host:db'`) works for named and namespace imports, against the built package.

it('declare module with GuestModule types named and namespace imports of host:db', {
  timeout: 60_000,
}, () => {
  const dir = fileURLToPath(new URL('../temp/guest-module-type/', import.meta.url));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  try {
    writeFileSync(
      path.join(dir, 'host.ts'),
      [
        "import { defineHostModule, hostFunction } from '@hyperlight/host-modules';",
        "import { z } from 'zod';",
        "export const db = defineHostModule('db', {",
        '  get: hostFunction({ args: [z.string()], handler: async (id: string) => ({ id, at: new Date() }) }),',
        '});',
      ].join('\n'),
    );
    writeFileSync(
      path.join(dir, 'host-modules.d.ts'),
      [
        "declare module 'host:db' {",
        "  const api: import('@hyperlight/host-modules').GuestModule<typeof import('./host').db>;",
        '  export = api;',
        '}',
      ].join('\n'),
    );
    writeFileSync(
      path.join(dir, 'guest.ts'),
      [
        "import { get } from 'host:db';",
        "import * as db from 'host:db';",
        "export const a: { id: string; at: string } = get('x');",
        "export const b: { id: string; at: string } = db.get('y');",
        'get(1);',
      ].join('\n'),
    );
    const program = ts.createProgram(
      ['guest.ts', 'host-modules.d.ts', 'host.ts'].map((f) => path.join(dir, f)),
      {
        strict: true,
        noEmit: true,
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.ESNext,
        moduleResolution: ts.ModuleResolutionKind.Bundler,
        esModuleInterop: true,
        skipLibCheck: true,
        types: [],
      },
    );
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ({
      file: d.file ? path.basename(d.file.fileName) : '',
      line: d.file ? d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1 : 0,
      text: ts.flattenDiagnosticMessageText(d.messageText, '\n'),
    }));
    expect(diagnostics).toEqual([
      {
        file: 'guest.ts',
        line: 5,
        text: "Argument of type 'number' is not assignable to parameter of type 'string'.",
      },
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
