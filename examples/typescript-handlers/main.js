// TypeScript handlers with npm dependencies and a typed host module, bundled with
// @hyperlight/bundler and run in a micro-VM: `node typescript-handlers/main.js` from examples/.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { addBundle, bundle, createStackMapper, writeBundle } from '@hyperlight/bundler';
import { declareHostModules } from '@hyperlight/host-modules';
import { ERR_HANDLER, isHyperlightError, SandboxBuilder } from '@hyperlight/js-host-api';
import { billing } from './host/billing.js';

const guest = fileURLToPath(new URL('./guest/', import.meta.url));

// 1. The guest's view of the host module, as a declaration file the type check reads.
writeFileSync(`${guest}src/host-modules.generated.d.ts`, declareHostModules([billing]));

// 2. Type check and bundle both handlers (date-fns is bundled in; host:billing stays an import).
const out = await bundle({
  root: guest,
  handlers: { schedule: 'src/handlers/schedule.ts', invoice: 'src/handlers/invoice.ts' },
  typecheck: true,
  maxBytes: 512 * 1024,
});
writeBundle(out, `${guest}dist`);
console.log(out.sizeReport.split('\n')[0]);
for (const line of out.declaration.split('\n').filter((l) => l.includes('(event:')))
  console.log(line.trim());

// 3. Run them in a micro-VM with the host module installed.
const proto = await new SandboxBuilder().build();
billing.install(proto);
const sandbox = await proto.loadRuntime();
addBundle(sandbox, out);
const loaded = await sandbox.getLoadedSandbox();

console.log('schedule:', await loaded.callHandler('schedule', { start: '2026-11-27', steps: 3 }));
console.log(
  'invoice:',
  await loaded.callHandler('invoice', {
    customerId: 'acme',
    plan: 'pro',
    seats: 4,
    issued: '2026-11-29',
  }),
);

// 4. A guest error, its stack mapped back to the TypeScript source.
const mapStack = createStackMapper(out);
try {
  await loaded.callHandler('invoice', {
    customerId: 'initech',
    plan: 'basic',
    seats: 1,
    issued: '2026-11-29',
  });
} catch (error) {
  if (!isHyperlightError(error, ERR_HANDLER)) throw error;
  console.log('error:', error.guestMessage);
  console.log(mapStack(error.guestStack).split('\n')[0].trim());
}

await loaded[Symbol.asyncDispose]();
