import { newApp, startServices, type Services } from './harness';
import { runToConvergence, type LoadSpec } from './load';
import { record } from './report';

/** A seeded generator, so a failing run reproduces (FAULT_SEED). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

const SEED = Number(process.env.FAULT_SEED ?? 20261128);

describe('random kills and a storage outage under a mixed load', () => {
  let services: Services;
  beforeAll(async () => {
    services = await startServices();
  });
  afterAll(() => services.close());

  it(`when the host is SIGKILLed at 8+ random moments (seed ${SEED}), then everything converges with 0 duplicates, 0 losses, 0 stuck, one email`, async () => {
    const spec: LoadSpec = { tag: `rk${SEED}`, workersPerStage: 34, failureHandling: 'DependencyChain', jobs: 20, runs: 20, pauses: 10 };
    const app = await newApp(services);
    await app.start();
    const random = rng(SEED);
    try {
      const counts = await runToConvergence(app, spec, async () => {
        // Kill and restart at random moments 0.4–2.4 s apart while the load runs and settles.
        for (let k = 0; k < 8; k++) {
          await new Promise((r) => setTimeout(r, 400 + Math.floor(random() * 2000)));
          await app.restart();
        }
      });
      record({ scenario: 'random kills', load: '102 workers (DependencyChain, a failure chain), 20 queue jobs, 20 keyed runs, 10 pauses', faults: `${app.kills} SIGKILLs at random moments (seed ${SEED})`, ...counts });
      expect(app.kills).toBeGreaterThanOrEqual(8);
      // A kill after a receiver's 2xx and before the delivery is recorded repeats that callback (docs/webhooks.md); at most once per kill.
      expect(counts.callbackRepeats).toBeLessThanOrEqual(app.kills);
      expect({ ...counts, callbackRepeats: 0 }).toEqual({ items: 152, duplicates: 0, callbackRepeats: 0, losses: 0, stuck: 0, emails: 1, wrongEmails: 0 });
    } finally {
      await app.stop();
    }
  });

  it('when Azurite is down for 10 s in the middle of an execution and a queue drain, then requests get 503 StorageUnavailable (never 500), the sweep logs once per pass, and nothing is lost', async () => {
    const spec: LoadSpec = { tag: 'outage', workersPerStage: 10, failureHandling: 'Simple', jobs: 10, runs: 5, pauses: 4 };
    const app = await newApp(services);
    await app.start();
    const answers: number[] = [];
    let outageLines = 0;
    try {
      const counts = await runToConvergence(app, spec, async (sent) => {
        await sent; // the load is in; the execution and the queue are working
        const before = app.output.length;
        const outage = services.storageOutage(10_000);
        // Meanwhile: what clients get.
        const probeUntil = Date.now() + 9_000;
        await new Promise((r) => setTimeout(r, 500));
        for (let i = 0; Date.now() < probeUntil; i++) {
          const res = await fetch(`${app.api}/queues/q/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pipeline: 'wk_ok', parameters: { tag: `outage-probe-${i}` } }) });
          const body = (await res.json()) as { code?: string };
          answers.push(res.status);
          if (res.status === 503) {
            expect(body.code).toBe('StorageUnavailable');
            expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
          }
          const get = await fetch(`${app.api}/runs/outage-probe`);
          answers.push(get.status);
          await new Promise((r) => setTimeout(r, 300));
        }
        await outage;
        outageLines = app.output.slice(before).filter((l) => /sweep step failed|could not be advanced|not advanced/.test(l)).length;
      });
      record({ scenario: 'storage outage', load: '30 workers (Simple), 10 queue jobs, 5 keyed runs, 4 pauses', faults: 'Azurite stopped for 10 s mid-execution and mid-drain', ...counts, fiveHundreds: answers.filter((s) => s >= 500 && s !== 503).length });
      expect(answers.filter((s) => s === 503).length).toBeGreaterThanOrEqual(1); // each waits out the SDK's retries (about 5 s)
      expect(answers.filter((s) => s >= 500 && s !== 503)).toEqual([]);
      // About ten passes ran during the outage: a line or two each, not one per row (30 workers, 10 jobs).
      expect(outageLines).toBeLessThanOrEqual(40);
      expect(counts).toEqual({ items: 49, duplicates: 0, callbackRepeats: 0, losses: 0, stuck: 0, emails: 1, wrongEmails: 0 });
    } finally {
      await app.stop();
    }
  });
});
