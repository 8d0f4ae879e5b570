// Calculator: JSON event processing with multiple operations. One handler reads an operation and
// its operands from the event and returns a result; a bad operation makes the handler throw, and
// the error comes back with code ERR_HANDLER and the guest's error name and message.
import { SandboxBuilder } from '@hyperlight/js-host-api';

const proto = await new SandboxBuilder().build();
const sandbox = await proto.loadRuntime();

sandbox.addHandler(
  'calculate',
  `
  const operations = {
    add: (a, b) => a + b,
    subtract: (a, b) => a - b,
    multiply: (a, b) => a * b,
    divide: (a, b) => {
      if (b === 0) throw new RangeError('division by zero');
      return a / b;
    },
  };

  function handler(event) {
    const operation = operations[event.operation];
    if (!operation) throw new TypeError('unknown operation: ' + event.operation);
    return { operation: event.operation, a: event.a, b: event.b, result: operation(event.a, event.b) };
  }
`,
);

const loaded = await sandbox.getLoadedSandbox();

const events = [
  { operation: 'add', a: 10, b: 32 },
  { operation: 'subtract', a: 100, b: 58 },
  { operation: 'multiply', a: 6, b: 7 },
  { operation: 'divide', a: 84, b: 2 },
];
for (const event of events) {
  const { operation, a, b, result } = await loaded.callHandler('calculate', event);
  console.log(`${operation}(${a}, ${b}) = ${result}`);
}

for (const event of [
  { operation: 'divide', a: 1, b: 0 },
  { operation: 'power', a: 2, b: 10 },
]) {
  try {
    await loaded.callHandler('calculate', event);
  } catch (error) {
    if (error.code !== 'ERR_HANDLER') throw error;
    console.log(
      `${event.operation}(${event.a}, ${event.b}) failed: ${error.guestName}: ${error.guestMessage}`,
    );
  }
}
