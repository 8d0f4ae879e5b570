/**
 * Every Rust test asserts something, and no test asserts on elapsed time.
 *
 * vitest tests are held to this at run time (`expect.hasAssertions()` in
 * `tooling/vitest.setup.ts`); Rust has no such switch, so this reads the Rust tests as source: every
 * `#[test]` function of `crates/*\/tests/` and of the `#[cfg(test)]` part of `crates/*\/src/` must
 * assert, directly or through a helper. A function asserts when its body has an assertion macro
 * (`assert!`, `assert_eq!`, `assert_ne!`, `assert_matches!`), `panic!`, `unreachable!`,
 * `.unwrap_err()`/`.expect_err(…)` (the call must fail), carries `#[should_panic]`, or calls a
 * helper of the same file or of the crate's shared test modules (`tests/common/`, `tests/<dir>/`)
 * that has an assertion macro (a helper that only panics when something it runs fails does not
 * count: it checks nothing the test claims). A bare `.unwrap()` does not count: it proves only
 * that nothing failed, not what the test's name claims.
 *
 * And no test asserts on elapsed time (see `elapsedTimeAssertions`). Both run with the rest of
 * vitest in `./scripts/dev.sh test`; the rules are in docs/testing.md.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isRust, isScript, walk } from './source-files';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** A function of a Rust source: its name, attributes and body. */
interface RustFn {
  name: string;
  attributes: string;
  body: string;
}

/**
 * `source` with the contents of comments, string and character literals blanked out (same
 * length), so that braces and macro names inside them are not code.
 */
export function codeOnly(source: string): string {
  const out = source.split('');
  const blank = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (out[k] !== '\n') out[k] = ' ';
  };
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '/' && source[i + 1] === '/') {
      const end = source.indexOf('\n', i);
      const stop = end < 0 ? source.length : end;
      blank(i, stop);
      i = stop;
    } else if (c === '/' && source[i + 1] === '*') {
      const stop = source.indexOf('*/', i + 2) + 2;
      blank(i, stop);
      i = stop - 1;
    } else if (c === '"') {
      // A raw string r#"…"# (any number of #) or a plain string with escapes.
      const raw = /r(#*)$/.exec(source.slice(Math.max(0, i - 8), i));
      let stop: number;
      if (raw) {
        stop = source.indexOf(`"${raw[1]}`, i + 1);
      } else {
        for (stop = i + 1; stop < source.length && source[stop] !== '"'; stop++)
          if (source[stop] === '\\') stop++;
      }
      blank(i + 1, stop);
      i = stop + (raw ? (raw[1] as string).length : 0);
    } else if (c === "'" && /^'(\\.|[^\\'])'/.test(source.slice(i, i + 4))) {
      const stop = source.indexOf("'", i + 2);
      blank(i + 1, stop);
      i = stop;
    }
  }
  return out.join('');
}

/** The index just past the `}` matching the `{` at `open`, in code from `codeOnly`. */
function blockEnd(code: string, open: number): number {
  let depth = 0;
  for (let i = open; i < code.length; i++) {
    if (code[i] === '{') depth++;
    else if (code[i] === '}') {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return code.length;
}

/** Every `fn` with a body in `source`, with the attributes written just before it. */
export function rustFunctions(source: string): RustFn[] {
  const code = codeOnly(source);
  const fns: RustFn[] = [];
  const re = /((?:#\[[^\]]*\]\s*)*)(?:pub(?:\([^)]*\))?\s+)?(?:async\s+)?(?:unsafe\s+)?fn\s+(\w+)/g;
  for (const m of code.matchAll(re)) {
    // The body starts at the first `{` after the signature, unless a `;` ends it first.
    const after = (m.index ?? 0) + m[0].length;
    const open = code.indexOf('{', after);
    const semi = code.indexOf(';', after);
    if (open < 0 || (semi >= 0 && semi < open)) continue;
    fns.push({
      name: m[2] as string,
      attributes: m[1] as string,
      body: code.slice(open, blockEnd(code, open)),
    });
  }
  return fns;
}

const ASSERTS =
  /\b(?:assert|assert_eq|assert_ne|assert_matches|panic|unreachable)!|\.(?:unwrap_err|expect_err)\s*\(/;
/** What makes a helper an assertion: a panic on a failed call is not a check of a claim. */
const HELPER_ASSERTS = /\b(?:assert|assert_eq|assert_ne|assert_matches)!/;
const isTest = (f: RustFn) => /#\[(?:tokio::)?test\b/.test(f.attributes);

/** The tests among `fns` that assert nothing, given the helpers they may call (`fns` included). */
export function testsWithoutAssertion(fns: RustFn[], helpers: RustFn[] = []): string[] {
  const all = [...helpers, ...fns];
  const asserting = new Set<string>();
  for (let changed = true; changed; ) {
    changed = false;
    for (const f of all) {
      if (asserting.has(f.name)) continue;
      const calls = [...f.body.matchAll(/\b(\w+)\s*(?:::<[^>]*>)?\s*\(/g)].map((c) => c[1]);
      if (
        HELPER_ASSERTS.test(f.body) ||
        calls.some((c) => c !== f.name && asserting.has(c as string))
      ) {
        asserting.add(f.name);
        changed = true;
      }
    }
  }
  return fns
    .filter(isTest)
    .filter(
      (f) =>
        !/#\[should_panic\b/.test(f.attributes) && !ASSERTS.test(f.body) && !asserting.has(f.name),
    )
    .map((f) => f.name);
}

/**
 * Assertions on elapsed host time: an `expect(…)` of a TypeScript/JavaScript test whose subject
 * reads the host clock (`performance.now()`, `Date.now()`, `process.hrtime`) with an ordering
 * matcher, or a Rust `assert…!` whose arguments read `.elapsed()`. Tests assert behaviour; the
 * benchmarks measure durations (docs/testing.md).
 */
export function elapsedTimeAssertions(source: string, rust: boolean): string[] {
  const found: string[] = [];
  if (rust) {
    const code = codeOnly(source);
    for (const m of code.matchAll(/\bassert\w*!\s*\(/g)) {
      const open = (m.index ?? 0) + m[0].length - 1;
      const end = blockEnd(
        code.replace(/[()]/g, (c) => (c === '(' ? '{' : '}')),
        open,
      );
      const args = source.slice(open, end);
      if (/\.elapsed\(\)/.test(codeOnly(args))) found.push(args.replace(/\s+/g, ' ').slice(0, 80));
    }
    return found;
  }
  const clock = /performance\.now\(\)|Date\.now\(\)|hrtime/;
  for (const m of source.matchAll(
    /\bexpect\s*\(([^;]*?)\)\s*\.(?:not\.)?(toBeLessThan|toBeLessThanOrEqual|toBeGreaterThan|toBeGreaterThanOrEqual)\b/g,
  )) {
    if (clock.test(m[1] as string)) found.push(m[0].replace(/\s+/g, ' ').slice(0, 80));
  }
  return found;
}

describe('no test asserts on elapsed time', () => {
  it('recognises a bound on elapsed host time, and not a clock compared with a clock', () => {
    expect(
      elapsedTimeAssertions(
        `expect(performance.now() - started).toBeLessThan(1500);
         expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
         expect(guest).toBeLessThan(host + 1);
         expect(stats.wallClockMs).toBeGreaterThanOrEqual(50);`,
        false,
      ),
    ).toHaveLength(2);
    expect(
      elapsedTimeAssertions(
        `assert!(t0.elapsed() < Duration::from_secs(30), "the kill did not end the wait");
         assert!(started.elapsed() >= Duration::from_millis(30));
         let took = t0.elapsed(); // "assert!(x.elapsed())" in a string is not code
         assert!(guest_ms <= host_ms + 1.0);`,
        true,
      ),
    ).toHaveLength(2);
  });

  it('finds none in the tests', () => {
    const found: string[] = [];
    const scripts = (dir: string) => walk(dir, isScript);
    for (const path of [
      ...scripts(join(ROOT, 'tests')),
      ...scripts(join(ROOT, 'examples/test')),
      ...readdirSync(join(ROOT, 'packages')).flatMap((p) =>
        scripts(join(ROOT, 'packages', p, 'test')),
      ),
    ]) {
      if (path === fileURLToPath(import.meta.url)) continue; // its self-test's samples
      for (const a of elapsedTimeAssertions(readFileSync(path, 'utf8'), false))
        found.push(`${relative(ROOT, path)}: ${a}`);
    }
    for (const crate of readdirSync(join(ROOT, 'crates'))) {
      for (const path of [
        ...walk(join(ROOT, 'crates', crate, 'tests'), isRust),
        ...walk(join(ROOT, 'crates', crate, 'src'), isRust),
      ]) {
        for (const a of elapsedTimeAssertions(readFileSync(path, 'utf8'), true))
          found.push(`${relative(ROOT, path)}: ${a}`);
      }
    }
    expect(found, `assertions on elapsed time: ${found.join('; ')}`).toEqual([]);
  });
});

describe('assertion coverage of the Rust tests', () => {
  it('tells a test that asserts, directly or through a helper, from one that does not', () => {
    const fns = rustFunctions(`
      fn check(x: u32) { assert_eq!(x, 1, "{}", "}"); }
      fn indirect() { check(1) }
      fn quiet() { let _ = "assert!(true)"; }
      #[test] fn direct() { assert!(true); }
      #[test] fn through_helpers() { indirect(); }
      #[test] fn must_fail() { parse("x").unwrap_err(); }
      #[test] #[should_panic(expected = "boom")] fn panics() { boom(); }
      fn fetch() -> u32 { match get() { Ok(v) => v, e => panic!("{e:?}") } }
      #[test] fn only_unwraps() { run().unwrap(); quiet(); }
      #[test] fn only_fetches() { println!("{}", fetch()); }
      #[test]
      fn returns_early() { let Ok(_) = std::env::var("X") else { return; }; }
    `);
    expect(testsWithoutAssertion(fns)).toEqual(['only_unwraps', 'only_fetches', 'returns_early']);
  });

  it('finds no Rust test that asserts nothing', () => {
    const missing: string[] = [];
    let tests = 0;
    for (const crate of readdirSync(join(ROOT, 'crates'))) {
      const dir = join(ROOT, 'crates', crate);
      const integration = walk(join(dir, 'tests'), isRust);
      // Shared test modules: tests/common/… and every tests/<dir>/mod.rs tree.
      const shared = integration
        .filter((p) => /^tests[/\\][^/\\]+[/\\]/.test(relative(dir, p)))
        .flatMap((p) => rustFunctions(readFileSync(p, 'utf8')));
      const sources = [
        ...integration.map((p) => [p, readFileSync(p, 'utf8')] as const),
        ...walk(join(dir, 'src'), isRust).map((p) => {
          const text = readFileSync(p, 'utf8');
          const at = text.indexOf('#[cfg(test)]');
          return [p, at < 0 ? '' : text.slice(at)] as const;
        }),
      ];
      for (const [path, text] of sources) {
        const fns = rustFunctions(text);
        tests += fns.filter(isTest).length;
        for (const name of testsWithoutAssertion(fns, shared)) {
          missing.push(`${relative(ROOT, path)}: ${name}`);
        }
      }
    }
    // The scan is read, not assumed: finding no tests would make it pass vacuously.
    expect(tests).toBeGreaterThan(200);
    expect(missing, `Rust tests that assert nothing: ${missing.join(', ')}`).toEqual([]);
  });
});
