// User modules: reusable ES modules that handlers (and other modules) import. Shows
// inter-module dependencies registered in any order, a custom namespace, several handlers sharing
// one module, and mutable state shared between handlers through a module.
import { SandboxBuilder } from '@hyperlight/js-host-api';

const proto = await new SandboxBuilder().build();
const sandbox = await proto.loadRuntime();

// Dependencies are resolved lazily, so the order of registration does not matter.
sandbox.addModule(
  'geometry',
  `
  import { PI } from 'user:constants';
  export function circleArea(r) { return PI * r * r; }
`,
);
sandbox.addModule('constants', 'export const PI = 3.14159;');

// A custom namespace: imported as 'mylib:utils'.
sandbox.addModule('utils', 'export function greet(name) { return "hi, " + name; }', 'mylib');

// Shared mutable state: ES modules are singletons.
sandbox.addModule(
  'counter',
  `
  let count = 0;
  export function increment() { return ++count; }
  export function getCount() { return count; }
`,
);

sandbox.addHandler(
  'area',
  `
  import { circleArea } from 'user:geometry';
  import { greet } from 'mylib:utils';
  function handler(event) {
    return { greeting: greet(event.name), area: circleArea(event.r) };
  }
`,
);
sandbox.addHandler(
  'writer',
  `
  import { increment } from 'user:counter';
  function handler(event) {
    event.count = increment();
    return event;
  }
`,
);
sandbox.addHandler(
  'reader',
  `
  import { getCount } from 'user:counter';
  function handler(event) {
    event.count = getCount();
    return event;
  }
`,
);

const loaded = await sandbox.getLoadedSandbox();
console.log('area:', await loaded.callHandler('area', { name: 'Ada', r: 2 }));
console.log('writer:', await loaded.callHandler('writer', {}));
console.log('reader:', await loaded.callHandler('reader', {}));
console.log('writer:', await loaded.callHandler('writer', {}));
console.log('reader:', await loaded.callHandler('reader', {}));
