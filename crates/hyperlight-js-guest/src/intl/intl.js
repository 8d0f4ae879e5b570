// Intl (ECMA-402) glue: option reading and resolution as the specification
// words them, the constructors and prototypes, and the ECMA-262 methods
// routed through them. Every locale-dependent answer comes from ICU4X via
// `op` (see mod.rs/ops.rs). Compiled on first use; returns [Intl, routed].
(function (op, global) {
  'use strict';
  const slots = new WeakMap();
  const def = (o, k, v) => Object.defineProperty(o, k, { value: v, writable: true, configurable: true, enumerable: false });
  const tag = (o, name) => Object.defineProperty(o, Symbol.toStringTag, { value: name, configurable: true });
  const parse = JSON.parse;
  const toStr = (v) => { if (typeof v === 'symbol') throw new TypeError('Cannot convert a Symbol value to a string'); return String(v); };
  const rec = (kind) => { const o = Object.create(null); o.kind = kind; return o; };
  // CreateDataProperty for each entry, in order (no Object.prototype setters run).
  const dataObject = (entries) => { const o = {}; for (const [k, v] of entries) if (v !== undefined) Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true }); return o; };
  const isObject = (v) => (typeof v === 'object' && v !== null) || typeof v === 'function';

  // --- Abstract operations -------------------------------------------------
  const toObject = (v) => { if (v == null) throw new TypeError('Cannot convert undefined or null to object'); return Object(v); };
  const coerceOptions = (o) => (o === undefined ? Object.create(null) : toObject(o));
  const getOptionsObject = (o) => {
    if (o === undefined) return Object.create(null);
    if (isObject(o)) return o;
    throw new TypeError('Options must be an object');
  };
  function getOption(options, prop, type, values, fallback) {
    let v = options[prop];
    if (v === undefined) return fallback;
    if (type === 'boolean') v = Boolean(v);
    else if (type === 'string') v = toStr(v);
    if (values !== undefined && !values.includes(v)) throw new RangeError(`Value ${String(v)} out of range for ${prop}`);
    return v;
  }
  function defaultNumberOption(v, min, max, fallback, prop) {
    if (v === undefined) return fallback;
    v = Number(v);
    if (Number.isNaN(v) || v < min || v > max) throw new RangeError(`${prop} value is out of range.`);
    return Math.floor(v);
  }
  const getNumberOption = (o, p, min, max, fb) => defaultNumberOption(o[p], min, max, fb, p);
  function getBooleanOrStringNumberFormatOption(o, p, strings, fallback) {
    const v = o[p];
    if (v === undefined) return fallback;
    if (v === true) return 'always';
    if (!v) return false;
    const s = toStr(v);
    if (s === 'true' || s === 'false') return fallback;
    if (!strings.includes(s)) throw new RangeError(`Value ${s} out of range for ${p}`);
    return s;
  }

  function canonicalizeLocaleList(locales) {
    if (locales === undefined) return [];
    const seen = [];
    const O = typeof locales === 'string' || (isObject(locales) && slots.get(locales)?.kind === 'Locale') ? [locales] : toObject(locales);
    const len = Math.min(Math.max(Math.floor(Number(O.length)) || 0, 0), 2 ** 53 - 1);
    for (let k = 0; k < len; k++) {
      if (!(k in O)) continue;
      const v = O[k];
      if (typeof v !== 'string' && !isObject(v)) throw new TypeError('Language ID should be string or object.');
      const t = isObject(v) && slots.get(v)?.kind === 'Locale' ? slots.get(v).tag : String(v);
      const c = canonical(t);
      if (!seen.includes(c)) seen.push(c);
    }
    return seen;
  }
  function canonical(t) {
    // Grandfathered/irregular tags and extlang forms are not well-formed BCP 47 for ECMA-402.
    if (!/^[A-Za-z0-9-]+$/.test(t) || /^[A-Za-z]{2,3}-[A-Za-z]{3}(-|$)/.test(t) && !/^[A-Za-z]{2,3}-[A-Za-z]{4}(-|$)/.test(t)) {
      throw new RangeError(`Incorrect locale information provided: ${t}`);
    }
    return op('canonicalize', t);
  }
  // Splits a canonical tag: base name and unicode extension keywords.
  function splitTag(t) {
    const parts = t.split('-');
    let i = 1;
    while (i < parts.length && parts[i].length > 1) i++;
    const base = parts.slice(0, i).join('-');
    const keys = Object.create(null);
    const attrs = [];
    let j = i;
    const others = [];
    while (j < parts.length) {
      const single = parts[j].toLowerCase();
      let e = j + 1;
      while (e < parts.length && parts[e].length > 1) e++;
      if (single === 'u') {
        let k = j + 1;
        while (k < e && parts[k].length !== 2) attrs.push(parts[k++]); // attributes
        while (k < e) {
          const key = parts[k];
          let m = k + 1;
          while (m < e && parts[m].length !== 2) m++;
          if (!(key in keys)) keys[key] = parts.slice(k + 1, m).join('-') || 'true';
          k = m;
        }
      } else if (single === 'x') {
        others.push(parts.slice(j).join('-'));
        break;
      } else {
        others.push(parts.slice(j, e).join('-'));
      }
      j = e;
    }
    return { base, keys, others, attrs };
  }
  const defaultLocale = () => op('lookup', op('defaultLocale')) || 'en-US';

  function resolveLocale(requested, options, relevantKeys, check) {
    let found, foundKeys = Object.create(null);
    for (const r of requested) {
      const { base, keys } = splitTag(r);
      const a = op('lookup', base);
      if (a) { found = a; foundKeys = keys; break; }
    }
    if (!found) found = defaultLocale();
    const result = Object.create(null);
    result.dataLocale = found;
    let ext = '';
    for (const key of relevantKeys) {
      let value;
      let fromTag = false;
      if (key in foundKeys) {
        const v = foundKeys[key];
        if (check(key, v)) { value = v; fromTag = true; }
      }
      const ov = options[key];
      if (ov !== undefined) {
        if (check(key, ov) && ov !== value) { value = ov; fromTag = false; }
        else if (ov === value) { /* keep */ }
      }
      if (fromTag && value !== undefined) ext += `-${key}${value === 'true' ? '' : '-' + value}`;
      result[key] = value;
    }
    result.locale = ext ? `${found}-u${ext}` : found;
    return result;
  }
  function supportedLocales(requested, options) {
    options = coerceOptions(options);
    getOption(options, 'localeMatcher', 'string', ['lookup', 'best fit'], 'best fit');
    return requested.filter((r) => op('lookup', splitTag(r).base) !== '');
  }
  const withKeys = (locale, keys) => {
    let t = splitTag(locale).base;
    let u = '';
    for (const [k, v] of Object.entries(keys)) if (v !== undefined && v !== null) u += `-${k}-${v}`;
    return u ? `${t}-u${u}` : t;
  };
  const CALENDARS = ['buddhist', 'chinese', 'coptic', 'dangi', 'ethioaa', 'ethiopic', 'gregory', 'hebrew', 'indian', 'islamic-civil', 'islamic-tbla', 'islamic-umalqura', 'iso8601', 'japanese', 'persian', 'roc'];
  const NUMBERING = ['arab', 'arabext', 'bali', 'beng', 'deva', 'fullwide', 'gujr', 'guru', 'hanidec', 'khmr', 'knda', 'laoo', 'latn', 'limb', 'mlym', 'mong', 'mymr', 'orya', 'tamldec', 'telu', 'thai', 'tibt'];
  const CALENDAR_ALIASES = { islamicc: 'islamic-civil', 'ethiopic-amete-alem': 'ethioaa', gregorian: 'gregory' };
  const canonCalendar = (c) => CALENDAR_ALIASES[c] || c;
  const typeRe = /^[a-z0-9]{3,8}(-[a-z0-9]{3,8})*$/i;
  const check = (key, v) => {
    switch (key) {
      case 'ca': return CALENDARS.includes(v);
      case 'nu': return NUMBERING.includes(v);
      case 'co': return v !== 'standard' && v !== 'search' && typeRe.test(v);
      case 'kn': return v === 'true' || v === 'false';
      case 'kf': return v === 'upper' || v === 'lower' || v === 'false';
      case 'hc': return ['h11', 'h12', 'h23', 'h24'].includes(v);
      default: return false;
    }
  };
  const slot = (o, kind, method) => {
    const s = isObject(o) ? slots.get(o) : undefined;
    if (!s || s.kind !== kind) throw new TypeError(`Method Intl.${kind}.prototype.${method} called on incompatible receiver`);
    return s;
  };
  const parts = (arr) => arr.map(([type, value]) => ({ type, value }));
  const joinParts = (arr) => arr.map((p) => p[1]).join('');
  function defineClass(C, name, length) {
    def(Intl, name, C);
    Object.defineProperty(C, 'length', { value: length });
    Object.defineProperty(C, 'prototype', { writable: false, enumerable: false, configurable: false });
    tag(C.prototype, `Intl.${name}`);
    def(C, 'supportedLocalesOf', { supportedLocalesOf(locales, options = undefined) { return supportedLocales(canonicalizeLocaleList(locales), options); } }.supportedLocalesOf);
  }
  function boundGetter(C, name, kind, make) {
    Object.defineProperty(C.prototype, name, {
      configurable: true, enumerable: false,
      get: { [`get ${name}`]() {
        const s = slot(this, kind, name);
        if (!s.bound) { const self = this; s.bound = make(self); }
        return s.bound;
      } }[`get ${name}`],
    });
  }
  const methods = (C, o) => { for (const k of Object.getOwnPropertyNames(o)) def(C.prototype, k, o[k]); };

  const Intl = {};
  tag(Intl, 'Intl');
  def(Intl, 'getCanonicalLocales', { getCanonicalLocales(locales) { return canonicalizeLocaleList(locales); } }.getCanonicalLocales);
  def(Intl, 'supportedValuesOf', { supportedValuesOf(key) {
    switch (toStr(key)) {
      case 'calendar': return CALENDARS.slice();
      case 'numberingSystem': return NUMBERING.slice();
      case 'collation': return ['compat', 'emoji', 'eor', 'phonebk', 'pinyin', 'stroke', 'trad', 'unihan', 'zhuyin'];
      case 'currency': return Object.keys(CURRENCY_DIGITS).concat(['EUR', 'GBP', 'USD', 'CHF', 'CNY', 'INR']).sort();
      case 'timeZone': return parse(op('timeZones'));
      case 'unit': return UNITS.slice();
      default: throw new RangeError(`Invalid key : ${toStr(key)}`);
    }
  } }.supportedValuesOf);

  // --- Numbers -------------------------------------------------------------
  const CURRENCY_DIGITS = { BHD: 3, BIF: 0, CLF: 4, CLP: 0, DJF: 0, GNF: 0, IQD: 3, ISK: 0, JOD: 3, JPY: 0, KMF: 0, KRW: 0, KWD: 3, LYD: 3, OMR: 3, PYG: 0, RWF: 0, TND: 3, UGX: 0, UYI: 0, UYW: 4, VND: 0, VUV: 0, XAF: 0, XOF: 0, XPF: 0 };
  const UNITS = ['acre', 'bit', 'byte', 'celsius', 'centimeter', 'day', 'degree', 'fahrenheit', 'fluid-ounce', 'foot', 'gallon', 'gigabit', 'gigabyte', 'gram', 'hectare', 'hour', 'inch', 'kilobit', 'kilobyte', 'kilogram', 'kilometer', 'liter', 'megabit', 'megabyte', 'meter', 'microsecond', 'mile', 'mile-scandinavian', 'milliliter', 'millimeter', 'millisecond', 'minute', 'month', 'nanosecond', 'ounce', 'percent', 'petabyte', 'pound', 'second', 'stone', 'terabit', 'terabyte', 'week', 'yard', 'year'];
  const isWellFormedUnit = (u) => UNITS.includes(u) || (u.includes('-per-') && u.split('-per-').length === 2 && u.split('-per-').every((x) => UNITS.includes(x)));
  const INCREMENTS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000];
  const ROUNDING_MODES = ['ceil', 'floor', 'expand', 'trunc', 'halfCeil', 'halfFloor', 'halfExpand', 'halfTrunc', 'halfEven'];

  function setDigitOptions(s, options, mnfdDefault, mxfdDefault, notation) {
    const mnid = getNumberOption(options, 'minimumIntegerDigits', 1, 21, 1);
    let mnfd = options.minimumFractionDigits, mxfd = options.maximumFractionDigits;
    let mnsd = options.minimumSignificantDigits, mxsd = options.maximumSignificantDigits;
    s.minimumIntegerDigits = mnid;
    const inc = getNumberOption(options, 'roundingIncrement', 1, 5000, 1);
    if (!INCREMENTS.includes(inc)) throw new RangeError('roundingIncrement value is out of range.');
    const mode = getOption(options, 'roundingMode', 'string', ROUNDING_MODES, 'halfExpand');
    const priority = getOption(options, 'roundingPriority', 'string', ['auto', 'morePrecision', 'lessPrecision'], 'auto');
    const tzd = getOption(options, 'trailingZeroDisplay', 'string', ['auto', 'stripIfInteger'], 'auto');
    if (inc !== 1) mxfdDefault = mnfdDefault;
    s.roundingIncrement = inc; s.roundingMode = mode; s.trailingZeroDisplay = tzd;
    const hasSd = mnsd !== undefined || mxsd !== undefined;
    const hasFd = mnfd !== undefined || mxfd !== undefined;
    let needSd = true, needFd = true;
    if (priority === 'auto') { needSd = hasSd; if (needSd || (!hasFd && notation === 'compact')) needFd = false; }
    if (needSd) {
      if (hasSd) { mnsd = defaultNumberOption(mnsd, 1, 21, 1, 'minimumSignificantDigits'); mxsd = defaultNumberOption(mxsd, mnsd, 21, 21, 'maximumSignificantDigits'); }
      else { mnsd = 1; mxsd = 21; }
      s.minimumSignificantDigits = mnsd; s.maximumSignificantDigits = mxsd;
    }
    if (needFd) {
      if (hasFd) {
        mnfd = defaultNumberOption(mnfd, 0, 100, undefined, 'minimumFractionDigits');
        mxfd = defaultNumberOption(mxfd, 0, 100, undefined, 'maximumFractionDigits');
        if (mnfd === undefined) mnfd = Math.min(mnfdDefault, mxfd);
        else if (mxfd === undefined) mxfd = Math.max(mxfdDefault, mnfd);
        else if (mnfd > mxfd) throw new RangeError('maximumFractionDigits value is out of range.');
      } else { mnfd = mnfdDefault; mxfd = mxfdDefault; }
      s.minimumFractionDigits = mnfd; s.maximumFractionDigits = mxfd;
    }
    if (!needSd && !needFd) {
      s.minimumFractionDigits = 0; s.maximumFractionDigits = 0; s.minimumSignificantDigits = 1; s.maximumSignificantDigits = 2;
      s.roundingType = 'morePrecision'; s.roundingPriority = 'morePrecision';
    } else if (priority === 'auto') {
      s.roundingType = needSd ? 'significantDigits' : 'fractionDigits'; s.roundingPriority = 'auto';
    } else { s.roundingType = priority; s.roundingPriority = priority; }
    if (inc !== 1) {
      if (s.roundingType !== 'fractionDigits') throw new TypeError('roundingIncrement requires fraction digit rounding');
      if (s.maximumFractionDigits !== s.minimumFractionDigits) throw new RangeError('maximumFractionDigits must equal minimumFractionDigits with roundingIncrement');
    }
  }
  const digitArgs = (s) => {
    const sig = s.roundingType !== 'fractionDigits';
    const frac = s.roundingType !== 'significantDigits';
    return [s.minimumIntegerDigits, frac ? s.minimumFractionDigits : 0, frac ? s.maximumFractionDigits : 0,
      sig ? s.minimumSignificantDigits : 0, sig ? s.maximumSignificantDigits : 0, s.roundingMode,
      s.roundingType === 'morePrecision' || s.roundingType === 'lessPrecision' ? s.roundingType : 'auto'];
  };
  // Plain decimal text for a numeric string with an exponent.
  function expandExponent(str) {
    const m = /^([+-]?)(\d*)(?:\.(\d*))?[eE]([+-]?\d+)$/.exec(str);
    if (!m) return str;
    let [, sign, int, frac = '', exp] = m;
    let digits = (int || '') + frac;
    let point = (int || '').length + Number(exp);
    if (point <= 0) digits = '0'.repeat(1 - point) + digits, point = 1;
    if (point > digits.length) digits += '0'.repeat(point - digits.length);
    const r = digits.slice(0, point) + (point < digits.length ? '.' + digits.slice(point) : '');
    return sign + (r.replace(/^0+(?=\d)/, '') || '0');
  }
  // ToIntlMathematicalValue: {neg, kind: 'finite'|'nan'|'inf', text}.
  function mathValue(x) {
    if (typeof x === 'bigint') return { kind: 'finite', text: String(x), neg: x < 0n };
    if (isObject(x)) x = typeof x.valueOf === 'function' && typeof x.valueOf() === 'bigint' ? x.valueOf() : x;
    if (typeof x === 'bigint') return { kind: 'finite', text: String(x), neg: x < 0n };
    let text;
    if (typeof x === 'string') {
      const t = x.trim();
      if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) text = expandExponent(t).replace(/^\+/, '');
      else x = Number(x);
    }
    if (text === undefined) {
      x = Number(x);
      if (Number.isNaN(x)) return { kind: 'nan', neg: false };
      if (!Number.isFinite(x)) return { kind: 'inf', neg: x < 0 };
      text = expandExponent(String(x));
      if (Object.is(x, -0)) text = '-0';
    }
    if (text.startsWith('.')) text = '0' + text;
    if (text.startsWith('-.')) text = '-0' + text.slice(1);
    return { kind: 'finite', text, neg: text.startsWith('-') };
  }

  function NumberFormat(locales = undefined, options = undefined) {
    if (!new.target) return new NumberFormat(locales, options);
    const requested = canonicalizeLocaleList(locales);
    options = coerceOptions(options);
    const s = rec('NumberFormat');
    getOption(options, 'localeMatcher', 'string', ['lookup', 'best fit'], 'best fit');
    const nu = getOption(options, 'numberingSystem', 'string', undefined, undefined);
    if (nu !== undefined && !typeRe.test(nu)) throw new RangeError(`Invalid numberingSystem : ${nu}`);
    const r = resolveLocale(requested, { nu }, ['nu'], check);
    s.locale = r.locale; s.numberingSystem = r.nu || 'latn';
    s.style = getOption(options, 'style', 'string', ['decimal', 'percent', 'currency', 'unit'], 'decimal');
    let currency = getOption(options, 'currency', 'string', undefined, undefined);
    if (currency === undefined) { if (s.style === 'currency') throw new TypeError('Currency code is required with currency style.'); }
    else if (!/^[A-Za-z]{3}$/.test(currency)) throw new RangeError(`Invalid currency code : ${currency}`);
    const currencyDisplay = getOption(options, 'currencyDisplay', 'string', ['code', 'symbol', 'narrowSymbol', 'name'], 'symbol');
    const currencySign = getOption(options, 'currencySign', 'string', ['standard', 'accounting'], 'standard');
    const unit = getOption(options, 'unit', 'string', undefined, undefined);
    if (unit === undefined) { if (s.style === 'unit') throw new TypeError('Unit is required with unit style.'); }
    else if (!isWellFormedUnit(unit)) throw new RangeError(`Invalid unit argument for Intl.NumberFormat() '${unit}'`);
    const unitDisplay = getOption(options, 'unitDisplay', 'string', ['short', 'narrow', 'long'], 'short');
    if (s.style === 'currency') {
      if (currency === undefined) throw new TypeError('Currency code is required with currency style.');
      s.currency = currency.toUpperCase(); s.currencyDisplay = currencyDisplay; s.currencySign = currencySign;
    }
    if (s.style === 'unit') {
      if (unit === undefined) throw new TypeError('Unit is required with unit style.');
      s.unit = unit; s.unitDisplay = unitDisplay;
    }
    s.notation = getOption(options, 'notation', 'string', ['standard', 'scientific', 'engineering', 'compact'], 'standard');
    let mnfd = 0, mxfd = s.style === 'percent' ? 0 : 3;
    if (s.style === 'currency' && s.notation === 'standard') { const d = CURRENCY_DIGITS[s.currency] ?? 2; mnfd = d; mxfd = d; }
    setDigitOptions(s, options, mnfd, mxfd, s.notation);
    const compactDisplay = getOption(options, 'compactDisplay', 'string', ['short', 'long'], 'short');
    if (s.notation === 'compact') s.compactDisplay = compactDisplay;
    const defaultGrouping = s.notation === 'compact' ? 'min2' : 'auto';
    s.useGrouping = getBooleanOrStringNumberFormatOption(options, 'useGrouping', ['min2', 'auto', 'always'], defaultGrouping);
    s.signDisplay = getOption(options, 'signDisplay', 'string', ['auto', 'never', 'always', 'exceptZero', 'negative'], 'auto');
    slots.set(this, s);
    return this;
  }
  function formatNumberParts(s, x) {
    const v = mathValue(x);
    const sign = s.signDisplay;
    const showSign = (neg, zero) => sign === 'never' ? '' : neg ? (sign === 'negative' && zero ? '' : '-') : (sign === 'always' || (sign === 'exceptZero' && !zero)) ? '+' : '';
    if (v.kind !== 'finite') {
      const sg = showSign(v.neg, v.kind === 'nan');
      const out = [];
      if (sg) out.push([sg === '-' ? 'minusSign' : 'plusSign', sg]);
      out.push(v.kind === 'nan' ? ['nan', 'NaN'] : ['infinity', '∞']);
      if (s.style === 'percent') out.push(['percentSign', '%']);
      return out;
    }
    let text = v.text;
    if (s.roundingIncrement !== 1) text = roundToIncrement(text, s);
    const grouping = s.useGrouping === false ? 'false' : String(s.useGrouping);
    const locale = withKeys(s.locale, { nu: s.numberingSystem !== 'latn' ? s.numberingSystem : undefined });
    const d = digitArgs(s);
    if (s.trailingZeroDisplay === 'stripIfInteger') {
      const probe = parse(op('number', locale, 'decimal', '', '', 'false', 'never', ...d, text));
      if (!probe.some((p) => p[0] === 'fraction' && /[1-9]/.test(p[1]))) { d[1] = 0; }
    }
    const style = s.style === 'unit' ? 'decimal' : s.style;
    let out = parse(op('number', locale, style, s.currency || '', s.currencyDisplay || '', grouping, sign === 'negative' ? 'negative' : sign, ...d, text, s.notation, s.compactDisplay || '', s.currencySign || ''));
    if (s.notation === 'compact') out = out.map(([t, val]) => (t === 'literal' && /\S/.test(val) ? ['compact', val] : [t, val]));
    out = out.map(([t, val]) => {
      if (t !== 'literal') return [t, val];
      if (s.style === 'currency' && val.trim()) return ['currency', val];
      return [t, val];
    });
    // Split a currency literal that carries spacing ("US$ " / " €").
    const split = [];
    for (const [t, val] of out) {
      if ((t === 'currency' || t === 'percentSign' || t === 'compact') && /^[\s()]|[\s()]$/.test(val)) {
        const m = /^([\s(]*)(.*?)([\s)]*)$/u.exec(val);
        if (m[1]) split.push(['literal', m[1]]);
        if (m[2]) split.push([t, m[2]]);
        if (m[3]) split.push(['literal', m[3]]);
      } else split.push([t, val]);
    }
    if (s.style === 'unit') split.push(['literal', ' '], ['unit', s.unit]);
    return split;
  }
  function roundToIncrement(text, s) {
    const inc = s.roundingIncrement * 10 ** -s.maximumFractionDigits;
    const x = Number(text);
    const q = x / inc;
    const r = ({ ceil: Math.ceil, floor: Math.floor, trunc: Math.trunc, expand: (v) => (v < 0 ? Math.floor(v) : Math.ceil(v)) })[s.roundingMode] || ((v) => {
      const f = Math.floor(v), diff = v - f;
      if (Math.abs(diff - 0.5) > 1e-9) return Math.round(v);
      switch (s.roundingMode) {
        case 'halfEven': return f % 2 === 0 ? f : f + 1;
        case 'halfTrunc': return v < 0 ? f + 1 : f;
        case 'halfCeil': return f + 1;
        case 'halfFloor': return f;
        default: return v < 0 ? f : f + 1;
      }
    });
    return expandExponent(String(r(q) * inc));
  }
  defineClass(NumberFormat, 'NumberFormat', 0);
  boundGetter(NumberFormat, 'format', 'NumberFormat', (nf) => { const f = (x) => joinParts(formatNumberParts(slots.get(nf), x)); Object.defineProperty(f, 'name', { value: '' }); return f; });
  methods(NumberFormat, {
    formatToParts(x) { return parts(formatNumberParts(slot(this, 'NumberFormat', 'formatToParts'), x)); },
    formatRange(a, b) {
      const s = slot(this, 'NumberFormat', 'formatRange');
      if (a === undefined || b === undefined) throw new TypeError('start and end are required');
      const x = mathValue(a), y = mathValue(b);
      if (x.kind === 'nan' || y.kind === 'nan') throw new RangeError('Invalid number range');
      const l = joinParts(formatNumberParts(s, a)), r = joinParts(formatNumberParts(s, b));
      return l === r ? `~${l}` : `${l}–${r}`;
    },
    formatRangeToParts(a, b) {
      const s = slot(this, 'NumberFormat', 'formatRangeToParts');
      if (a === undefined || b === undefined) throw new TypeError('start and end are required');
      const x = mathValue(a), y = mathValue(b);
      if (x.kind === 'nan' || y.kind === 'nan') throw new RangeError('Invalid number range');
      const l = formatNumberParts(s, a), r = formatNumberParts(s, b);
      if (joinParts(l) === joinParts(r)) return [{ type: 'approximatelySign', value: '~', source: 'shared' }, ...l.map(([type, value]) => ({ type, value, source: 'shared' }))];
      return [...l.map(([type, value]) => ({ type, value, source: 'startRange' })), { type: 'literal', value: '–', source: 'shared' }, ...r.map(([type, value]) => ({ type, value, source: 'endRange' }))];
    },
    resolvedOptions() {
      const s = slot(this, 'NumberFormat', 'resolvedOptions');
      return dataObject(['locale', 'numberingSystem', 'style', 'currency', 'currencyDisplay', 'currencySign', 'unit', 'unitDisplay', 'minimumIntegerDigits', 'minimumFractionDigits', 'maximumFractionDigits', 'minimumSignificantDigits', 'maximumSignificantDigits', 'useGrouping', 'notation', 'compactDisplay', 'signDisplay', 'roundingIncrement', 'roundingMode', 'roundingPriority', 'trailingZeroDisplay'].map((k) => [k, s[k]]));
    },
  });

  // --- Plural rules --------------------------------------------------------
  function PluralRules(locales = undefined, options = undefined) {
    if (!new.target) throw new TypeError("Constructor Intl.PluralRules requires 'new'");
    const requested = canonicalizeLocaleList(locales);
    options = coerceOptions(options);
    const s = rec('PluralRules');
    getOption(options, 'localeMatcher', 'string', ['lookup', 'best fit'], 'best fit');
    s.type = getOption(options, 'type', 'string', ['cardinal', 'ordinal'], 'cardinal');
    s.notation = getOption(options, 'notation', 'string', ['standard', 'scientific', 'engineering', 'compact'], 'standard');
    setDigitOptions(s, options, 0, 3, s.notation);
    s.locale = resolveLocale(requested, {}, [], check).locale;
    slots.set(this, s);
  }
  defineClass(PluralRules, 'PluralRules', 0);
  const pluralOf = (s, n) => {
    const v = mathValue(Number(n));
    if (v.kind !== 'finite') return 'other';
    return op('plural', s.locale, s.type, ...digitArgs(s), v.text);
  };
  methods(PluralRules, {
    select(n) { return pluralOf(slot(this, 'PluralRules', 'select'), n); },
    selectRange(a, b) {
      const s = slot(this, 'PluralRules', 'selectRange');
      if (a === undefined || b === undefined) throw new TypeError('start and end are required');
      const x = Number(a), y = Number(b);
      if (Number.isNaN(x) || Number.isNaN(y)) throw new RangeError('Invalid number range');
      return pluralOf(s, y);
    },
    resolvedOptions() {
      const s = slot(this, 'PluralRules', 'resolvedOptions');
      const order = ['zero', 'one', 'two', 'few', 'many', 'other'];
      const cats = parse(op('pluralCategories', s.locale, s.type)).sort((a, b) => order.indexOf(a) - order.indexOf(b));
      return dataObject([['locale', s.locale], ['type', s.type], ['notation', s.notation], ['minimumIntegerDigits', s.minimumIntegerDigits],
        ...['minimumFractionDigits', 'maximumFractionDigits', 'minimumSignificantDigits', 'maximumSignificantDigits'].map((k) => [k, s[k]]),
        ['pluralCategories', cats], ['roundingIncrement', s.roundingIncrement], ['roundingMode', s.roundingMode], ['roundingPriority', s.roundingPriority], ['trailingZeroDisplay', s.trailingZeroDisplay]]);
    },
  });

  // --- Collator ------------------------------------------------------------
  function Collator(locales = undefined, options = undefined) {
    if (!new.target) return new Collator(locales, options);
    const requested = canonicalizeLocaleList(locales);
    options = coerceOptions(options);
    const s = rec('Collator');
    s.usage = getOption(options, 'usage', 'string', ['sort', 'search'], 'sort');
    getOption(options, 'localeMatcher', 'string', ['lookup', 'best fit'], 'best fit');
    const co = getOption(options, 'collation', 'string', undefined, undefined);
    if (co !== undefined && !typeRe.test(co)) throw new RangeError(`Invalid collation : ${co}`);
    let kn = getOption(options, 'numeric', 'boolean', undefined, undefined);
    if (kn !== undefined) kn = String(kn);
    const kf = getOption(options, 'caseFirst', 'string', ['upper', 'lower', 'false'], undefined);
    const r = resolveLocale(requested, { co, kn, kf }, ['co', 'kn', 'kf'], (k, v) => k === 'co' ? false : check(k, v));
    s.locale = r.locale; s.collation = 'default'; s.numeric = r.kn === 'true' || r.kn === ''; s.caseFirst = r.kf || 'false';
    const sens = getOption(options, 'sensitivity', 'string', ['base', 'accent', 'case', 'variant'], undefined);
    s.sensitivity = sens === undefined ? 'variant' : sens;
    s.ignorePunctuation = getOption(options, 'ignorePunctuation', 'boolean', undefined, false);
    s.icu = withKeys(r.dataLocale, { kn: s.numeric ? 'true' : undefined, kf: s.caseFirst !== 'false' ? s.caseFirst : undefined });
    slots.set(this, s);
    return this;
  }
  defineClass(Collator, 'Collator', 0);
  const compareWith = (s, a, b) => Number(op('collate', s.icu, s.sensitivity, String(s.ignorePunctuation), toStr(a), toStr(b)));
  boundGetter(Collator, 'compare', 'Collator', (c) => { const f = (a, b) => compareWith(slots.get(c), a, b); Object.defineProperty(f, 'name', { value: '' }); return f; });
  methods(Collator, {
    resolvedOptions() {
      const s = slot(this, 'Collator', 'resolvedOptions');
      return dataObject([['locale', s.locale], ['usage', s.usage], ['sensitivity', s.sensitivity], ['ignorePunctuation', s.ignorePunctuation], ['collation', s.collation], ['numeric', s.numeric], ['caseFirst', s.caseFirst]]);
    },
  });

  // --- DateTimeFormat ------------------------------------------------------
  const timeZoneOf = (tz) => {
    const name = toStr(tz);
    const c = op('timeZone', name);
    if (!c) throw new RangeError(`Invalid time zone specified: ${name}`);
    return c;
  };
  const COMPONENTS = [
    ['weekday', ['narrow', 'short', 'long']], ['era', ['narrow', 'short', 'long']], ['year', ['2-digit', 'numeric']],
    ['month', ['2-digit', 'numeric', 'narrow', 'short', 'long']], ['day', ['2-digit', 'numeric']],
    ['dayPeriod', ['narrow', 'short', 'long']], ['hour', ['2-digit', 'numeric']], ['minute', ['2-digit', 'numeric']],
    ['second', ['2-digit', 'numeric']], ['fractionalSecondDigits', null],
    ['timeZoneName', ['short', 'long', 'shortOffset', 'longOffset', 'shortGeneric', 'longGeneric']],
  ];
  function DateTimeFormat(locales = undefined, options = undefined) {
    if (!new.target) return new DateTimeFormat(locales, options);
    createDateTimeFormat(this, locales, options, 'any', 'date');
    return this;
  }
  function createDateTimeFormat(dtf, locales, options, required, defaults) {
    const requested = canonicalizeLocaleList(locales);
    options = coerceOptions(options);
    const s = rec('DateTimeFormat');
    getOption(options, 'localeMatcher', 'string', ['lookup', 'best fit'], 'best fit');
    const ca = getOption(options, 'calendar', 'string', undefined, undefined);
    if (ca !== undefined && !typeRe.test(ca)) throw new RangeError(`Invalid calendar : ${ca}`);
    const nu = getOption(options, 'numberingSystem', 'string', undefined, undefined);
    if (nu !== undefined && !typeRe.test(nu)) throw new RangeError(`Invalid numberingSystem : ${nu}`);
    const hour12 = getOption(options, 'hour12', 'boolean', undefined, undefined);
    let hc = getOption(options, 'hourCycle', 'string', ['h11', 'h12', 'h23', 'h24'], undefined);
    if (hour12 !== undefined) hc = null;
    const r = resolveLocale(requested, { ca: ca && canonCalendar(ca.toLowerCase()), nu, hc }, ['ca', 'hc', 'nu'], check);
    s.locale = r.locale; s.calendar = r.ca || 'gregory'; s.numberingSystem = r.nu || 'latn';
    let tz = options.timeZone;
    s.timeZone = tz === undefined ? timeZoneOf(op('defaultTimeZone')) : timeZoneOf(tz);
    const fmt = Object.create(null);
    for (const [k, values] of COMPONENTS) {
      if (k === 'fractionalSecondDigits') fmt[k] = getNumberOption(options, k, 1, 3, undefined);
      else fmt[k] = getOption(options, k, 'string', values, undefined);
    }
    getOption(options, 'formatMatcher', 'string', ['basic', 'best fit'], 'best fit');
    const dateStyle = getOption(options, 'dateStyle', 'string', ['full', 'long', 'medium', 'short'], undefined);
    const timeStyle = getOption(options, 'timeStyle', 'string', ['full', 'long', 'medium', 'short'], undefined);
    s.dateStyle = dateStyle; s.timeStyle = timeStyle;
    const anyComponent = COMPONENTS.some(([k]) => fmt[k] !== undefined);
    if (dateStyle !== undefined || timeStyle !== undefined) {
      if (anyComponent) throw new TypeError(`Can't set option ${COMPONENTS.find(([k]) => fmt[k] !== undefined)[0]} when ${dateStyle !== undefined ? 'dateStyle' : 'timeStyle'} is used`);
      if (required === 'date' && timeStyle !== undefined && dateStyle === undefined) throw new TypeError('Invalid option : timeStyle');
      if (required === 'time' && dateStyle !== undefined && timeStyle === undefined) throw new TypeError('Invalid option : dateStyle');
    } else {
      let needDefaults = true;
      const dateKeys = ['weekday', 'year', 'month', 'day'], timeKeys = ['dayPeriod', 'hour', 'minute', 'second', 'fractionalSecondDigits'];
      if ((required === 'date' || required === 'any') && dateKeys.some((k) => fmt[k] !== undefined)) needDefaults = false;
      if ((required === 'time' || required === 'any') && timeKeys.some((k) => fmt[k] !== undefined)) needDefaults = false;
      if (needDefaults && (defaults === 'date' || defaults === 'all')) fmt.year = fmt.month = fmt.day = 'numeric';
      if (needDefaults && (defaults === 'time' || defaults === 'all')) fmt.hour = fmt.minute = fmt.second = 'numeric';
    }
    // Hour cycle: explicit, from hour12, or the locale's.
    let cycle = r.hc;
    if (hour12 !== undefined) cycle = hour12 ? (/^ja/.test(r.dataLocale) ? 'h11' : 'h12') : 'h23';
    if (fmt.hour !== undefined || timeStyle !== undefined) {
      if (!cycle) cycle = localeHourCycle(r.dataLocale);
      s.hourCycle = cycle; s.hour12 = cycle === 'h11' || cycle === 'h12';
    }
    s.fmt = fmt;
    s.icu = withKeys(r.dataLocale, { ca: s.calendar !== 'gregory' ? s.calendar : undefined, nu: s.numberingSystem !== 'latn' ? s.numberingSystem : undefined, hc: s.hourCycle });
    if (dateStyle !== undefined || timeStyle !== undefined) { s.kindOf = 'style'; s.spec = `${dateStyle || ''},${timeStyle || ''}`; }
    else {
      s.kindOf = 'skeleton';
      const f = fmt;
      let k = '';
      if (f.era) k += { narrow: 'GGGGG', short: 'G', long: 'GGGG' }[f.era];
      if (f.year) k += f.year === '2-digit' ? 'yy' : 'y';
      if (f.month) k += { '2-digit': 'MM', numeric: 'M', narrow: 'MMMMM', short: 'MMM', long: 'MMMM' }[f.month];
      if (f.weekday) k += { narrow: 'EEEEE', short: 'E', long: 'EEEE' }[f.weekday];
      if (f.day) k += f.day === '2-digit' ? 'dd' : 'd';
      if (f.hour) { const c = { h11: 'K', h12: 'h', h23: 'H', h24: 'k' }[s.hourCycle] || 'j'; k += f.hour === '2-digit' ? c + c : c; }
      if (f.minute) k += f.minute === '2-digit' ? 'mm' : 'm';
      if (f.second) k += f.second === '2-digit' ? 'ss' : 's';
      if (f.fractionalSecondDigits) k += 'S'.repeat(f.fractionalSecondDigits);
      if (f.timeZoneName) k += { short: 'z', long: 'zzzz', shortOffset: 'O', longOffset: 'OOOO', shortGeneric: 'v', longGeneric: 'vvvv' }[f.timeZoneName];
      s.spec = k;
    }
    slots.set(dtf, s);
  }
  function localeHourCycle(loc) {
    const p = parse(op('dateTime', loc, 'skeleton', 'j', 'UTC', '46800000'));
    return p.some(([t]) => t === 'dayPeriod') ? (/^ja/.test(loc) ? 'h11' : 'h12') : 'h23';
  }
  function toTime(x) {
    let t = x === undefined ? Date.now() : (isObject(x) && x instanceof Date ? x.getTime() : Number(x));
    if (!Number.isFinite(t) || Math.abs(t) > 8.64e15) throw new RangeError('Invalid time value');
    return Math.trunc(t) + 0;
  }
  const formatDateParts = (s, x) => parse(op('dateTime', s.icu, s.kindOf, s.spec, s.timeZone, String(toTime(x))));
  defineClass(DateTimeFormat, 'DateTimeFormat', 0);
  boundGetter(DateTimeFormat, 'format', 'DateTimeFormat', (d) => { const f = (x) => joinParts(formatDateParts(slots.get(d), x)); Object.defineProperty(f, 'name', { value: '' }); return f; });
  methods(DateTimeFormat, {
    formatToParts(x) { return parts(formatDateParts(slot(this, 'DateTimeFormat', 'formatToParts'), x)).map((p) => (p.type === 'second' && p.value.includes('.') ? p : p)); },
    formatRange(a, b) {
      const s = slot(this, 'DateTimeFormat', 'formatRange');
      if (a === undefined || b === undefined) throw new TypeError('startDate and endDate are required');
      const l = joinParts(formatDateParts(s, a)), r = joinParts(formatDateParts(s, b));
      return l === r ? l : `${l} – ${r}`;
    },
    formatRangeToParts(a, b) {
      const s = slot(this, 'DateTimeFormat', 'formatRangeToParts');
      if (a === undefined || b === undefined) throw new TypeError('startDate and endDate are required');
      const l = parts(formatDateParts(s, a)).map((p) => ({ ...p, source: 'startRange' }));
      const r = parts(formatDateParts(s, b)).map((p) => ({ ...p, source: 'endRange' }));
      if (joinParts(l.map((p) => [0, p.value])) === joinParts(r.map((p) => [0, p.value]))) return l.map((p) => ({ ...p, source: 'shared' }));
      return l.concat([{ type: 'literal', value: ' – ', source: 'shared' }], r);
    },
    resolvedOptions() {
      const s = slot(this, 'DateTimeFormat', 'resolvedOptions');
      return dataObject([['locale', s.locale], ['calendar', s.calendar], ['numberingSystem', s.numberingSystem], ['timeZone', s.timeZone],
        ['hourCycle', s.hourCycle], ['hour12', s.hour12], ...COMPONENTS.map(([k]) => [k, s.fmt[k]]), ['dateStyle', s.dateStyle], ['timeStyle', s.timeStyle]]);
    },
  });

  // --- RelativeTimeFormat --------------------------------------------------
  const RT_UNITS = { second: 'second', seconds: 'second', minute: 'minute', minutes: 'minute', hour: 'hour', hours: 'hour', day: 'day', days: 'day', week: 'week', weeks: 'week', month: 'month', months: 'month', quarter: 'quarter', quarters: 'quarter', year: 'year', years: 'year' };
  function RelativeTimeFormat(locales = undefined, options = undefined) {
    if (!new.target) throw new TypeError("Constructor Intl.RelativeTimeFormat requires 'new'");
    const requested = canonicalizeLocaleList(locales);
    options = coerceOptions(options);
    const s = rec('RelativeTimeFormat');
    getOption(options, 'localeMatcher', 'string', ['lookup', 'best fit'], 'best fit');
    const nu = getOption(options, 'numberingSystem', 'string', undefined, undefined);
    if (nu !== undefined && !typeRe.test(nu)) throw new RangeError(`Invalid numberingSystem : ${nu}`);
    const r = resolveLocale(requested, { nu }, ['nu'], check);
    s.locale = r.locale; s.numberingSystem = r.nu || 'latn';
    s.style = getOption(options, 'style', 'string', ['long', 'short', 'narrow'], 'long');
    s.numeric = getOption(options, 'numeric', 'string', ['always', 'auto'], 'always');
    slots.set(this, s);
  }
  defineClass(RelativeTimeFormat, 'RelativeTimeFormat', 0);
  function relParts(s, value, unit) {
    const v = Number(value);
    const us = toStr(unit);
    const u = RT_UNITS[us];
    if (!u) throw new RangeError(`Invalid unit argument for format() '${us}'`);
    if (!Number.isFinite(v)) throw new RangeError('Invalid value');
    const text = Object.is(v, -0) ? '-0' : expandExponent(String(v));
    return parse(op('relativeTime', withKeys(s.locale, { nu: s.numberingSystem !== 'latn' ? s.numberingSystem : undefined }), s.style, s.numeric, u, text)).map(([t, val]) => (t === 'literal' ? [t, val] : [t, val, u]));
  }
  methods(RelativeTimeFormat, {
    format(value, unit) { return joinParts(relParts(slot(this, 'RelativeTimeFormat', 'format'), value, unit)); },
    formatToParts(value, unit) { return relParts(slot(this, 'RelativeTimeFormat', 'formatToParts'), value, unit).map(([type, value, unit]) => (unit ? { type, value, unit } : { type, value })); },
    resolvedOptions() {
      const s = slot(this, 'RelativeTimeFormat', 'resolvedOptions');
      return dataObject([['locale', s.locale], ['style', s.style], ['numeric', s.numeric], ['numberingSystem', s.numberingSystem]]);
    },
  });

  // --- ListFormat ----------------------------------------------------------
  function ListFormat(locales = undefined, options = undefined) {
    if (!new.target) throw new TypeError("Constructor Intl.ListFormat requires 'new'");
    const requested = canonicalizeLocaleList(locales);
    options = getOptionsObject(options);
    const s = rec('ListFormat');
    getOption(options, 'localeMatcher', 'string', ['lookup', 'best fit'], 'best fit');
    s.locale = resolveLocale(requested, {}, [], check).locale;
    s.type = getOption(options, 'type', 'string', ['conjunction', 'disjunction', 'unit'], 'conjunction');
    s.style = getOption(options, 'style', 'string', ['long', 'short', 'narrow'], 'long');
    slots.set(this, s);
  }
  defineClass(ListFormat, 'ListFormat', 0);
  function stringList(iterable) {
    if (iterable === undefined) return [];
    const out = [];
    for (const v of iterable) {
      if (typeof v !== 'string') throw new TypeError(`Iterable yielded ${String(v)} which is not a string`);
      out.push(v);
    }
    return out;
  }
  const listParts = (s, list) => parse(op('list', s.locale, s.type, s.style === 'long' ? 'wide' : s.style, ...list));
  methods(ListFormat, {
    format(list) { const s = slot(this, 'ListFormat', 'format'); return joinParts(listParts(s, stringList(list))); },
    formatToParts(list) { const s = slot(this, 'ListFormat', 'formatToParts'); return parts(listParts(s, stringList(list))); },
    resolvedOptions() { const s = slot(this, 'ListFormat', 'resolvedOptions'); return dataObject([['locale', s.locale], ['type', s.type], ['style', s.style]]); },
  });

  // --- Segmenter -----------------------------------------------------------
  function Segmenter(locales = undefined, options = undefined) {
    if (!new.target) throw new TypeError("Constructor Intl.Segmenter requires 'new'");
    const requested = canonicalizeLocaleList(locales);
    options = getOptionsObject(options);
    const s = rec('Segmenter');
    getOption(options, 'localeMatcher', 'string', ['lookup', 'best fit'], 'best fit');
    s.locale = resolveLocale(requested, {}, [], check).locale;
    s.granularity = getOption(options, 'granularity', 'string', ['grapheme', 'word', 'sentence'], 'grapheme');
    slots.set(this, s);
  }
  defineClass(Segmenter, 'Segmenter', 0);
  const SegmentsProto = {};
  const SegmentIteratorProto = Object.create(Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]())));
  tag(SegmentIteratorProto, 'Segmenter String Iterator');
  const breaksOf = (seg) => seg.breaks || (seg.breaks = parse(op('segment', seg.granularity, seg.locale, seg.string)));
  function segmentAt(seg, i) {
    const b = breaksOf(seg);
    for (let k = 0; k + 1 < b.length; k++) {
      if (i >= b[k][0] && i < b[k + 1][0]) {
        const o = { segment: seg.string.slice(b[k][0], b[k + 1][0]), index: b[k][0], input: seg.string };
        if (seg.granularity === 'word') o.isWordLike = b[k + 1][1] === 1;
        return o;
      }
    }
    return undefined;
  }
  def(SegmentsProto, 'containing', { containing(index) {
    const seg = slots.get(this);
    if (!seg || seg.kind !== 'Segments') throw new TypeError('containing called on incompatible receiver');
    let n = Math.trunc(+index) || 0;
    if (n < 0 || n >= seg.string.length) return undefined;
    return segmentAt(seg, n);
  } }.containing);
  def(SegmentsProto, Symbol.iterator, { [Symbol.iterator]() {
    const seg = slots.get(this);
    if (!seg || seg.kind !== 'Segments') throw new TypeError('Segments iterator called on incompatible receiver');
    const it = Object.create(SegmentIteratorProto);
    slots.set(it, { kind: 'SegmentIterator', seg, pos: 0 });
    return it;
  } }[Symbol.iterator]);
  def(SegmentIteratorProto, 'next', { next() {
    const st = slots.get(this);
    if (!st || st.kind !== 'SegmentIterator') throw new TypeError('next called on incompatible receiver');
    if (st.pos >= st.seg.string.length) return { value: undefined, done: true };
    const v = segmentAt(st.seg, st.pos);
    st.pos = v.index + v.segment.length;
    return { value: v, done: false };
  } }.next);
  methods(Segmenter, {
    segment(string) {
      const s = slot(this, 'Segmenter', 'segment');
      const o = Object.create(SegmentsProto);
      slots.set(o, { kind: 'Segments', string: toStr(string), granularity: s.granularity, locale: s.locale });
      return o;
    },
    resolvedOptions() { const s = slot(this, 'Segmenter', 'resolvedOptions'); return dataObject([['locale', s.locale], ['granularity', s.granularity]]); },
  });

  // --- Locale --------------------------------------------------------------
  const langRe = /^([a-z]{2,3}|[a-z]{5,8})$/i, scriptRe = /^[a-z]{4}$/i, regionRe = /^([a-z]{2}|\d{3})$/i;
  function Locale(tagArg, options = undefined) {
    if (!new.target) throw new TypeError("Constructor Intl.Locale requires 'new'");
    if (typeof tagArg !== 'string' && !isObject(tagArg)) throw new TypeError('First argument to Intl.Locale constructor can\'t be empty or missing');
    let t = isObject(tagArg) && slots.get(tagArg)?.kind === 'Locale' ? slots.get(tagArg).tag : String(tagArg);
    options = coerceOptions(options);
    t = canonical(t);
    let { base, keys, others, attrs } = splitTag(t);
    let [language, ...rest] = base.split('-');
    let script, region; const variants = [];
    for (const p of rest) {
      if (!script && !region && !variants.length && scriptRe.test(p)) script = p;
      else if (!region && !variants.length && regionRe.test(p)) region = p;
      else variants.push(p);
    }
    const l = getOption(options, 'language', 'string', undefined, undefined);
    if (l !== undefined) { if (!langRe.test(l)) throw new RangeError(`Incorrect locale information provided`); language = l; }
    const sc = getOption(options, 'script', 'string', undefined, undefined);
    if (sc !== undefined) { if (!scriptRe.test(sc)) throw new RangeError(`Incorrect locale information provided`); script = sc; }
    const rg = getOption(options, 'region', 'string', undefined, undefined);
    if (rg !== undefined) { if (!regionRe.test(rg)) throw new RangeError(`Incorrect locale information provided`); region = rg; }
    const kv = (k, name, values, type = 'string') => {
      let v = getOption(options, name, type, values, undefined);
      if (v !== undefined) { v = String(v); if (!typeRe.test(v)) throw new RangeError(`Incorrect locale information provided`); keys[k] = v; }
    };
    kv('ca', 'calendar'); kv('co', 'collation'); kv('hc', 'hourCycle', ['h11', 'h12', 'h23', 'h24']);
    kv('kf', 'caseFirst', ['upper', 'lower', 'false']);
    const kn = getOption(options, 'numeric', 'boolean', undefined, undefined);
    if (kn !== undefined) keys.kn = String(kn);
    kv('nu', 'numberingSystem');
    const vs = getOption(options, 'variants', 'string', undefined, undefined);
    if (vs !== undefined) {
      const list = vs.split('-');
      if (!vs || list.some((v) => !/^([a-z0-9]{5,8}|\d[a-z0-9]{3})$/i.test(v)) || new Set(list.map((v) => v.toLowerCase())).size !== list.length) throw new RangeError('Incorrect locale information provided');
      variants.length = 0; variants.push(...list);
    }
    const fw = getOption(options, 'firstDayOfWeek', 'string', undefined, undefined);
    if (fw !== undefined) {
      const days = { 0: 'sun', 1: 'mon', 2: 'tue', 3: 'wed', 4: 'thu', 5: 'fri', 6: 'sat', 7: 'sun' };
      const v = days[fw] || fw;
      if (!typeRe.test(v)) throw new RangeError('Incorrect locale information provided');
      keys.fw = v;
    }
    let nb = [language, script, region, ...variants].filter(Boolean).join('-');
    let u = attrs.length ? '-' + attrs.join('-') : '';
    for (const k of Object.keys(keys).sort()) u += `-${k}${keys[k] === 'true' ? '' : '-' + keys[k]}`;
    const others2 = others.filter((o) => !/^u-/i.test(o));
    let full = nb + (u ? '-u' + u : '') + (others2.length ? '-' + others2.join('-') : '');
    full = canonical(full);
    slots.set(this, { kind: 'Locale', tag: full });
  }
  defineClass(Locale, 'Locale', 1);
  delete Locale.supportedLocalesOf;
  const lget = (name, f) => Object.defineProperty(Locale.prototype, name, { configurable: true, enumerable: false, get: { [`get ${name}`]() { return f(slot(this, 'Locale', name).tag); } }[`get ${name}`] });
  const baseParts = (t) => {
    const [language, ...rest] = splitTag(t).base.split('-');
    let script, region;
    for (const p of rest) { if (!script && !region && scriptRe.test(p)) script = p; else if (!region && regionRe.test(p)) region = p; }
    return { language, script, region };
  };
  lget('baseName', (t) => splitTag(t).base);
  lget('calendar', (t) => splitTag(t).keys.ca);
  lget('caseFirst', (t) => { const v = splitTag(t).keys.kf; return v === 'true' ? '' : v; });
  lget('collation', (t) => splitTag(t).keys.co);
  lget('hourCycle', (t) => splitTag(t).keys.hc);
  lget('numeric', (t) => { const v = splitTag(t).keys.kn; return v === 'true' || v === ''; });
  lget('numberingSystem', (t) => splitTag(t).keys.nu);
  lget('language', (t) => baseParts(t).language);
  lget('script', (t) => baseParts(t).script);
  lget('region', (t) => baseParts(t).region);
  lget('variants', (t) => { const p = splitTag(t).base.split('-').slice(1).filter((x) => !scriptRe.test(x) && !regionRe.test(x)); return p.length ? p.join('-') : undefined; });
  lget('firstDayOfWeek', (t) => splitTag(t).keys.fw);
  const regionOf = (t) => baseParts(op('maximize', splitTag(t).base)).region;
  const WEEKEND_FRI_SAT = ['AE', 'BH', 'DZ', 'EG', 'IQ', 'JO', 'KW', 'LY', 'OM', 'QA', 'SA', 'SD', 'SY', 'YE'];
  const FIRST_SUNDAY = ['AG', 'AS', 'BD', 'BR', 'BS', 'BT', 'BW', 'BZ', 'CA', 'CN', 'CO', 'DM', 'DO', 'ET', 'GT', 'GU', 'HK', 'HN', 'ID', 'IL', 'IN', 'JM', 'JP', 'KE', 'KH', 'KR', 'LA', 'MH', 'MM', 'MO', 'MT', 'MX', 'MZ', 'NI', 'NP', 'PA', 'PE', 'PH', 'PK', 'PR', 'PT', 'PY', 'SA', 'SG', 'SV', 'TH', 'TT', 'TW', 'UM', 'US', 'VE', 'VI', 'WS', 'YE', 'ZA', 'ZW'];
  methods(Locale, {
    getCalendars() { const t = slot(this, 'Locale', 'getCalendars').tag; const ca = splitTag(t).keys.ca; if (ca) return [ca]; const r = regionOf(t); return [r === 'TH' ? 'buddhist' : r === 'IR' || r === 'AF' ? 'persian' : 'gregory']; },
    getCollations() { const t = slot(this, 'Locale', 'getCollations').tag; const co = splitTag(t).keys.co; return co ? [co] : ['emoji', 'eor']; },
    getHourCycles() { const t = slot(this, 'Locale', 'getHourCycles').tag; const hc = splitTag(t).keys.hc; return [hc || localeHourCycle(op('lookup', splitTag(t).base) || defaultLocale())]; },
    getNumberingSystems() { const t = slot(this, 'Locale', 'getNumberingSystems').tag; const nu = splitTag(t).keys.nu; return [nu || 'latn']; },
    getTimeZones() { const t = slot(this, 'Locale', 'getTimeZones').tag; const r = baseParts(t).region; if (!r) return undefined; return r === 'US' ? ['America/New_York'] : []; },
    getTextInfo() { const t = slot(this, 'Locale', 'getTextInfo').tag; const sc = baseParts(op('maximize', splitTag(t).base)).script; return dataObject([['direction', ['Arab', 'Hebr', 'Thaa', 'Syrc', 'Nkoo', 'Adlm', 'Rohg', 'Mand'].includes(sc) ? 'rtl' : 'ltr']]); },
    getWeekInfo() {
      const t = slot(this, 'Locale', 'getWeekInfo').tag;
      const fw = splitTag(t).keys.fw;
      const r = regionOf(t);
      const fromKey = { mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6, sun: 7 }[fw];
      const firstDay = fromKey || (FIRST_SUNDAY.includes(r) ? 7 : WEEKEND_FRI_SAT.includes(r) ? 6 : 1);
      return dataObject([['firstDay', firstDay], ['weekend', WEEKEND_FRI_SAT.includes(r) ? [5, 6] : [6, 7]], ['minimalDays', ['AD', 'AN', 'AT', 'AX', 'BE', 'BG', 'CH', 'CZ', 'DE', 'DK', 'EE', 'ES', 'FI', 'FJ', 'FO', 'FR', 'GB', 'GF', 'GG', 'GI', 'GP', 'GR', 'HU', 'IE', 'IM', 'IS', 'IT', 'JE', 'LI', 'LT', 'LU', 'MC', 'MQ', 'NL', 'NO', 'PL', 'RE', 'RU', 'SE', 'SJ', 'SK', 'SM', 'VA'].includes(r) ? 4 : 1]]);
    },
  });
  methods(Locale, {
    maximize() { const t = slot(this, 'Locale', 'maximize').tag; return new Locale(op('maximize', t)); },
    minimize() { const t = slot(this, 'Locale', 'minimize').tag; return new Locale(op('minimize', t)); },
    toString() { return slot(this, 'Locale', 'toString').tag; },
  });

  // --- ECMA-262 methods routed through Intl ---------------------------------
  const cached = new Map();
  const defaultInstance = (C, locales, options) => {
    if (locales !== undefined || options !== undefined) return new C(locales, options);
    let v = cached.get(C);
    if (!v) cached.set(C, (v = new C()));
    return v;
  };
  const dateLocale = (required, defaults) => function (orig, locales = undefined, options = undefined) {
    const t = Date.prototype.getTime.call(this);
    if (Number.isNaN(t)) return 'Invalid Date';
    const key = required + defaults;
    let dtf;
    if (locales === undefined && options === undefined) {
      dtf = cached.get(key);
      if (!dtf) { dtf = Object.create(DateTimeFormat.prototype); createDateTimeFormat(dtf, undefined, undefined, required, defaults); cached.set(key, dtf); }
    } else { dtf = Object.create(DateTimeFormat.prototype); createDateTimeFormat(dtf, locales, options, required, defaults); }
    return joinParts(formatDateParts(slots.get(dtf), t));
  };
  const thisNumber = (v, type) => {
    if (typeof v === type) return v;
    if (isObject(v)) { try { const p = (type === 'number' ? Number : BigInt).prototype.valueOf.call(v); return p; } catch (e) { /* fall through */ } }
    throw new TypeError(`${type === 'number' ? 'Number' : 'BigInt'}.prototype.toLocaleString requires that 'this' be a ${type === 'number' ? 'Number' : 'BigInt'}`);
  };
  const caseMap = (upper) => function (orig, locales = undefined) {
    if (this == null) throw new TypeError('String.prototype.toLocale' + (upper ? 'UpperCase' : 'LowerCase') + ' called on null or undefined');
    const s = String(this);
    const req = canonicalizeLocaleList(locales);
    const loc = req.length ? (op('lookup', splitTag(req[0]).base) || defaultLocale()) : defaultLocale();
    return op(upper ? 'upper' : 'lower', loc.split('-')[0], s);
  };
  const numberLocale = (type) => function (orig, locales = undefined, options = undefined) {
    const x = thisNumber(this, type);
    return defaultInstance(NumberFormat, locales, options).format(x);
  };
  // Keyed as the boot code routes them (see mod.rs, BOOT).
  const routed = {
    'Date.toLocaleString': dateLocale('any', 'all'),
    'Date.toLocaleDateString': dateLocale('date', 'date'),
    'Date.toLocaleTimeString': dateLocale('time', 'time'),
    'Number.toLocaleString': numberLocale('number'),
    'BigInt.toLocaleString': numberLocale('bigint'),
    'String.localeCompare'(orig, that, locales = undefined, options = undefined) {
      if (this == null) throw new TypeError('String.prototype.localeCompare called on null or undefined');
      const s = String(this), t = String(that);
      return compareWith(slots.get(defaultInstance(Collator, locales, options)), s, t);
    },
    'String.toLocaleUpperCase': caseMap(true),
    'String.toLocaleLowerCase': caseMap(false),
    'Array.toLocaleString'(orig, locales = undefined, options = undefined) {
      const a = toObject(this);
      const len = Math.min(Math.max(Math.floor(Number(a.length)) || 0, 0), 2 ** 53 - 1);
      let r = '';
      for (let k = 0; k < len; k++) {
        if (k > 0) r += ',';
        const e = a[k];
        if (e !== undefined && e !== null) r += String(toObject(e).toLocaleString(locales, options));
      }
      return r;
    },
  };
  def(global, 'Intl', Intl);
  return [Intl, routed];
})
