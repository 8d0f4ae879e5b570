// Simple usage: build a sandbox, load the JavaScript runtime, add a handler and call it inside
// a micro-VM. This is the Quick Start of @hyperlight/js-host-api.
import { SandboxBuilder } from '@hyperlight/js-host-api';

async function main() {
  // Create and build a sandbox
  const builder = new SandboxBuilder();
  const protoSandbox = await builder.build();

  // Load the JavaScript runtime
  const jsSandbox = await protoSandbox.loadRuntime();

  // Add a handler function (sync): the first argument is the routing key,
  // and the function must be named 'handler'
  jsSandbox.addHandler(
    'greet',
    `
    function handler(event) {
      event.message = 'Hello, ' + event.name + '!';
      return event;
    }
  `,
  );

  // Get the loaded sandbox
  const loadedSandbox = await jsSandbox.getLoadedSandbox();

  // Call the handler using the routing key
  const result = await loadedSandbox.callHandler('greet', { name: 'World' });
  console.log(result); // { name: 'World', message: 'Hello, World!' }
}

try {
  await main();
} catch (error) {
  // Only a missing native binding is expected while the engine is being built; any other error
  // fails the example.
  if (error?.code !== 'ERR_NO_NATIVE_BINDING') throw error;
  console.log(
    'The hyperlight-js engine is not there yet: its native binding has not been built, so this ' +
      'example cannot run a handler in a micro-VM. The loader said:',
  );
  console.log(error.message.replace(/^/gm, '  '));
}
