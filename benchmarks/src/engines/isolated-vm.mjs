// isolated-vm: a V8 isolate per sandbox, in this process.
import ivm from 'isolated-vm';

export const name = 'isolated-vm';
export const isolation = 'V8 isolate';

const WRAP = '\nfunction __call(json) { return JSON.stringify(handler(JSON.parse(json))); }';

export async function create(source, { host = false } = {}) {
  const isolate = new ivm.Isolate({ memoryLimit: 64 });
  const context = await isolate.createContext();
  if (host) await context.global.set('add', new ivm.Callback((a, b) => a + b));
  await context.eval(source + WRAP);
  const fn = await context.global.get('__call', { reference: true });
  const call = async (event, timeout) =>
    JSON.parse(
      await fn.apply(undefined, [JSON.stringify(event)], {
        arguments: { copy: true },
        result: { copy: true },
        ...(timeout ? { timeout } : {}),
      }),
    );
  return {
    call: (event) => call(event),
    callWithWallClock: (event, ms) => call(event, ms),
    dispose: async () => {
      fn.release();
      context.release();
      isolate.dispose();
    },
  };
}
