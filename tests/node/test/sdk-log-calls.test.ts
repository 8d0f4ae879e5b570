import { type LogLevel, logModule, type StructuredLogger } from '@hyperlight/host-modules';
import { createPool, createSandbox } from '@hyperlight/sandbox';
import { describe, expect, it } from 'vitest';

// @hyperlight/host-modules' logModule in @hyperlight/sandbox definitions: the sandbox calls the
// log installation's beginCall before each call, so the per-call limits count each call alone
// (also with calls running at once on a pool's sandboxes) and every record names its call.

interface Entry {
  level: LogLevel;
  fields: Record<string, unknown>;
  message: string;
}

function memoryLogger(): { logger: StructuredLogger; records: Entry[] } {
  const records: Entry[] = [];
  const logger = Object.fromEntries(
    (['debug', 'info', 'warn', 'error'] as const).map((level) => [
      level,
      (fields: Record<string, unknown>, message: string) =>
        records.push({ level, fields, message }),
    ]),
  ) as unknown as StructuredLogger;
  return { logger, records };
}

/** Logs three records, spinning a little between them so that pool calls overlap. */
const CHATTY = `
  import * as log from 'host:log';
  function handler(event) {
    const kept = [];
    for (let i = 0; i < 3; i++) {
      kept.push(log.info('step ' + i, { i, handler: 'forged' }));
      const s = Date.now(); while (Date.now() - s < 2) {}
    }
    return kept;
  }
`;

describe('logModule in a sandbox definition', () => {
  it('tags each record with its call and resets the per-call limit before every call', async () => {
    const { logger, records } = memoryLogger();
    const log = logModule({ logger, maxRecordsPerCall: 2, fields: { tenant: 'acme' } });
    await using sandbox = await createSandbox({ handlers: { chatty: CHATTY }, hostModules: [log] });
    expect(await sandbox.call('chatty', {})).toEqual([true, true, false]);
    expect(await sandbox.call('chatty', {})).toEqual([true, true, false]);
    const kept = records.filter((r) => r.message.startsWith('step'));
    expect(kept).toHaveLength(4);
    for (const r of kept) {
      // The guest cannot forge the call's fields; the module's fixed fields win too.
      expect(r.fields.handler).toBe('chatty');
      expect(r.fields.tenant).toBe('acme');
      expect(typeof r.fields.callId).toBe('number');
    }
    const ids = [...new Set(kept.map((r) => r.fields.callId))];
    expect(ids).toHaveLength(2);
    // One "dropped" warning per call, naming the call.
    const warnings = records.filter((r) => r.message.startsWith('guest log records dropped'));
    expect(warnings.map((w) => w.fields.callId)).toEqual(ids);
  });

  it('in a pool, calls running at once on different sandboxes keep separate counts', async () => {
    const { logger, records } = memoryLogger();
    const log = logModule({ logger, maxRecordsPerCall: 2 });
    await using pool = await createPool(
      { handlers: { chatty: CHATTY }, hostModules: [log] },
      { size: 2 },
    );
    const results = await Promise.all(Array.from({ length: 8 }, () => pool.call('chatty', {})));
    for (const kept of results) expect(kept).toEqual([true, true, false]);
    const perCall = new Map<unknown, number>();
    for (const r of records.filter((e) => e.message.startsWith('step'))) {
      perCall.set(r.fields.callId, (perCall.get(r.fields.callId) ?? 0) + 1);
    }
    expect([...perCall.values()]).toEqual(Array(8).fill(2));
  });
});
