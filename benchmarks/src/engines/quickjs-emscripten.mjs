// quickjs-emscripten (RELEASE_SYNC): QuickJS compiled to WebAssembly, one
// runtime per sandbox, all in this process's wasm instance.
import {
  newQuickJSWASMModule,
  RELEASE_SYNC,
  shouldInterruptAfterDeadline,
} from 'quickjs-emscripten';

export const name = 'quickjs-emscripten';
export const isolation = 'WebAssembly';

let modulePromise;
const quickjs = () => (modulePromise ??= newQuickJSWASMModule(RELEASE_SYNC));

const WRAP = '\nfunction __call(json) { return JSON.stringify(handler(JSON.parse(json))); }';

export async function create(source, { host = false } = {}) {
  const QuickJS = await quickjs();
  const runtime = QuickJS.newRuntime();
  const vm = runtime.newContext();
  if (host) {
    const add = vm.newFunction('add', (a, b) => vm.newNumber(vm.getNumber(a) + vm.getNumber(b)));
    vm.setProp(vm.global, 'add', add);
    add.dispose();
  }
  vm.unwrapResult(vm.evalCode(source + WRAP)).dispose();
  const fn = vm.getProp(vm.global, '__call');
  const call = (event, deadlineMs) => {
    runtime.setInterruptHandler(
      deadlineMs ? shouldInterruptAfterDeadline(deadlineMs) : () => false,
    );
    const arg = vm.newString(JSON.stringify(event));
    const result = vm.callFunction(fn, vm.undefined, arg);
    arg.dispose();
    if (result.error) {
      const err = vm.dump(result.error);
      result.error.dispose();
      throw Object.assign(new Error(err?.message ?? String(err)), { guest: err });
    }
    const out = vm.getString(result.value);
    result.value.dispose();
    return JSON.parse(out);
  };
  return {
    call: async (event) => call(event),
    callWithWallClock: async (event, ms) => call(event, Date.now() + ms),
    dispose: async () => {
      fn.dispose();
      vm.dispose();
      runtime.dispose();
    },
  };
}
