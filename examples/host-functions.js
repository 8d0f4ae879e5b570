// Host functions: guest JavaScript calls back into Node.js. Arguments are spread from the guest's
// call, return values are JSON-stringified back; callbacks can be sync or async, and a throw
// (or a rejection) is a catchable error in the guest.
import { SandboxBuilder } from '@hyperlight/js-host-api';

const proto = await new SandboxBuilder().build();

// A module with several functions: hostModule().register() chains.
proto
  .hostModule('math')
  .register('add', (a, b) => a + b)
  .register('multiply', (a, b) => a * b);

// An async callback: the guest's call blocks until the Promise settles; the Node event loop is
// free meanwhile.
const users = new Map([[42, { id: 42, name: 'Alice' }]]);
proto.hostModule('api').register('fetchUser', async (userId) => {
  await new Promise((resolve) => setTimeout(resolve, 20)); // stands in for I/O
  const user = users.get(userId);
  if (!user) throw new Error(`no user ${userId}`);
  return user;
});

// The convenience form: register(moduleName, functionName, callback).
proto.register('strings', 'upper', (s) => s.toUpperCase());

// Host-side state lives in Node.js.
let calls = 0;
proto.register('stats', 'hit', () => ++calls);

const sandbox = await proto.loadRuntime();
sandbox.addHandler(
  'handler',
  `
  import * as math from 'host:math';
  import * as api from 'host:api';
  import * as strings from 'host:strings';
  import * as stats from 'host:stats';

  function handler(event) {
    const user = api.fetchUser(event.userId);
    let missing;
    try {
      api.fetchUser(7);
    } catch (e) {
      missing = e.message;
    }
    stats.hit();
    return {
      sum: math.add(event.a, event.b),
      product: math.multiply(event.a, event.b),
      shout: strings.upper(user.name),
      missing,
      hits: stats.hit(),
    };
  }
`,
);

const loaded = await sandbox.getLoadedSandbox();
console.log(await loaded.callHandler('handler', { a: 10, b: 32, userId: 42 }));
console.log(`host-side calls counted in Node.js: ${calls}`);
