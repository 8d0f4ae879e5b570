import { type LoadedJSSandbox, SandboxBuilder } from '@hyperlight/js-host-api';
import { type CallObserver, createCallObserver } from '../src/index';

/** Spins until `event.ms` milliseconds have passed (forever without `ms`). */
export const SPIN = `
  function handler(event) {
    const start = Date.now();
    while (event.ms === undefined || Date.now() - start < event.ms) {}
    return { done: true };
  }
`;

/** Calls the host function `db.get` `event.n` times and returns how many answers it got. */
export const HOST_CALLS = `
  import * as db from 'host:db';
  function handler(event) {
    let got = 0;
    for (let i = 0; i < event.n; i++) if (db.get('k' + i) === 'v') got++;
    return { got };
  }
`;

/** Echoes its event. */
export const ECHO = 'function handler(event) { return event; }';

/** A loaded sandbox with handlers `spin`, `hosts` and `echo`, its host function `db.get`
 * registered through an observer, and a counter of how often `db.get` really ran. */
export async function observedSandbox(): Promise<{
  loaded: LoadedJSSandbox;
  observer: CallObserver;
  ran: { count: number };
}> {
  const observer = createCallObserver();
  const ran = { count: 0 };
  const proto = observer.instrument(await new SandboxBuilder().build());
  proto.hostModule('db').register('get', () => {
    ran.count++;
    return 'v';
  });
  const js = await proto.loadRuntime();
  js.addHandler('spin', SPIN);
  js.addHandler('hosts', HOST_CALLS);
  js.addHandler('echo', ECHO);
  return { loaded: await js.getLoadedSandbox(), observer, ran };
}

export { rejection, thrown } from '../../../tooling/test-helpers';
