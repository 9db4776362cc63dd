import { WritePacer } from '../../../src/core/runs/pacing';
import { unitDeps } from '../../support/fake-factory';

const SUB = '11111111-1111-1111-1111-111111111111';

describe('WritePacer (ARM writes shared by every instance)', () => {
  it('when two instances start 60 runs at 10 writes/s with a burst of 20, then together they take at least 4 s, as ARM would allow', async () => {
    const d = unitDeps({ armWritesPerSecond: 10, armWriteBurst: 20 });
    const t0 = d.clock.now().getTime();
    const [a, b] = [new WritePacer(), new WritePacer()]; // two processes, one bucket in Table Storage
    await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? a : b).take(d, SUB)));
    const seconds = (d.clock.now().getTime() - t0) / 1000;
    // 20 at once, then 40 more at 10/s; leases lapse unspent, so it can only be slower, never faster.
    expect(seconds).toBeGreaterThanOrEqual(4);
    expect(seconds).toBeLessThan(12);
  });

  it('when a burst is available, then it goes at once and the shared row is written about once per lease, not once per start', async () => {
    const d = unitDeps({ armWritesPerSecond: 8, armWriteBurst: 100 });
    const pacer = new WritePacer();
    const t0 = d.clock.now().getTime();
    for (let i = 0; i < 40; i++) await pacer.take(d, SUB);
    expect(d.clock.now().getTime()).toBe(t0); // inside the burst: no wait
    const [row] = await d.tables.table('Sweep').query('armwrites');
    expect(row?.props.tokens).toBe(60); // 40 spent, 4 at a time
  });

  it('when ARM answers 429 with Retry-After, then no instance writes again before it has passed', async () => {
    const d = unitDeps({ armWritesPerSecond: 10, armWriteBurst: 100 });
    const [a, b] = [new WritePacer(), new WritePacer()];
    await a.take(d, SUB);
    const t0 = d.clock.now().getTime();
    await a.throttled(d, SUB, 7);
    await b.take(d, SUB);
    expect(d.clock.now().getTime() - t0).toBeGreaterThanOrEqual(7000);
  });
});
