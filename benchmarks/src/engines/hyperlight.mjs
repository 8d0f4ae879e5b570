// hyperlight-js through its Node API (@hyperlight/js-host-api): a KVM
// micro-VM per sandbox.
import { SandboxBuilder } from '@hyperlight/js-host-api';

export const name = 'hyperlight-js';
export const isolation = 'KVM micro-VM';

export async function create(source, { host = false } = {}) {
  const proto = await new SandboxBuilder().build();
  if (host) proto.hostModule('h').register('add', (a, b) => a + b);
  const js = await proto.loadRuntime();
  js.addHandler('h', (host ? 'import { add } from "host:h";\n' : '') + source);
  const loaded = await js.getLoadedSandbox();
  return {
    call: (event) => loaded.callHandler('h', event, { gc: false }),
    callWithWallClock: (event, ms) => loaded.callHandler('h', event, { wallClockTimeoutMs: ms }),
    callWithCpu: async (event, ms) => {
      await loaded.callHandler('h', event, { cpuTimeoutMs: ms }).catch(() => {});
      return loaded.lastCallStats?.cpuTimeMs;
    },
    snapshot: () => loaded.snapshot(),
    restore: (s) => loaded.restore(s),
    get poisoned() {
      return loaded.poisoned;
    },
    // dispose() releases the micro-VM now (unload() would keep it, runtime loaded, until the
    // garbage collector drops the JSSandbox it returns).
    dispose: () => loaded.dispose(),
  };
}
