import { SandboxBuilder } from '@hyperlight/js-host-api';
import { describe, expect, it } from 'vitest';
import { expectRejectCode } from './helpers';

const HANDLER = `function handler() {
  return [new Date(0).toLocaleString(), (1234.5).toLocaleString(),
          new Intl.DateTimeFormat().resolvedOptions().timeZone,
          new Intl.NumberFormat().resolvedOptions().locale];
}`;

async function run(builder: SandboxBuilder): Promise<unknown> {
  const proto = await builder.build();
  const sb = await proto.loadRuntime();
  sb.addHandler('h', HANDLER);
  const loaded = await sb.getLoadedSandbox();
  try {
    return await loaded.callHandler('h', {});
  } finally {
    await loaded.unload().catch(() => {});
  }
}

describe('Intl defaults are builder options', () => {
  it('defaults to en-US and UTC', async () => {
    expect(await run(new SandboxBuilder())).toEqual([
      '1/1/1970, 12:00:00\u202fAM',
      '1,234.5',
      'UTC',
      'en-US',
    ]);
  });

  it('takes a locale and a time zone', async () => {
    const b = new SandboxBuilder().setLocale('de-CH').setTimeZone('Europe/Zurich');
    expect(await run(b)).toEqual(['01.01.1970, 01:00:00', "1'234.5", 'Europe/Zurich', 'de-CH']);
  });

  it('refuses bad values with ERR_INVALID_ARG', async () => {
    await expectRejectCode(new SandboxBuilder().setLocale('en_US').build(), 'ERR_INVALID_ARG');
    await expectRejectCode(
      new SandboxBuilder().setTimeZone('Mars/Olympus').build(),
      'ERR_INVALID_ARG',
    );
    expect(() => new SandboxBuilder().setLocale(42 as unknown as string)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG' }),
    );
  });
});
