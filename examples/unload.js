// Unload/reload: handler lifecycle management. A handler keeps state between calls; unload()
// drops every handler (and its state) and returns the JSSandbox, which takes new handlers.
import { SandboxBuilder } from '@hyperlight/js-host-api';

const proto = await new SandboxBuilder().build();
const sandbox = await proto.loadRuntime();

sandbox.addHandler(
  'counter',
  `
  let count = 0;
  function handler(event) {
    count += event.step;
    return { version: 1, count };
  }
`,
);

let loaded = await sandbox.getLoadedSandbox();
console.log('v1:', await loaded.callHandler('counter', { step: 1 }));
console.log('v1:', await loaded.callHandler('counter', { step: 1 }));
console.log('v1:', await loaded.callHandler('counter', { step: 1 }));

// Unload: back to the state right after loadRuntime(); the old handler and its state are gone.
const reloaded = await loaded.unload();
console.log('unloaded; the old LoadedJSSandbox is consumed');
try {
  await loaded.callHandler('counter', { step: 1 });
} catch (error) {
  console.log(`calling it again: ${error.code}`);
}

reloaded.addHandler(
  'counter',
  `
  let count = 100;
  function handler(event) {
    count += event.step * 10;
    return { version: 2, count };
  }
`,
);
loaded = await reloaded.getLoadedSandbox();
console.log('v2:', await loaded.callHandler('counter', { step: 1 }));
console.log('v2:', await loaded.callHandler('counter', { step: 1 }));
