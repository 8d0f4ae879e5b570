// ES2015–ES2023 smoke checks run inside the guest by tests/language_smoke.rs.
// Each entry returns (or resolves to) true when the feature gives the right
// values, not merely when it exists; a throw or any other value is a failure. Known failures are listed in language/baseline.txt.
const checks = {
  // ES2015
  "let-const-block-scope": () => { let a = 1; { let a = 2; } const b = 3; return a === 1 && b === 3; },
  "arrow-functions": () => [1, 2, 3].map((x) => x * 2).join() === "2,4,6",
  "classes-and-inheritance": () => { class A { constructor(x) { this.x = x; } get y() { return this.x + 1; } static s() { return 's'; } } class B extends A { constructor() { super(41); } } return new B().y === 42 && A.s() === 's'; },
  "template-literals": () => { const n = 'w'; return `hello ${n}` === 'hello w' && String.raw`a\n` === 'a\\n'; },
  "destructuring-and-defaults": () => { const { a, b: [c, d = 4] = [] } = { a: 1, b: [3] }; return a + c + d === 8; },
  "spread-and-rest": () => { const f = (...xs) => xs.length; return f(...[1, 2, 3]) === 3 && Math.max(...[1, 5, 2]) === 5; },
  "symbols-and-iterators": () => { const it = { *[Symbol.iterator]() { yield 1; yield 2; } }; return [...it].join() === '1,2'; },
  "generators": () => { function* g() { const x = yield 1; yield x * 2; } const i = g(); i.next(); return i.next(21).value === 42; },
  "map-set-weakmap": () => { const m = new Map([[1, 'a']]); const s = new Set([1, 1, 2]); const w = new WeakMap(); const k = {}; w.set(k, 1); return m.get(1) === 'a' && s.size === 2 && w.get(k) === 1; },
  "promises": async () => (await Promise.all([1, Promise.resolve(2), new Promise((r) => r(3))])).join() === '1,2,3' && (await Promise.race([Promise.resolve('a'), new Promise(() => {})])) === 'a',
  "proxy-and-reflect": () => { const p = new Proxy({}, { get: (_, k) => k.toString().toUpperCase() }); return p.abc === 'ABC' && Reflect.has({ x: 1 }, 'x'); },
  "typed-arrays": () => { const a = new Float64Array([1.5, 2.5]); const d = new DataView(new ArrayBuffer(4)); d.setUint16(0, 258); return a[1] === 2.5 && d.getUint8(1) === 2; },
  "tail-of-unicode-strings": () => '𝒳'.codePointAt(0) === 0x1d4b3 && [...'a𝒳b'].length === 3 && 'ab'.repeat(2) === 'abab',
  "object-assign-and-is": () => Object.assign({}, { a: 1 }).a === 1 && Object.is(NaN, NaN),
  // ES2016–ES2019
  "exponent-operator": () => 2 ** 10 === 1024,
  "array-includes": () => [1, NaN].includes(NaN),
  "async-await": () => { async function f() { return await 1; } return f() instanceof Promise; },
  "object-entries-values": () => Object.entries({ a: 1 })[0][1] === 1 && Object.values({ b: 2 })[0] === 2,
  "string-padding": () => '5'.padStart(3, '0') === '005' && 'x'.padEnd(2, '-') === 'x-',
  "object-rest-spread": () => { const { a, ...rest } = { a: 1, b: 2, c: 3 }; return Object.keys({ ...rest, d: 4 }).join() === 'b,c,d'; },
  "async-iteration": async () => { async function* g() { yield 1; yield await Promise.resolve(2); } const out = []; for await (const v of g()) out.push(v); return out.join() === '1,2'; },
  "regexp-named-groups-lookbehind-dotall": () => { const m = /(?<y>\d{4})-(?<m>\d{2})/.exec('2024-05'); return m.groups.y === '2024' && /(?<=\$)\d+/.exec('$42')[0] === '42' && /a.b/s.test('a\nb'); },
  "promise-finally": async () => { let ran = 0; const v = await Promise.resolve(5).finally(() => { ran++; return 9; }); const e = await Promise.reject(new Error('x')).finally(() => { ran++; }).catch((err) => err.message); return v === 5 && e === 'x' && ran === 2; },
  "array-flat-flatmap": () => [1, [2, [3]]].flat(Infinity).join() === '1,2,3' && [1, 2].flatMap((x) => [x, x]).length === 4,
  "object-fromentries": () => Object.fromEntries([['a', 1]]).a === 1,
  "string-trimstart-trimend": () => '  x '.trimStart() === 'x ' && ' x  '.trimEnd() === ' x',
  "optional-catch-binding": () => { try { throw 1; } catch { return true; } },
  "json-superset-and-well-formed-stringify": () => eval('"\u2028"') === '\u2028' && JSON.stringify('\uD800') === '"\\ud800"',
  // ES2020
  "bigint": () => 2n ** 64n === 18446744073709551616n && typeof 1n === 'bigint',
  "optional-chaining-and-nullish": () => { const o = { a: null }; return o.a?.b === undefined && (o.a ?? 5) === 5 && o.f?.() === undefined; },
  "promise-allsettled": async () => { const r = await Promise.allSettled([Promise.resolve(1), Promise.reject(new Error('e'))]); return r.length === 2 && r[0].status === 'fulfilled' && r[0].value === 1 && r[1].status === 'rejected' && r[1].reason.message === 'e'; },
  "globalthis": () => { (0, eval)('var smokeGlobal = 7'); return globalThis.Math === Math && globalThis.smokeGlobal === 7 && (0, eval)('this') === globalThis; },
  "string-matchall": () => [...'a1b2'.matchAll(/\d/g)].map((m) => m[0]).join() === '1,2',
  "dynamic-import-syntax": async () => { const p = import('user:none'); return p instanceof Promise && (await p.then(() => 'loaded', (e) => e instanceof Error)) === true; },
  // ES2021
  "logical-assignment": () => { let a = null; a ??= 1; let b = 1; b &&= 2; let c = 0; c ||= 3; return a + b + c === 6; },
  "numeric-separators": () => 1_000_000 === 1e6,
  "string-replaceall": () => 'a.b.c'.replaceAll('.', '-') === 'a-b-c',
  "promise-any-and-aggregateerror": async () => { const first = await Promise.any([Promise.reject(1), Promise.resolve(2), Promise.resolve(3)]); const all = await Promise.any([Promise.reject(1), Promise.reject(2)]).catch((e) => e); return first === 2 && all instanceof AggregateError && all.errors.join() === '1,2'; },
  "weakref-and-finalizationregistry": () => { const o = {}; const fr = new FinalizationRegistry(() => {}); fr.register(o, 1, o); return new WeakRef(o).deref() === o && fr.unregister(o) === true && fr.unregister(o) === false; },
  // ES2022
  "class-fields-private-static-blocks": () => { class A { #x = 1; static y = 2; static { A.z = 3; } getX() { return this.#x; } has(o) { return #x in o; } } const a = new A(); return a.getX() === 1 && A.y === 2 && A.z === 3 && a.has(a); },
  "array-at": () => [1, 2, 3].at(-1) === 3 && 'abc'.at(-1) === 'c',
  "object-hasown": () => Object.hasOwn({ a: 1 }, 'a') && !Object.hasOwn({}, 'toString'),
  "error-cause": () => new Error('x', { cause: 'y' }).cause === 'y',
  "regexp-match-indices": () => /b/d.exec('abc').indices[0][0] === 1,
  // ES2023
  "array-findlast": () => [1, 2, 3, 4].findLast((x) => x % 2) === 3 && [1, 2, 3].findLastIndex((x) => x === 1) === 0,
  "change-array-by-copy": () => { const a = [3, 1, 2]; return a.toSorted().join() === '1,2,3' && a.toReversed()[0] === 2 && a.with(0, 9)[0] === 9 && a.toSpliced(0, 1).length === 2 && a[0] === 3; },
  "hashbang-tolerated-in-eval": () => { try { return (0, eval)('#!/x\n1') === 1; } catch { return false; } },
  // Built-ins commonly used by handlers
  "json-round-trip": () => JSON.stringify(JSON.parse('{"a":[1,{"b":null}]}')) === '{"a":[1,{"b":null}]}',
  "date-iso": () => new Date(0).toISOString() === '1970-01-01T00:00:00.000Z',
  "math-functions": () => Math.abs(Math.sin(Math.PI)) < 1e-15 && Math.hypot(3, 4) === 5 && Math.cbrt(27) === 3,
  "number-formatting": () => (1234.5678).toFixed(2) === '1234.57' && (0.1 + 0.2).toPrecision(3) === '0.300' && (255).toString(16) === 'ff' && parseFloat('3.14abc') === 3.14,
  "intl-number-format": () => new Intl.NumberFormat('en-US').format(1234.5) === '1,234.5',
  "string-localecompare": () => 'a'.localeCompare('b') < 0,
  "structured-clone": () => structuredClone({ a: [1] }).a[0] === 1,
  "atob-btoa": () => btoa('hi') === 'aGk=' && atob('aGk=') === 'hi',
  "array-sort-stable": () => [{ k: 1, v: 'a' }, { k: 0, v: 'b' }, { k: 1, v: 'c' }].sort((x, y) => x.k - y.k).map((x) => x.v).join('') === 'bac',
  "regexp-unicode-property-escapes": () => /\p{Lu}/u.test('É') && !/\p{Lu}/u.test('é'),
  "labelled-loops-and-switch": () => { let n = 0; outer: for (let i = 0; i < 3; i++) { for (let j = 0; j < 3; j++) { if (j === 1) continue outer; n++; } } switch (n) { case 3: return true; default: return false; } },
  "getters-setters-defineproperty": () => { const o = {}; Object.defineProperty(o, 'x', { get: () => 7 }); return o.x === 7 && Object.isFrozen(Object.freeze({})); },
  "tagged-templates": () => { const t = (s, ...v) => s.raw.join('|') + v.join(); return t`a${1}b` === 'a|b1'; },
};

export async function handler(event) {
  if (event.list) return Object.keys(checks);
  const f = checks[event.name];
  try {
    const r = await f();
    return r === true ? { ok: true } : { ok: false, why: 'returned ' + String(r) };
  } catch (e) {
    return { ok: false, why: String(e && e.name) + ': ' + String(e && e.message) };
  }
}
