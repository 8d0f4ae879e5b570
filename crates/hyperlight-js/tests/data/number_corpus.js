// Number <-> string conversion corpus, run identically in V8 (node) and in
// the guest by tests/number_conversion.rs; the two outputs must be equal.
// `evaluate(seed, n)` returns one line per case.
function evaluate(seed, n) {
  let s = BigInt(seed) * 0x9e3779b97f4a7c15n + 0x2545f4914f6cdd1dn;
  const mask = (1n << 64n) - 1n;
  const next = () => {
    // xorshift64*
    s ^= s >> 12n; s ^= (s << 25n) & mask; s ^= s >> 27n; s &= mask;
    return (s * 0x2545f4914f6cdd1dn) & mask;
  };
  const view = new DataView(new ArrayBuffer(8));
  const fromBits = (b) => { view.setBigUint64(0, b); return view.getFloat64(0); };
  const bits = (x) => { view.setFloat64(0, x); return view.getBigUint64(0).toString(16); };
  // The exact decimal expansion of the midpoint between x > 0 and the next
  // double up: x = m * 2^e (m integer), midpoint = (2m + 1) * 2^(e - 1).
  const midpoint = (x) => {
    view.setFloat64(0, x);
    const b = view.getBigUint64(0);
    const be = Number((b >> 52n) & 0x7ffn);
    let m = b & ((1n << 52n) - 1n);
    let e;
    if (be === 0) { e = -1074; } else { m |= 1n << 52n; e = be - 1075; }
    const odd = 2n * m + 1n;
    const k = e - 1;
    if (k >= 0) return { int: (odd << BigInt(k)).toString(), frac: '' };
    const digits = (odd * 5n ** BigInt(-k)).toString().padStart(-k + 1, '0');
    return { int: digits.slice(0, digits.length + k), frac: digits.slice(digits.length + k) };
  };
  const out = [];
  const literals = [];
  const parseCase = (str) => {
    out.push(str.length > 60 ? str.slice(0, 30) + '…' + str.slice(-20) : str);
    out.push(' Number ' + bits(Number(str)) + ' parseFloat ' + bits(parseFloat(str)));
    literals.push(str);
  };
  for (let i = 0; i < n; i++) {
    const kind = Number(next() % 6n);
    let x = fromBits(next());
    if (!Number.isFinite(x)) x = fromBits(next() >> 2n);
    if (kind === 0 || kind === 1) {
      // Printing: shortest round-trip and the fixed formats.
      const p = 1 + Number(next() % 21n);
      out.push(bits(x) + ' ' + String(x) + ' ' + x.toExponential() + ' ' + x.toPrecision(p) + ' ' +
        (Math.abs(x) < 1e21 ? x.toFixed(Number(next() % 21n)) : '-'));
    } else if (kind === 2) {
      // Powers of two (where the engine's printer went wrong).
      const y = 2 ** (Number(next() % 2098n) - 1074);
      out.push(String(y) + ' ' + String(-y) + ' ' + y.toExponential());
    } else if (kind === 3) {
      // Halfway cases: exactly between two doubles (ties to even), just
      // above and just below.
      x = Math.abs(x) || 1;
      const { int, frac } = midpoint(x);
      const exact = frac ? int + '.' + frac : int;
      parseCase(exact);
      parseCase(frac ? exact + '000000000000000000001' : exact + '.000000000000000000001');
      parseCase(frac ? int + '.' + frac.slice(0, -1) + '4999999999999999999999' : (BigInt(int) - 1n).toString() + '.9999999999999999999999');
    } else if (kind === 4) {
      // Random decimal text: 1 to 40 significant digits, any exponent.
      const len = 1 + Number(next() % 40n);
      let d = '';
      for (let j = 0; j < len; j++) d += String(Number(next() % 10n));
      const e = Number(next() % 700n) - 350;
      parseCase(d[0] + (len > 1 ? '.' + d.slice(1) : '') + 'e' + e);
    } else {
      // The shortest form of a random double parses back to it.
      parseCase(String(Math.abs(x)));
    }
  }
  // Number literals go through the parser, not Number().
  const values = Function('return [' + literals.join(',') + '];')();
  out.push('literals ' + values.map(bits).join(' '));
  return out.join('\n');
}
