(function (n) {
  'use strict';
  // Web platform globals of the guest (see webapi.rs and
  // docs/guest-builtins.md), evaluated on first use. `n` holds the natives;
  // it is not reachable from user code once this function returns.
  const def = (o, k, v) =>
    Object.defineProperty(o, k, { value: v, writable: true, configurable: true, enumerable: false });
  const tag = (C, name) =>
    Object.defineProperty(C.prototype, Symbol.toStringTag, { value: name, configurable: true });
  const named = (name, f) => Object.defineProperty(f, 'name', { value: name, configurable: true });

  // ---------------------------------------------------------------- URL
  // WHATWG URL Standard, parsing and setters by the `url` crate.
  const urlParse = n.urlParse, urlSet = n.urlSet;
  const formParse = n.formParse, formSerialize = n.formSerialize;
  // Component indices in the natives' arrays.
  const HREF = 0, ORIGIN = 1, PROTOCOL = 2, USERNAME = 3, PASSWORD = 4, HOST = 5, HOSTNAME = 6,
    PORT = 7, PATHNAME = 8, SEARCH = 9, HASH = 10;
  let setParamsList, paramsOf, setUrlOf;

  class URLSearchParams {
    #list = [];
    #url = null;
    constructor(init = '') {
      if (init instanceof URLSearchParams) {
        this.#list = init.#list.slice();
      } else if (init !== null && (typeof init === 'object' || typeof init === 'function')) {
        const it = init[Symbol.iterator];
        if (it !== undefined && it !== null) {
          if (typeof it !== 'function') throw new TypeError("URLSearchParams: the init's Symbol.iterator is not a function");
          for (const pair of init) {
            if (pair === null || (typeof pair !== 'object' && typeof pair !== 'function')) {
              throw new TypeError('URLSearchParams: each pair must be a sequence of two strings');
            }
            const p = Array.from(pair);
            if (p.length !== 2) throw new TypeError('URLSearchParams: each pair must be a sequence of exactly two strings');
            this.#list.push(usv(p[0]), usv(p[1]));
          }
        } else {
          for (const k of Reflect.ownKeys(init)) {
            const d = Reflect.getOwnPropertyDescriptor(init, k);
            if (d === undefined || !d.enumerable) continue;
            if (typeof k === 'symbol') throw new TypeError('URLSearchParams: record keys must be strings');
            this.#list.push(usv(k), usv(init[k]));
          }
        }
      } else {
        let s = String(init);
        if (s.startsWith('?')) s = s.slice(1);
        this.#list = formParse(s);
      }
    }
    static {
      setParamsList = (p, query) => { p.#list = query ? formParse(query) : []; };
      setUrlOf = (p, url) => { p.#url = url; };
    }
    #update() {
      if (this.#url !== null) paramsOf(this.#url, this.toString());
    }
    get size() { return this.#list.length / 2; }
    append(name, value) {
      if (arguments.length < 2) throw new TypeError('URLSearchParams.append: 2 arguments required');
      this.#list.push(usv(name), usv(value));
      this.#update();
    }
    delete(name, value) {
      if (arguments.length < 1) throw new TypeError('URLSearchParams.delete: 1 argument required');
      name = usv(name);
      const v = value === undefined ? undefined : usv(value);
      const l = this.#list, out = [];
      for (let i = 0; i < l.length; i += 2) {
        if (l[i] === name && (v === undefined || l[i + 1] === v)) continue;
        out.push(l[i], l[i + 1]);
      }
      this.#list = out;
      this.#update();
    }
    get(name) {
      if (arguments.length < 1) throw new TypeError('URLSearchParams.get: 1 argument required');
      name = usv(name);
      const l = this.#list;
      for (let i = 0; i < l.length; i += 2) if (l[i] === name) return l[i + 1];
      return null;
    }
    getAll(name) {
      if (arguments.length < 1) throw new TypeError('URLSearchParams.getAll: 1 argument required');
      name = usv(name);
      const l = this.#list, out = [];
      for (let i = 0; i < l.length; i += 2) if (l[i] === name) out.push(l[i + 1]);
      return out;
    }
    has(name, value) {
      if (arguments.length < 1) throw new TypeError('URLSearchParams.has: 1 argument required');
      name = usv(name);
      const v = value === undefined ? undefined : usv(value);
      const l = this.#list;
      for (let i = 0; i < l.length; i += 2) if (l[i] === name && (v === undefined || l[i + 1] === v)) return true;
      return false;
    }
    set(name, value) {
      if (arguments.length < 2) throw new TypeError('URLSearchParams.set: 2 arguments required');
      name = usv(name);
      value = usv(value);
      const l = this.#list, out = [];
      let found = false;
      for (let i = 0; i < l.length; i += 2) {
        if (l[i] !== name) out.push(l[i], l[i + 1]);
        else if (!found) { out.push(name, value); found = true; }
      }
      if (!found) out.push(name, value);
      this.#list = out;
      this.#update();
    }
    sort() {
      const l = this.#list, pairs = [];
      for (let i = 0; i < l.length; i += 2) pairs.push([l[i], l[i + 1]]);
      // Stable, by UTF-16 code units of the names (the default string order).
      pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      this.#list = pairs.flat();
      this.#update();
    }
    forEach(callback, thisArg = undefined) {
      if (typeof callback !== 'function') throw new TypeError('URLSearchParams.forEach: the callback must be a function');
      for (let i = 0; i < this.#list.length; i += 2) callback.call(thisArg, this.#list[i + 1], this.#list[i], this);
    }
    *keys() { for (let i = 0; i < this.#list.length; i += 2) yield this.#list[i]; }
    *values() { for (let i = 0; i < this.#list.length; i += 2) yield this.#list[i + 1]; }
    *entries() { for (let i = 0; i < this.#list.length; i += 2) yield [this.#list[i], this.#list[i + 1]]; }
    [Symbol.iterator]() { return this.entries(); }
    toString() { return formSerialize(this.#list); }
  }
  tag(URLSearchParams, 'URLSearchParams');

  // USVString conversion: lone surrogates become U+FFFD.
  const usv = (v) => String(v).toWellFormed();

  class URL {
    #c;
    #params = null;
    constructor(url, base = undefined) {
      if (arguments.length < 1) throw new TypeError("URL: 1 argument required, but only 0 present");
      const c = urlParse(usv(url), base === undefined ? undefined : usv(base));
      if (c === null) throw new TypeError('Invalid URL: ' + String(url) + (base === undefined ? '' : ' (base: ' + String(base) + ')'));
      this.#c = c;
    }
    static canParse(url, base = undefined) {
      if (arguments.length < 1) throw new TypeError("URL.canParse: 1 argument required, but only 0 present");
      return urlParse(usv(url), base === undefined ? undefined : usv(base)) !== null;
    }
    static parse(url, base = undefined) {
      if (arguments.length < 1) throw new TypeError("URL.parse: 1 argument required, but only 0 present");
      const c = urlParse(usv(url), base === undefined ? undefined : usv(base));
      return c === null ? null : new URL(c[HREF]);
    }
    static {
      paramsOf = (u, query) => {
        u.#c = urlSet(u.#c[HREF], SEARCH, query);
      };
    }
    #set(which, v) {
      const c = urlSet(this.#c[HREF], which, usv(v));
      if (c === null) throw new TypeError('Invalid URL: ' + String(v));
      this.#c = c;
      if (this.#params !== null && (which === HREF || which === SEARCH)) setParamsList(this.#params, c[SEARCH].slice(1));
    }
    get href() { return this.#c[HREF]; }
    set href(v) { this.#set(HREF, v); }
    get origin() { return this.#c[ORIGIN]; }
    get protocol() { return this.#c[PROTOCOL]; }
    set protocol(v) { this.#set(PROTOCOL, v); }
    get username() { return this.#c[USERNAME]; }
    set username(v) { this.#set(USERNAME, v); }
    get password() { return this.#c[PASSWORD]; }
    set password(v) { this.#set(PASSWORD, v); }
    get host() { return this.#c[HOST]; }
    set host(v) { this.#set(HOST, v); }
    get hostname() { return this.#c[HOSTNAME]; }
    set hostname(v) { this.#set(HOSTNAME, v); }
    get port() { return this.#c[PORT]; }
    set port(v) { this.#set(PORT, v); }
    get pathname() { return this.#c[PATHNAME]; }
    set pathname(v) { this.#set(PATHNAME, v); }
    get search() { return this.#c[SEARCH]; }
    set search(v) { this.#set(SEARCH, v); }
    get hash() { return this.#c[HASH]; }
    set hash(v) { this.#set(HASH, v); }
    get searchParams() {
      if (this.#params === null) {
        const p = new URLSearchParams(this.#c[SEARCH]);
        setUrlOf(p, this);
        this.#params = p;
      }
      return this.#params;
    }
    toString() { return this.#c[HREF]; }
    toJSON() { return this.#c[HREF]; }
  }
  tag(URL, 'URL');
  for (const k of ['href', 'origin', 'protocol', 'username', 'password', 'host', 'hostname', 'port',
    'pathname', 'search', 'searchParams', 'hash']) {
    Object.defineProperty(URL.prototype, k, { ...Object.getOwnPropertyDescriptor(URL.prototype, k), enumerable: true });
  }

  // ------------------------------------------------------ structuredClone
  // The HTML structured clone algorithm (StructuredSerializeInternal then
  // StructuredDeserialize, fused: both sides are this realm) for the
  // types the guest has.
  const classOf = n.classOf;
  const getter = (C, k) => Object.getOwnPropertyDescriptor(C.prototype, k).get;
  const brand = (f) => (v) => { try { f.call(v); return true; } catch { return false; } };
  const isDate = brand(Date.prototype.getTime);
  const isRegExp = brand(getter(RegExp, 'source'));
  const isMap = brand(getter(Map, 'size'));
  const isSet = brand(getter(Set, 'size'));
  const isArrayBuffer = brand(getter(ArrayBuffer, 'byteLength'));
  const isShared = typeof SharedArrayBuffer === 'function' ? brand(getter(SharedArrayBuffer, 'byteLength')) : () => false;
  const TypedArray = Object.getPrototypeOf(Uint8Array);
  const typedArrayName = getter(TypedArray, Symbol.toStringTag);
  const isDataView = brand(getter(DataView, 'byteLength'));
  const isDOMException = brand(getter(DOMException, 'name'));
  const wrappers = [
    [brand(Boolean.prototype.valueOf), (v) => new Boolean(Boolean.prototype.valueOf.call(v))],
    [brand(Number.prototype.valueOf), (v) => new Number(Number.prototype.valueOf.call(v))],
    [brand(String.prototype.valueOf), (v) => new String(String.prototype.valueOf.call(v))],
    [brand(BigInt.prototype.valueOf), (v) => Object(BigInt.prototype.valueOf.call(v))],
  ];
  const ERRORS = { Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError };
  const cloneError = (what) => new DOMException(what + ' could not be cloned.', 'DataCloneError');
  const describe = (v) => {
    if (typeof v === 'function') return (v.name ? 'function ' + v.name : 'An anonymous function') + '()';
    if (typeof v === 'symbol') return String(v);
    try { return Object.prototype.toString.call(v); } catch { return 'The object'; }
  };

  function structuredClone(value, options = undefined) {
    if (arguments.length < 1) throw new TypeError('structuredClone: 1 argument required, but only 0 present');
    if (options !== undefined && options !== null && typeof options === 'object' && options.transfer !== undefined) {
      const t = Array.from(options.transfer);
      if (t.length > 0) throw new DOMException('structuredClone: transferring objects is not supported in this guest', 'DataCloneError');
    }
    const memory = new Map();
    const clone = (v) => {
      if (typeof v === 'symbol' || typeof v === 'function') throw cloneError(describe(v));
      if (v === null || typeof v !== 'object') return v;
      if (memory.has(v)) return memory.get(v);
      const kind = classOf(v);
      if (kind === 3) throw cloneError('#<Proxy>');
      for (const [is, make] of wrappers) {
        if (is(v)) { const c = make(v); memory.set(v, c); return c; }
      }
      if (isDate(v)) { const c = new Date(Date.prototype.getTime.call(v)); memory.set(v, c); return c; }
      if (isRegExp(v)) {
        const c = new RegExp(getter(RegExp, 'source').call(v), getter(RegExp, 'flags').call(v));
        memory.set(v, c);
        return c;
      }
      if (isShared(v)) throw cloneError('#<SharedArrayBuffer>');
      if (isArrayBuffer(v)) {
        if (getter(ArrayBuffer, 'detached') && getter(ArrayBuffer, 'detached').call(v)) throw cloneError('A detached ArrayBuffer');
        const resizable = getter(ArrayBuffer, 'resizable').call(v);
        const len = getter(ArrayBuffer, 'byteLength').call(v);
        const c = resizable ? new ArrayBuffer(len, { maxByteLength: getter(ArrayBuffer, 'maxByteLength').call(v) }) : new ArrayBuffer(len);
        new Uint8Array(c).set(new Uint8Array(v));
        memory.set(v, c);
        return c;
      }
      const ta = typedArrayName.call(v);
      if (ta !== undefined || isDataView(v)) {
        const C = ta !== undefined ? globalThis[ta] : DataView;
        const get = (k) => getter(ta !== undefined ? TypedArray : DataView, k).call(v);
        const buf = clone(get('buffer'));
        const off = get('byteOffset');
        const c = ta !== undefined
          ? new C(buf, off, get('length'))
          : new DataView(buf, off, get('byteLength'));
        memory.set(v, c);
        return c;
      }
      if (isMap(v)) {
        const c = new Map();
        memory.set(v, c);
        const entries = [];
        Map.prototype.forEach.call(v, (val, key) => entries.push(key, val));
        for (let i = 0; i < entries.length; i += 2) Map.prototype.set.call(c, clone(entries[i]), clone(entries[i + 1]));
        return c;
      }
      if (isSet(v)) {
        const c = new Set();
        memory.set(v, c);
        const items = [];
        Set.prototype.forEach.call(v, (val) => items.push(val));
        for (const item of items) Set.prototype.add.call(c, clone(item));
        return c;
      }
      if (isDOMException(v)) {
        // A serializable platform object (WebIDL): name and message.
        const c = new DOMException(getter(DOMException, 'message').call(v), getter(DOMException, 'name').call(v));
        memory.set(v, c);
        return c;
      }
      if (kind === 2) {
        let name = v.name;
        name = typeof name === 'string' && Object.hasOwn(ERRORS, name) ? name : 'Error';
        const d = Object.getOwnPropertyDescriptor(v, 'message');
        const c = new ERRORS[name]();
        memory.set(v, c);
        if (d !== undefined && 'value' in d) def(c, 'message', String(d.value));
        else delete c.message;
        const s = Object.getOwnPropertyDescriptor(v, 'stack');
        if (s !== undefined && 'value' in s && typeof s.value === 'string') def(c, 'stack', s.value);
        const cause = Object.getOwnPropertyDescriptor(v, 'cause');
        if (cause !== undefined && 'value' in cause) def(c, 'cause', clone(cause.value));
        return c;
      }
      if (Array.isArray(v)) {
        const c = new Array(v.length);
        memory.set(v, c);
        for (const k of Object.keys(v)) c[k] = clone(v[k]);
        return c;
      }
      if (kind !== 1) throw cloneError(describe(v));
      const c = {};
      memory.set(v, c);
      for (const k of Object.keys(v)) {
        // [[Get]] may run a getter that deletes later keys: skip those.
        if (!Object.hasOwn(v, k)) continue;
        c[k] = clone(v[k]);
      }
      return c;
    };
    return clone(value);
  }

  // ------------------------------------------------------- crypto.subtle
  // Web Crypto API (W3C): digests, HMAC and AES-GCM on RustCrypto
  // (subtle.rs). The methods return promises, as the API requires, but the
  // work is done before they return (nothing here runs in the background).
  const bytes = (data, what) => {
    if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
    if (isArrayBuffer(data) || isShared(data)) return new Uint8Array(data).slice();
    throw new TypeError(what + ' must be an ArrayBuffer, a TypedArray or a DataView');
  };
  const opError = (msg) => new DOMException(msg, 'OperationError');
  const notSupported = (msg) => new DOMException(msg, 'NotSupportedError');
  const invalidAccess = (msg) => new DOMException(msg, 'InvalidAccessError');
  const HASHES = { 'SHA-1': 'SHA-1', 'SHA-256': 'SHA-256', 'SHA-384': 'SHA-384', 'SHA-512': 'SHA-512' };
  const HASH_BLOCK = { 'SHA-1': 512, 'SHA-256': 512, 'SHA-384': 1024, 'SHA-512': 1024 };
  const algName = (a) => {
    const name = typeof a === 'string' ? a : a !== null && typeof a === 'object' ? a.name : undefined;
    if (typeof name !== 'string') throw new TypeError('the algorithm must be a string or an object with a name');
    return name;
  };
  const hashName = (h) => {
    const name = algName(h).toUpperCase();
    if (!Object.hasOwn(HASHES, name)) throw notSupported('unsupported hash ' + algName(h) + ' (SHA-1, SHA-256, SHA-384 and SHA-512 are)');
    return HASHES[name];
  };
  const keyData = new WeakMap();
  const USAGES = { HMAC: ['sign', 'verify'], 'AES-GCM': ['encrypt', 'decrypt', 'wrapKey', 'unwrapKey'] };

  class CryptoKey {
    constructor() { throw new TypeError('Illegal constructor'); }
    get type() { return slots(this).type; }
    get extractable() { return slots(this).extractable; }
    get algorithm() { return slots(this).algorithm; }
    get usages() { return slots(this).usages; }
  }
  const slots = (k) => {
    const s = keyData.get(k);
    if (s === undefined) throw new TypeError('not a CryptoKey');
    return s;
  };
  const newKey = (algorithm, extractable, usages, raw) => {
    const k = Object.create(CryptoKey.prototype);
    keyData.set(k, { type: 'secret', extractable, algorithm, usages, raw });
    return k;
  };
  tag(CryptoKey, 'CryptoKey');

  const checkUsages = (name, usages) => {
    const list = Array.from(usages, String);
    for (const u of list) if (!USAGES[name].includes(u)) throw new DOMException('usage ' + u + ' is not valid for ' + name, 'SyntaxError');
    return list;
  };
  const b64url = {
    decode: (s) => {
      const t = String(s).replace(/-/g, '+').replace(/_/g, '/');
      const bin = atob(t + '='.repeat((4 - (t.length % 4)) % 4));
      const out = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
      return out;
    },
    encode: (b) => {
      let bin = '';
      for (let i = 0; i < b.length; i++) bin += String.fromCharCode(b[i]);
      return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    },
  };
  const JWK_HMAC = { 'SHA-1': 'HS1', 'SHA-256': 'HS256', 'SHA-384': 'HS384', 'SHA-512': 'HS512' };

  function importSecret(format, keyDataIn, algorithm, extractable, usages) {
    const name = algName(algorithm).toUpperCase();
    let raw;
    if (format === 'raw') {
      raw = bytes(keyDataIn, 'keyData');
    } else if (format === 'jwk') {
      if (keyDataIn === null || typeof keyDataIn !== 'object') throw new TypeError('keyData must be a JsonWebKey object');
      if (keyDataIn.kty !== 'oct') throw new DOMException('a secret key needs kty "oct"', 'DataError');
      if (typeof keyDataIn.k !== 'string') throw new DOMException('the JWK has no "k"', 'DataError');
      raw = b64url.decode(keyDataIn.k);
    } else {
      throw notSupported('key format ' + format + ' is not supported (raw and jwk are)');
    }
    if (name === 'HMAC') {
      const hash = hashName(algorithm.hash);
      let length = raw.length * 8;
      if (algorithm.length !== undefined) {
        length = Number(algorithm.length);
        if (length > raw.length * 8 || length <= raw.length * 8 - 8 || length === 0) throw new DOMException('the HMAC key length does not match the key data', 'DataError');
      }
      if (raw.length === 0) throw new DOMException('an HMAC key cannot be empty', 'DataError');
      if (format === 'jwk' && keyDataIn.alg !== undefined && keyDataIn.alg !== JWK_HMAC[hash]) throw new DOMException('the JWK "alg" does not match the hash', 'DataError');
      return newKey({ name: 'HMAC', length, hash: { name: hash } }, !!extractable, checkUsages('HMAC', usages), raw);
    }
    if (name === 'AES-GCM') {
      if (![16, 24, 32].includes(raw.length)) throw new DOMException('an AES key is 128, 192 or 256 bits', 'DataError');
      if (format === 'jwk' && keyDataIn.alg !== undefined && keyDataIn.alg !== 'A' + raw.length * 8 + 'GCM') throw new DOMException('the JWK "alg" does not match the key length', 'DataError');
      return newKey({ name: 'AES-GCM', length: raw.length * 8 }, !!extractable, checkUsages('AES-GCM', usages), raw);
    }
    throw notSupported('algorithm ' + algName(algorithm) + ' is not supported (HMAC and AES-GCM are)');
  }

  const keyOf = (key, name, usage) => {
    const s = keyData.get(key);
    if (s === undefined) throw new TypeError('key must be a CryptoKey');
    if (s.algorithm.name !== name) throw invalidAccess('the key is for ' + s.algorithm.name + ', not ' + name);
    if (!s.usages.includes(usage)) throw invalidAccess('the key does not allow ' + usage);
    return s.raw;
  };

  const gcmParams = (algorithm) => {
    const iv = bytes(algorithm.iv, 'iv');
    const aad = algorithm.additionalData === undefined ? new Uint8Array(0) : bytes(algorithm.additionalData, 'additionalData');
    const tagLength = algorithm.tagLength === undefined ? 128 : Number(algorithm.tagLength);
    if (![32, 64, 96, 104, 112, 120, 128].includes(tagLength)) throw opError('tagLength must be 32, 64, 96, 104, 112, 120 or 128');
    if (iv.length === 0) throw opError('the iv must not be empty');
    return { iv, aad, tagLength };
  };

  const subtleImpl = {
    digest(algorithm, data) {
      return n.digest(hashName(algorithm), bytes(data, 'data')).buffer;
    },
    importKey(format, keyDataIn, algorithm, extractable, usages) {
      return importSecret(format, keyDataIn, algorithm, extractable, usages);
    },
    exportKey(format, key) {
      const s = keyData.get(key);
      if (s === undefined) throw new TypeError('key must be a CryptoKey');
      if (!s.extractable) throw invalidAccess('the key is not extractable');
      const raw = s.raw;
      if (format === 'raw') return raw.slice().buffer;
      if (format === 'jwk') {
        const alg = key.algorithm.name === 'HMAC' ? JWK_HMAC[key.algorithm.hash.name] : 'A' + raw.length * 8 + 'GCM';
        return { kty: 'oct', k: b64url.encode(raw), alg, ext: true, key_ops: key.usages.slice() };
      }
      throw notSupported('key format ' + format + ' is not supported (raw and jwk are)');
    },
    generateKey(algorithm, extractable, usages) {
      const name = algName(algorithm).toUpperCase();
      let len;
      if (name === 'HMAC') {
        const hash = hashName(algorithm.hash);
        len = algorithm.length === undefined ? HASH_BLOCK[hash] / 8 : Math.ceil(Number(algorithm.length) / 8);
      } else if (name === 'AES-GCM') {
        len = Number(algorithm.length) / 8;
        if (![16, 24, 32].includes(len)) throw opError('AES key length must be 128, 192 or 256');
      } else {
        throw notSupported('algorithm ' + algName(algorithm) + ' is not supported (HMAC and AES-GCM are)');
      }
      const raw = crypto.getRandomValues(new Uint8Array(len));
      return importSecret('raw', raw, algorithm, extractable, usages);
    },
    sign(algorithm, key, data) {
      if (algName(algorithm).toUpperCase() !== 'HMAC') throw notSupported('sign supports HMAC');
      const raw = keyOf(key, 'HMAC', 'sign');
      return n.hmacSign(key.algorithm.hash.name, raw, bytes(data, 'data')).buffer;
    },
    verify(algorithm, key, signature, data) {
      if (algName(algorithm).toUpperCase() !== 'HMAC') throw notSupported('verify supports HMAC');
      const raw = keyOf(key, 'HMAC', 'verify');
      return n.hmacVerify(key.algorithm.hash.name, raw, bytes(signature, 'signature'), bytes(data, 'data'));
    },
    encrypt(algorithm, key, data) {
      if (algName(algorithm).toUpperCase() !== 'AES-GCM') throw notSupported('encrypt supports AES-GCM');
      const raw = keyOf(key, 'AES-GCM', 'encrypt');
      const p = gcmParams(algorithm);
      return n.aesGcm(true, raw, p.iv, p.aad, p.tagLength / 8, bytes(data, 'data')).buffer;
    },
    decrypt(algorithm, key, data) {
      if (algName(algorithm).toUpperCase() !== 'AES-GCM') throw notSupported('decrypt supports AES-GCM');
      const raw = keyOf(key, 'AES-GCM', 'decrypt');
      const p = gcmParams(algorithm);
      const out = n.aesGcm(false, raw, p.iv, p.aad, p.tagLength / 8, bytes(data, 'data'));
      if (out === null) throw opError('the data could not be decrypted (wrong key, iv, additional data or tag)');
      return out.buffer;
    },
  };
  class SubtleCrypto {
    constructor() { throw new TypeError('Illegal constructor'); }
  }
  tag(SubtleCrypto, 'SubtleCrypto');
  for (const [k, f] of Object.entries(subtleImpl)) {
    def(SubtleCrypto.prototype, k, named(k, function (...a) {
      try { return Promise.resolve(f(...a)); } catch (e) { return Promise.reject(e); }
    }));
  }
  const subtle = Object.create(SubtleCrypto.prototype);
  // What the loader (webapi.rs STUB) installs where user code did not
  // replace the placeholder.
  return { URL, URLSearchParams, structuredClone, CryptoKey, SubtleCrypto, subtle };
})
