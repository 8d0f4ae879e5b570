// node:vm: a V8 context in the main isolate. Not a security boundary; the
// floor of what running a handler costs in this process.
import vm from 'node:vm';

export const name = 'node:vm';
export const isolation = 'none (context)';

const WRAP = '\nfunction __call(json) { return JSON.stringify(handler(JSON.parse(json))); }';

export async function create(source, { host = false } = {}) {
  const context = vm.createContext(host ? { add: (a, b) => a + b } : {});
  new vm.Script(source + WRAP).runInContext(context);
  const invoke = new vm.Script('__call(__arg)');
  const call = (event, timeout) => {
    context.__arg = JSON.stringify(event);
    return JSON.parse(invoke.runInContext(context, timeout ? { timeout } : {}));
  };
  return {
    call: async (event) => call(event),
    callWithWallClock: async (event, ms) => call(event, ms),
    dispose: async () => {},
  };
}
