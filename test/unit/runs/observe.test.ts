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
    expect(await new RunStore(d).find(runs[1]!.runId!)).toMatchObject({ status: 'Failed', message: 'Source not found', settled: true });
    expect(await d.tables.table('ActiveRuns').scanAll()).toHaveLength(3);

    await observeAndSettle(d, settlers);
    expect(seen).toHaveLength(2); // exactly once
  });

  it('when the feed has not mentioned runs for RUN_STALE_SECONDS, then they are re-checked by the page, stalest first, within the read budget', async () => {
    const d = unitDeps({ feedOverlapSeconds: 0, runStaleSeconds: 60, staleCheckReadsPerPass: 2 });
    const runs = await startMany(d, 200);
    d.clock.advance(1000);
    await observeAndSettle(d, {}); // Queued → InProgress: news for the first 200
    d.clock.advance(10_000);
    runs.push(...(await startMany(d, 50)));
    d.clock.advance(1000);
    await observeAndSettle(d, {}); // news for the last 50, 11 s later
    d.clock.advance(55_000);
    const quiet = runs[0]!;
    const late = runs[249]!; // its news is newer: outside this pass's budget of 2 pages (200 runs)
    d.factory.finish(quiet.runId!, 'Succeeded');
    // A finish stamped behind the watermark (clock skew): only the re-check can notice it.
    const stamped = d.factory.runs.find((r) => r.runId === quiet.runId)!;
    stamped.lastUpdated = stamped.runStart!;
    d.factory.calls.changedRuns = 0;
    d.clock.advance(1);
    const report = await observeAndSettle(d, {});
    expect(d.factory.calls.getRun).toBe(0);
    expect(d.factory.calls.changedRuns).toBe(1 + 2); // the feed, then two pages of run groups
    expect(report.staleChecks).toBe(200);
    expect(report.settled.map((r) => r.trackId)).toEqual([quiet.trackId]);
    expect((await new RunStore(d).get(quiet.trackId))?.status).toBe('Succeeded');

    d.factory.calls.changedRuns = 0;
    d.clock.advance(6_000);
    const next = await observeAndSettle(d, {});
    expect(next.staleChecks).toBe(50); // the rest, now stale too; the others got news a pass ago
    expect(d.factory.calls.changedRuns).toBe(1 + 1);
    expect((await new RunStore(d).view(late.runId!))?.status).toBe('InProgress');
    expect((await observeAndSettle(d, {})).staleChecks).toBe(0);
  });

  it('when Data Factory no longer knows a run (404), then it ends Unknown and reaches its owner once', async () => {
    const d = unitDeps({ feedOverlapSeconds: 0, runStaleSeconds: 60 });
    const [gone, kept] = await startMany(d, 2, { kind: 'job', id: 'q/9' });
    const { seen, settlers } = recordingSettlers();
    d.clock.advance(1000);
    await observeAndSettle(d, settlers);
    d.factory.runs.splice(d.factory.runs.findIndex((r) => r.runId === gone!.runId), 1); // e.g. the factory was recreated
    d.clock.advance(61_000);
    const report = await observeAndSettle(d, settlers);
    expect(report.unknown).toBe(1);
    expect(d.factory.calls.getRun).toBe(1); // the one run no page showed
    expect(seen.map((r) => [r.trackId, r.status])).toEqual([[gone!.trackId, 'Unknown']]);
    expect(await new RunStore(d).get(gone!.trackId)).toMatchObject({ status: 'Unknown', settled: true });
    expect((await new RunStore(d).view(kept!.runId!))?.status).toBe('InProgress');
    d.clock.advance(61_000);
    await observeAndSettle(d, settlers);
    expect(seen).toHaveLength(1);
    expect(await d.tables.table('ActiveRuns').scanAll()).toHaveLength(1);
  });

  it('when a run goes Queued → InProgress, then only its index row is written (in a batch) and the view shows the live status', async () => {
    const d = unitDeps({ feedOverlapSeconds: 0 });
    const [run] = await startMany(d, 1);
    const before = await new RunStore(d).get(run!.trackId);
    d.clock.advance(1000);
    const report = await observeAndSettle(d, {});
    expect(report.changed).toBe(1);
    const after = await new RunStore(d).get(run!.trackId);
    expect(after?.etag).toBe(before?.etag); // the record was not rewritten
    expect((await new RunStore(d).view(run!.runId!))?.status).toBe('InProgress');
  });

  it('when the host died between the run record and its index row, then the finish is still settled and the index is repaired', async () => {
    const d = unitDeps({ feedOverlapSeconds: 0, reconcileGraceSeconds: 30 });
    const [run] = await startMany(d, 1, { kind: 'job', id: 'q/3' });
    const { seen, settlers } = recordingSettlers();
    const index = d.tables.table('ActiveRuns');
    const [row] = await index.scanAll();
    const { runId: _lost, runGroupId: _g, ...props } = row!.props;
    await index.update(row!.partitionKey, row!.rowKey, { ...props, status: 'Starting' }, row!.etag);
    d.clock.advance(31_000);
    await observeAndSettle(d, settlers); // the index row gets its runId back from the record
    expect((await index.scanAll())[0]?.props).toMatchObject({ runId: run!.runId });
    d.factory.finish(run!.runId!, 'Failed');
    d.clock.advance(1000);
    await observeAndSettle(d, settlers);
    expect(seen.map((r) => r.status)).toEqual(['Failed']);
    expect(await index.scanAll()).toEqual([]);
  });

  it('when the feed read fails, then the pass reports the error, keeps the runs and the next pass catches up', async () => {
    const d = unitDeps();
    const [run] = await startMany(d, 1);
    d.factory.finish(run!.runId!, 'Succeeded');
    d.factory.failQueries = 1;
    const failed = await observeAndSettle(d, {});
    expect(failed.errors).toBe(1);
    expect((await new RunStore(d).find(run!.runId!))?.status).toBe('Queued');
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
    expect((await new RunStore(d).get(run!.trackId))?.settled).toBe(true);
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
