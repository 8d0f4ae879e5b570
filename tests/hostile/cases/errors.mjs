// Whatever a handler throws is ERR_HANDLER with a printable, clipped name,
// message and stack, and the sandbox stays usable: the error code comes
// only from facts the guest cannot forge.
const THROWER = `
  function handler(kind) {
    switch (kind) {
      case 'null': throw null;
      case 'undefined': throw undefined;
      case 'number': throw 42;
      case 'string': throw 'a string';
      case 'symbol': throw Symbol('sym');
      case 'bigint': throw 10n;
      case 'proxy': throw new Proxy({}, { get() { throw new Error('trap'); }, getPrototypeOf() { throw 1; }, has() { throw 1; }, ownKeys() { throw 1; }, getOwnPropertyDescriptor() { throw 1; } });
      case 'getters': throw { get name() { throw 1; }, get message() { throw 2; }, get stack() { throw 3; } };
      case 'toString': throw { toString() { throw new Error('no'); } };
      case 'interrupted': throw { name: 'InternalError', message: 'interrupted' };
      case 'real-looking interrupted': { const e = new Error('interrupted'); e.name = 'InternalError'; throw e; }
      case 'oom': throw { name: 'InternalError', message: 'out of memory' };
      case 'oom-empty': throw { name: 'InternalError', message: '' };
      case 'huge': { const e = new Error('m'.repeat(10 * 1024 * 1024)); e.name = 'n'.repeat(1024 * 1024); throw e; }
      case 'huge-stack': { const e = new Error('s'); Object.defineProperty(e, 'stack', { value: 'x'.repeat(4 * 1024 * 1024) }); throw e; }
      case 'control': throw new Error('\\x1b[2J\\x07 bell \\r\\n forged');
      case 'rejected': return Promise.reject(null);
      default: return 'fine';
    }
  }`;

function thrownCase(kind, check) {
  return async (t) => {
    const loaded = await t.load({ h: THROWER });
    const err = await t.rejects(loaded.callHandler('h', kind), 'ERR_HANDLER');
    t.assert.equal(typeof err.message, 'string');
    const name = err.guestName ?? err.name;
    t.assert.ok(err.message.length < 200_000, `message of ${err.message.length} characters`);
    if (err.guestMessage !== undefined) t.assert.ok(err.guestMessage.length < 200_000);
    if (err.guestStack !== undefined) t.assert.ok(err.guestStack.length < 200_000);
    t.assert.ok(String(name).length < 5000);
    t.assert.equal(loaded.poisoned, false, `${kind} poisoned the sandbox`);
    t.assert.equal(await loaded.callHandler('h', 'ok'), 'fine');
    check?.(t, err);
  };
}

export const cases = {
  'throw null': thrownCase('null', (t, e) => t.assert.match(e.message, /null/)),
  'throw undefined': thrownCase('undefined'),
  'throw a number': thrownCase('number', (t, e) => t.assert.match(e.message, /42/)),
  'throw a string': thrownCase('string'),
  'throw a symbol': thrownCase('symbol', (t, e) => t.assert.match(e.message, /Symbol\(sym\)/)),
  'throw a bigint': thrownCase('bigint'),
  'throw a Proxy whose traps all throw': thrownCase('proxy'),
  'throw an object with throwing getters': thrownCase('getters'),
  'throw an object whose toString throws': thrownCase('toString'),
  "throw a plain object claiming to be 'interrupted'": thrownCase('interrupted'),
  "throw an Error named InternalError saying 'interrupted'": thrownCase('real-looking interrupted'),
  "throw a plain object claiming 'out of memory'": thrownCase('oom'),
  'throw an InternalError with an empty message': thrownCase('oom-empty'),
  'throw a 1 MB name and a 10 MB message': thrownCase('huge', (t, e) => {
    const m = e.guestMessage ?? e.message;
    t.assert.match(m, /clipped/);
  }),
  'throw an Error with a 4 MB stack': thrownCase('huge-stack'),
  'reject with null': thrownCase('rejected'),
};
