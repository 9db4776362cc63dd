import type { TrackedRun } from '../../../src/core/runs/model';
import { observeAndSettle, observeOne, type Settlers } from '../../../src/core/runs/observe';
import { startTrackedRun } from '../../../src/core/runs/start';
import { RunStore } from '../../../src/core/runs/store';
import { UNIT_FACTORY, unitDeps } from '../../support/fake-factory';

const target = { ...UNIT_FACTORY, pipeline: 'wk_manual' };

async function startMany(d: ReturnType<typeof unitDeps>, n: number, owner: TrackedRun['owner'] = { kind: 'none', id: '' }) {
  const runs: TrackedRun[] = [];
  for (let i = 0; i < n; i++) runs.push((await startTrackedRun(d, { target, parameters: { i }, owner })).run);
  return runs;
}

function recordingSettlers() {
  const seen: TrackedRun[] = [];
  const settlers: Settlers = { job: async (_d, run) => void seen.push(run) };
  return { seen, settlers };
}

describe('observeAndSettle (the sweep\'s Observe and Settle steps)', () => {
  it('when runs change, then one feed read updates only the changed runs and settles the finished ones', async () => {
    const d = unitDeps({ feedOverlapSeconds: 0 });
    const runs = await startMany(d, 5, { kind: 'job', id: 'q/1' });
    const { seen, settlers } = recordingSettlers();
    d.clock.advance(1000);
    const first = await observeAndSettle(d, settlers);
    expect(first).toMatchObject({ factories: 1, active: 5, changed: 5, staleChecks: 0 }); // Queued → InProgress

    d.clock.advance(1000);
    d.factory.finish(runs[0]!.runId!, 'Succeeded');
    d.factory.finish(runs[1]!.runId!, 'Failed', 'Source not found');
    d.factory.calls.changedRuns = 0;
    d.clock.advance(1000);
    const second = await observeAndSettle(d, settlers);
    expect(d.factory.calls.changedRuns).toBe(1);
    expect(second.changed).toBe(2);
    expect(second.settled.map((r) => r.status).sort()).toEqual(['Failed', 'Succeeded']);
    expect(seen).toHaveLength(2);
    expect(await new RunStore(d.tables).find(runs[1]!.runId!)).toMatchObject({ status: 'Failed', message: 'Source not found', settled: true });
    expect(await d.tables.table('ActiveRuns').scanAll()).toHaveLength(3);

    await observeAndSettle(d, settlers);
    expect(seen).toHaveLength(2); // exactly once
  });

  it('when the feed has not mentioned a run for RUN_STALE_SECONDS, then only that run is checked with a per-run GET', async () => {
    const d = unitDeps({ feedOverlapSeconds: 0, runStaleSeconds: 60 });
    const [quiet, busy] = await startMany(d, 2);
    d.clock.advance(1000);
    await observeAndSettle(d, {});
    d.clock.advance(61_000);
    d.factory.finish(busy!.runId!, 'Succeeded');
    d.clock.advance(1);
    const report = await observeAndSettle(d, {});
    expect(report.staleChecks).toBe(1);
    expect(d.factory.calls.getRun).toBe(1);
    expect((await new RunStore(d.tables).find(quiet!.runId!))?.status).toBe('InProgress');

    const again = await observeAndSettle(d, {});
    expect(again.staleChecks).toBe(0); // checked just now
  });

  it('when the feed read fails, then the pass reports the error, keeps the runs and the next pass catches up', async () => {
    const d = unitDeps();
    const [run] = await startMany(d, 1);
    d.factory.finish(run!.runId!, 'Succeeded');
    d.factory.failQueries = 1;
    const failed = await observeAndSettle(d, {});
    expect(failed.errors).toBe(1);
    expect((await new RunStore(d.tables).find(run!.runId!))?.status).toBe('Queued');
    const ok = await observeAndSettle(d, {});
    expect(ok.settled).toHaveLength(1);
  });

  it('when the callback and the sweep settle the same run at once, then it ends settled and later passes never call its owner again', async () => {
    const d = unitDeps();
    const [run] = await startMany(d, 1, { kind: 'job', id: 'q/2' });
    const { seen, settlers } = recordingSettlers();
    d.factory.finish(run!.runId!, 'Succeeded');
    d.clock.advance(1);
    const [one] = await Promise.all([observeOne(d, settlers, run!.runId!), observeAndSettle(d, settlers), observeOne(d, settlers, run!.runId!)]);
    expect(one?.status).toBe('Succeeded');
    // Racing settlers may both run (owners make them idempotent with ETags); at least one did.
    expect(seen.length).toBeGreaterThanOrEqual(1);
    expect((await new RunStore(d.tables).get(run!.trackId))?.settled).toBe(true);
    expect(await d.tables.table('ActiveRuns').scanAll()).toEqual([]);
    const count = seen.length;
    await observeAndSettle(d, settlers);
    await observeOne(d, settlers, run!.runId!);
    expect(seen.length).toBe(count);
  });

  it('when the callback names an unknown run, then observeOne returns nothing and calls nobody', async () => {
    const d = unitDeps();
    const { seen, settlers } = recordingSettlers();
    expect(await observeOne(d, settlers, 'no-such-run')).toBeUndefined();
    expect(d.factory.calls.getRun).toBe(0);
    expect(seen).toHaveLength(0);
  });

  it('when a run finished, then observeOne settles it at once with one GET', async () => {
    const d = unitDeps();
    const [run] = await startMany(d, 1);
    d.factory.finish(run!.runId!, 'Cancelled');
    const done = await observeOne(d, {}, run!.runId!);
    expect(done).toMatchObject({ status: 'Cancelled', settled: true });
    expect(d.factory.calls).toMatchObject({ getRun: 1, changedRuns: 0 });
  });
});
