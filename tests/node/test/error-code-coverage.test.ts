/**
 * Every documented error code is produced by at least one test.
 *
 * The codes are read from where they are documented: the `ERR_*` constants and `ErrorCodes` of
 * `packages/js-host-api/src/error-codes.ts`, and the `ErrorCode` enum of
 * `crates/hyperlight-js/src/error.rs` (through its `as_str()` arms). The tests are read as source:
 * every TypeScript/JavaScript test under `tests/`, `packages/*\/test/` and `examples/test/`, and
 * every Rust integration test under `crates/*\/tests/` (plus the `#[cfg(test)]` part of the crates'
 * sources). A code counts only where a test *asserts* it with a code-checking form:
 *
 * - TypeScript: `expectRejectCode(…, CODE)` / `expectThrowCode(…, CODE)` (and any `expect…Code(`
 *   helper); `expect(x.code).toBe(CODE)` (also `toEqual`/`toStrictEqual`, `.rejects`);
 *   `expect(x).toMatchObject({ code: CODE })`; `expect(x).toHaveProperty('code', CODE)`;
 *   `expect(isHyperlightError(x, CODE)).toBe(true)`. Negated assertions (`.not`) and lists of
 *   accepted codes (`expect([...]).toContain(x.code)`) do not count.
 * - Rust: `ErrorCode::Variant` inside an `assert!`/`assert_eq!`/`assert_matches!` invocation.
 *
 * A code only named in a message, a comment or a list of acceptable answers is not covered: the
 * test fails naming it. This runs with the rest of vitest in `./scripts/dev.sh test`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isRust, isScript, walk } from './source-files';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * The codes documented in the TypeScript package: every `ERR_*` of `error-codes.ts`, as a string
 * or as a constant it defines or imports (`ERR_NO_NATIVE_BINDING` comes from `errors.ts`).
 */
export function documentedTsCodes(source: string): string[] {
  return [...new Set([...source.matchAll(/\b(ERR_[A-Z_]+)\b/g)].map((m) => m[1] as string))];
}

/** The Rust `ErrorCode` variants and their strings, from the `as_str()` match arms. */
export function documentedRustCodes(source: string): Map<string, string> {
  const enumBody = /pub enum ErrorCode \{([\s\S]*?)\n\}/.exec(source)?.[1] ?? '';
  const variants = [...enumBody.matchAll(/^\s*([A-Z][A-Za-z]*),/gm)].map((m) => m[1] as string);
  const arms = new Map(
    [...source.matchAll(/ErrorCode::([A-Za-z]+)\s*=>\s*"(ERR_[A-Z_]+)"/g)].map(
      (m) => [m[1] as string, m[2] as string] as const,
    ),
  );
  const codes = new Map<string, string>();
  for (const variant of variants) {
    const code = arms.get(variant);
    if (code === undefined) throw new Error(`ErrorCode::${variant} has no as_str() arm`);
    codes.set(variant, code);
  }
  return codes;
}

/** The text between the parenthesis at `open` and its matching `)` (strings and comments naive). */
function balanced(text: string, open: number): { args: string; end: number } | undefined {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') {
      depth--;
      if (depth === 0) return { args: text.slice(open + 1, i), end: i + 1 };
    }
  }
  return undefined;
}

const TS_CODE = /['"`](ERR_[A-Z_]+)['"`]|\b(ERR_[A-Z_]+)\b|\bErrorCodes\.([A-Z_]+)\b/g;

function tsCodesIn(text: string): string[] {
  return [...text.matchAll(TS_CODE)].map((m) => m[1] ?? m[2] ?? `ERR_${m[3]}`);
}

/** The codes a TypeScript/JavaScript test source asserts (see the file comment for the forms). */
export function assertedTsCodes(source: string): Set<string> {
  const codes = new Set<string>();
  // expectRejectCode(…, CODE), expectThrowCode(…, CODE), and other expect…Code helpers.
  for (const m of source.matchAll(/\bexpect\w*Code\s*\(/g)) {
    const call = balanced(source, (m.index ?? 0) + m[0].length - 1);
    if (call) for (const code of tsCodesIn(call.args)) codes.add(code);
  }
  // expect(subject)[.rejects|.resolves].matcher(expected)
  for (const m of source.matchAll(/\bexpect\s*\(/g)) {
    const subject = balanced(source, (m.index ?? 0) + m[0].length - 1);
    if (!subject) continue;
    const chain = /^\s*((?:\.(?:rejects|resolves))?)\s*\.(\w+)\s*\(/.exec(
      source.slice(subject.end),
    );
    if (!chain) continue; // includes `.not.` chains: a negated assertion proves nothing here
    const matcher = chain[2];
    const expected = balanced(source, subject.end + chain[0].length - 1);
    if (!expected) continue;
    const onCode = /\.code\b/.test(subject.args);
    if (onCode && (matcher === 'toBe' || matcher === 'toEqual' || matcher === 'toStrictEqual')) {
      for (const code of tsCodesIn(expected.args)) codes.add(code);
    } else if (
      matcher === 'toMatchObject' ||
      matcher === 'toEqual' ||
      matcher === 'toStrictEqual'
    ) {
      for (const c of expected.args.matchAll(/\bcode\s*:\s*([^,}\n]+)/g)) {
        for (const code of tsCodesIn(c[1] as string)) codes.add(code);
      }
    } else if (matcher === 'toHaveProperty' && /^\s*['"]code['"]\s*,/.test(expected.args)) {
      for (const code of tsCodesIn(expected.args)) codes.add(code);
    } else if (
      matcher === 'toBe' &&
      /^\s*true\s*$/.test(expected.args) &&
      /\bisHyperlightError\s*\(/.test(subject.args)
    ) {
      for (const code of tsCodesIn(subject.args)) codes.add(code);
    }
  }
  return codes;
}

/** The `ErrorCode` variants a Rust test source asserts (inside `assert…!(…)`). */
export function assertedRustVariants(source: string): Set<string> {
  const variants = new Set<string>();
  for (const m of source.matchAll(/\bassert\w*!\s*\(/g)) {
    const call = balanced(source, (m.index ?? 0) + m[0].length - 1);
    if (!call) continue;
    for (const v of call.args.matchAll(/\bErrorCode::([A-Za-z]+)/g)) variants.add(v[1] as string);
  }
  return variants;
}

function testSources(): { ts: string[]; rust: string[] } {
  const ts = [
    ...walk(join(ROOT, 'tests'), isScript),
    ...walk(join(ROOT, 'examples/test'), isScript),
    ...readdirSync(join(ROOT, 'packages')).flatMap((p) =>
      walk(join(ROOT, 'packages', p, 'test'), isScript),
    ),
  ];
  const rust = readdirSync(join(ROOT, 'crates')).flatMap((c) => [
    ...walk(join(ROOT, 'crates', c, 'tests'), isRust),
    ...walk(join(ROOT, 'crates', c, 'src'), isRust),
  ]);
  return { ts, rust };
}

/** The Rust test part of a file: everything of a `tests/` file, from `#[cfg(test)]` in `src/`. */
function rustTestPart(path: string, source: string): string {
  if (/[/\\]tests[/\\]/.test(relative(ROOT, path))) return source;
  const at = source.indexOf('#[cfg(test)]');
  return at < 0 ? '' : source.slice(at);
}

describe('error-code coverage', () => {
  it('recognises the assertion forms it counts, and not the ones it must not', () => {
    const ts = assertedTsCodes(`
      await expectRejectCode(p, 'ERR_A');
      expectThrowCode(
        () => f(),
        ERR_B,
      );
      expect(error.code, error.message).toBe(ErrorCodes.C);
      await expect(p).rejects.toMatchObject({ name: 'Error', code: 'ERR_D' });
      expect(isHyperlightError(e, 'ERR_E')).toBe(true);
      expect(e).toHaveProperty('code', 'ERR_F');
      expect(e.code).not.toBe('ERR_NEGATED');
      expect(['ERR_LISTED', 'ERR_LISTED_TOO']).toContain(e.code);
      expect(e.message).toContain('ERR_IN_A_MESSAGE');
      expect(isHyperlightError(e, 'ERR_NOT_IT')).toBe(false);
    `);
    expect([...ts].sort()).toEqual(['ERR_A', 'ERR_B', 'ERR_C', 'ERR_D', 'ERR_E', 'ERR_F']);
    const rust = assertedRustVariants(`
      assert_eq!(err.code(), ErrorCode::Handler, "{err}");
      assert!(matches!(e.code(), hyperlight_js::ErrorCode::Poisoned));
      let _ = ErrorCode::Internal; // not asserted
    `);
    expect([...rust].sort()).toEqual(['Handler', 'Poisoned']);
  });

  it('finds every documented error code asserted by at least one test', () => {
    const tsDocumented = documentedTsCodes(
      readFileSync(join(ROOT, 'packages/js-host-api/src/error-codes.ts'), 'utf8'),
    );
    const rustDocumented = documentedRustCodes(
      readFileSync(join(ROOT, 'crates/hyperlight-js/src/error.rs'), 'utf8'),
    );
    // Both lists are read, not assumed: an empty parse would make this test pass vacuously.
    expect(tsDocumented.length).toBeGreaterThanOrEqual(9);
    expect(rustDocumented.size).toBeGreaterThanOrEqual(8);

    const { ts, rust } = testSources();
    const asserted = new Map<string, string[]>();
    const note = (code: string, path: string) =>
      asserted.set(code, [...(asserted.get(code) ?? []), relative(ROOT, path)]);
    for (const path of ts) {
      if (path === fileURLToPath(import.meta.url)) continue;
      for (const code of assertedTsCodes(readFileSync(path, 'utf8'))) note(code, path);
    }
    for (const path of rust) {
      const source = rustTestPart(path, readFileSync(path, 'utf8'));
      for (const variant of assertedRustVariants(source)) {
        const code = rustDocumented.get(variant);
        if (code !== undefined) note(code, path);
      }
    }

    const documented = new Map<string, string>();
    for (const code of tsDocumented)
      documented.set(code, 'packages/js-host-api/src/error-codes.ts');
    for (const [variant, code] of rustDocumented) {
      documented.set(code, `${documented.get(code) ?? ''} ErrorCode::${variant}`.trim());
    }
    const missing = [...documented]
      .filter(([code]) => !asserted.has(code))
      .map(([code, where]) => `${code} (documented in ${where})`);
    expect(
      missing,
      `error codes no test asserts (use expectRejectCode/expectThrowCode, expect(e.code).toBe, or assert_eq!(e.code(), ErrorCode::…)): ${missing.join(', ')}`,
    ).toEqual([]);
  });
});
