import { startLocalHost } from '../../../../local/host/host';
import { unitDeps } from '../../../support/fake-factory';

/** Starts the local host with its timers on, collects its function logs, and counts Sweep passes. */
async function hostOn(schedule: string) {
  const logs: string[] = [];
  const host = await startLocalHost({ deps: unitDeps(), port: 0, settings: { SWEEP_SCHEDULE: schedule }, onLog: (fn, _level, m) => logs.push(`[${fn}] ${m}`) });
  return { host, passes: () => logs.filter((l) => l.startsWith('[Sweep]') && l.includes('sweep pass')).length };
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('local host: the Sweep timer on SWEEP_SCHEDULE (wall clock)', () => {
  test('when the schedule fires every second, then the Sweep runs on its own', async () => {
    const { host, passes } = await hostOn('*/1 * * * * *');
    try {
      const deadline = Date.now() + 5_000;
      while (passes() === 0 && Date.now() < deadline) await wait(50);
      expect(passes()).toBeGreaterThan(0);
    } finally {
      await host.close();
    }
  });

  test('when the next firing is years away (29 February), then the Sweep does not run within a second', async () => {
    const { host, passes } = await hostOn('0 0 0 29 2 *');
    try {
      await wait(1_200);
      expect(passes()).toBe(0);
    } finally {
      await host.close();
    }
  });

  test('when the schedule is not NCRONTAB with seconds, then the host does not start', async () => {
    await expect(startLocalHost({ deps: unitDeps(), port: 0, settings: { SWEEP_SCHEDULE: '*/5 * * * *' } })).rejects.toThrow("bad NCRONTAB schedule '*/5 * * * *'");
  });
});
