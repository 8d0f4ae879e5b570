// Simple usage: build a sandbox, load the JavaScript runtime, add a handler and call it inside a
// micro-VM. This is the Quick Start of @hyperlight/js-host-api.
import { SandboxBuilder } from '@hyperlight/js-host-api';

// Create and build a sandbox
const builder = new SandboxBuilder();
const protoSandbox = await builder.build();

// Load the JavaScript runtime
const jsSandbox = await protoSandbox.loadRuntime();

// Add a handler function (sync — no await needed)
// First arg is a routing key; the function must be named 'handler'
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
