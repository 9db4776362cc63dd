import { CRASH_STEPS, type CrashStep } from '../../src/core/crash';
import { mapLimit } from '../../src/core/util';
import { newApp, startServices, type App, type Services } from './harness';
import { runToConvergence, type Counts, type LoadSpec } from './load';
import { record } from './report';

/**
 * Each named crash point: the host kills itself (SIGKILL) the N-th time it reaches the step, in the middle of
 * a mixed load; a new host starts on the same data; everything must converge exactly once.
 */
const points: Array<[CrashStep, number]> = [
  ['afterClaim', 3],
  ['afterCreateRun', 3],
  ['afterRecord', 3],
  ['midStageSettle', 2],
  ['midQueueAdvance', 1],
  ['afterPauseDecision', 1],
  ['afterOutcome', 1],
  ['afterSend', 1],
  ['beforeCallback', 1],
  ['midWorkerEnqueue', 1],
];

const spec = (tag: string): LoadSpec => ({ tag, workersPerStage: 3, failureHandling: 'Simple', jobs: 3, runs: 2, pauses: 2 });

describe('crash points: a host killed at each named step converges with 0 duplicates, 0 losses, 0 stuck, one email', () => {
  let services: Services;
  beforeAll(async () => {
    services = await startServices();
  });
  afterAll(() => services.close());

  it('covers every crash step the code declares', () => {
    expect(points.map(([s]) => s).sort()).toEqual([...CRASH_STEPS].sort());
  });

  it('every crash point', async () => {
    const results: Array<{ step: string; counts: Counts; died: boolean }> = [];
    await mapLimit(points, 4, async ([step, n]) => {
      const app: App = await newApp(services);
      await app.start(`${step}:${n}`);
      const dead = app.host!.exited;
      let died = false;
      try {
        const counts = await runToConvergence(app, spec(`cp-${step}`), async () => {
          // The host kills itself at the step; a new one starts on the same data at once.
          const how = await Promise.race([dead, new Promise((r) => setTimeout(() => r('alive'), 60_000))]);
          died = how === 'SIGKILL';
          await app.restart();
        });
        results.push({ step, counts, died });
      } finally {
        await app.stop();
      }
    });
    for (const r of results) record({ scenario: `crash at ${r.step}`, load: 'execution of 9 workers (Simple, 1 failure → Stopped; one on a shared limit), 3 queue jobs, 2 keyed runs and 2 pauses (each with a Webhook callback)', faults: `SIGKILL at ${r.step}`, ...r.counts });
    expect(results.map((r) => r.step).sort()).toEqual(points.map(([s]) => s).sort());
    for (const r of results) expect({ step: r.step, died: r.died, ...r.counts }).toEqual({ step: r.step, died: true, items: 16, duplicates: 0, callbackRepeats: 0, losses: 0, stuck: 0, emails: 1, wrongEmails: 0 });
  });
});
