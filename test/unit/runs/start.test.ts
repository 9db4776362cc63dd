import { NotFound, Rejected, Throttled, Unavailable } from '../../../src/core/errors';
import { observeAndSettle } from '../../../src/core/runs/observe';
import { attempt, attemptLeaseSeconds, claim, reconcileClaim, startTrackedRun, type StartRequest } from '../../../src/core/runs/start';
import { RunStore } from '../../../src/core/runs/store';
import { UNIT_FACTORY, unitDeps } from '../../support/fake-factory';

const target = { ...UNIT_FACTORY, pipeline: 'wk_ok' };
const anonymous = (parameters: Record<string, unknown> = { n: 1 }): StartRequest => ({ target, parameters, owner: { kind: 'none', id: '' } });
const keyed = (trackId: string, parameters: Record<string, unknown> = { n: 1 }): StartRequest => ({ ...anonymous(parameters), trackId });

async function rows(d: ReturnType<typeof unitDeps>) {
  return { runs: await d.tables.table('Runs').scanAll(), active: await d.tables.table('ActiveRuns').scanAll() };
}

/** One sweep pass after the reconcile grace period. */
async function sweepLater(d: ReturnType<typeof unitDeps>, ms = 31_000) {
  d.clock.advance(ms);
  return observeAndSettle(d, {});
}

/** Waits (at most 2 s) for a condition that async work in flight will make true. */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
}

describe('startTrackedRun', () => {
  it('when ADF answers, then the claim records the runId, status Queued and an active-index row', async () => {
    const d = unitDeps();
    const res = await startTrackedRun(d, anonymous());
    expect(res.kind).toBe('started');
    expect(res.run.runId).toBe(d.factory.runs[0]?.runId);
    expect(res.run.status).toBe('Queued');
    expect(res.run.leaseUntil).toBeDefined();
    expect(await new RunStore(d).find(res.run.runId!)).toMatchObject({ trackId: res.run.trackId });
    expect((await rows(d)).active).toHaveLength(1);
  });

  it('when the same trackId is claimed twice, then the second call gets the existing claim and ADF one run', async () => {
    const d = unitDeps();
    const [a, b] = await Promise.all([startTrackedRun(d, keyed('t1')), startTrackedRun(d, keyed('t1'))]);
    expect([a.kind, b.kind].sort()).toEqual(['existing', 'started']);
    expect(d.factory.runs).toHaveLength(1);
  });

  it.each([
    ['the pipeline is unknown', 'notfound', NotFound],
    ['ADF rejects the parameters', 'rejected', Rejected],
    ['ADF throttles', 'throttled', Throttled],
  ] as const)('when %s, then the error is rethrown and nothing is left behind', async (_what, outcome, type) => {
    const d = unitDeps();
    if (outcome === 'notfound') d.factory.pipelines.add('other');
    else d.factory.startScript = [outcome];
    await expect(startTrackedRun(d, anonymous())).rejects.toBeInstanceOf(type);
    expect(await rows(d)).toEqual({ runs: [], active: [] });
    expect(d.factory.runs).toHaveLength(0);
  });

  it('when the createRun response is lost, then the claim adopts the run ADF created and starts no other', async () => {
    const d = unitDeps();
    d.factory.startScript = ['lost'];
    const res = await startTrackedRun(d, anonymous());
    expect(d.factory.runs).toHaveLength(1);
    expect(res.run.runId).toBe(d.factory.runs[0]?.runId);
  });

  it('when createRun fails without creating anything, then it is started again once and tracked', async () => {
    const d = unitDeps();
    d.factory.startScript = ['unavailable'];
    const res = await startTrackedRun(d, anonymous());
    expect(d.factory.calls.start).toBe(2);
    expect(d.factory.runs).toHaveLength(1);
    expect(res.run).toMatchObject({ runId: d.factory.runs[0]?.runId, attempt: 2 });
  });

  it('when both the first attempt and the retry are lost, then the retry is adopted: one run, never two', async () => {
    const d = unitDeps();
    d.factory.startScript = ['unavailable', 'lost'];
    const res = await startTrackedRun(d, anonymous());
    expect(d.factory.runs).toHaveLength(1);
    expect(res.run.runId).toBe(d.factory.runs[0]?.runId);
  });

  describe('when ADF cannot tell whether the run exists (the answer is lost and the query fails)', () => {
    it('then an anonymous start throws Unavailable, and the sweep adopts the run ADF did create', async () => {
      const d = unitDeps();
      d.factory.startScript = ['lost'];
      d.factory.failQueries = 1;
      await expect(startTrackedRun(d, anonymous())).rejects.toBeInstanceOf(Unavailable);
      const [claim] = (await rows(d)).runs;
      expect(claim?.props).toMatchObject({ status: 'Starting', adoptOnly: true });
      expect(claim?.props.leaseUntil).toBeUndefined();

      const report = await sweepLater(d);
      expect(report.reconciled).toBe(1);
      expect(d.factory.calls.start).toBe(1);
      expect(await new RunStore(d).find(d.factory.runs[0]!.runId)).toMatchObject({ status: 'InProgress' });
    });

    it('then an anonymous claim whose run ADF never created is dropped by the sweep, never started behind the caller', async () => {
      const d = unitDeps();
      d.factory.startScript = ['unavailable'];
      d.factory.failQueries = 1;
      await expect(startTrackedRun(d, anonymous())).rejects.toBeInstanceOf(Unavailable);
      await sweepLater(d);
      await sweepLater(d);
      expect(d.factory.calls.start).toBe(1);
      expect(d.factory.runs).toHaveLength(0);
      expect(await rows(d)).toEqual({ runs: [], active: [] });
    });

    it('then a keyed start stays Starting and the sweep starts it exactly once', async () => {
      const d = unitDeps();
      d.factory.startScript = ['unavailable'];
      d.factory.failQueries = 1;
      const res = await startTrackedRun(d, keyed('k1'));
      expect(res).toMatchObject({ kind: 'started', run: { status: 'Starting', runId: undefined } });
      expect(res.run.leaseUntil).toBeUndefined();

      await sweepLater(d, 500);
      expect(d.factory.calls.start).toBe(1); // inside the grace period: not yet
      await sweepLater(d);
      await sweepLater(d);
      expect(d.factory.runs).toHaveLength(1);
      expect((await new RunStore(d).get('k1'))?.runId).toBe(d.factory.runs[0]?.runId);
    });
  });

  it('when a createRun is still in flight past the grace period, then the sweep does not start the claim again', async () => {
    const d = unitDeps();
    let release!: () => void;
    d.factory.gate = new Promise<void>((r) => (release = r));
    const pending = startTrackedRun(d, keyed('slow'));
    await until(() => d.factory.calls.start === 1);
    expect(d.factory.runs).toHaveLength(1);

    d.factory.runs.pop(); // as if ADF has not made the run visible yet
    d.factory.gate = undefined;
    await sweepLater(d);
    expect(d.factory.calls.start).toBe(1);

    release();
    const res = await pending;
    expect(res.run.status).toBe('Queued');
    expect(d.factory.calls.start).toBe(1);
  });

  it('when a lease has expired (the starter crashed), then the sweep reconciles the claim', async () => {
    const d = unitDeps();
    const store = new RunStore(d);
    await store.insert({ trackId: 'crashed', status: 'Starting', target, parameters: {}, owner: { kind: 'none', id: '' }, claimedAt: d.clock.now().toISOString(), attempt: 1, settled: false, leaseUntil: new Date(d.clock.now().getTime() + 300_000).toISOString() });
    await sweepLater(d, 60_000);
    expect(d.factory.calls.start).toBe(0);
    await sweepLater(d, 300_000);
    expect(d.factory.calls.start).toBe(1);
    expect((await store.get('crashed'))?.runId).toBe(d.factory.runs[0]?.runId);
  });

  it('when two identical anonymous starts race and one answer is lost, then each claim tracks one run and none is started a third time', async () => {
    const d = unitDeps();
    let release!: () => void;
    d.factory.gate = new Promise<void>((r) => (release = r));
    const slow = startTrackedRun(d, anonymous()); // creates run 1, answer held back
    await until(() => d.factory.calls.start === 1);
    d.factory.gate = undefined;
    d.factory.startScript = ['lost'];
    const lost = await startTrackedRun(d, anonymous()); // creates run 2, loses the answer, adopts run 1 (older)
    release();
    const first = await slow; // its own run was adopted by the other claim: it adopts run 2
    expect(d.factory.runs).toHaveLength(2);
    expect(new Set([lost.run.runId, first.run.runId])).toEqual(new Set(d.factory.runs.map((r) => r.runId)));
  });

  it('when the claim is reconciled by hand while it already has a runId, then nothing changes', async () => {
    const d = unitDeps();
    const res = await startTrackedRun(d, keyed('done'));
    const again = await reconcileClaim(d, 'done', { mayRestart: true, force: true });
    expect(again.runId).toBe(res.run.runId);
    expect(d.factory.calls.start).toBe(1);
  });

  it('when the host died between the claim and createRun, then the sweep starts it once the lease (createRun timeout + margin) lapses, not after 5 minutes', async () => {
    const d = unitDeps();
    const store = new RunStore(d);
    const claimed = await claim(d, store, keyed('orphan'));
    expect(attemptLeaseSeconds(d)).toBe(d.factory.startTimeoutSeconds + 15);
    await sweepLater(d, 40_000); // past the grace period, inside the lease: an attempt may still be in flight
    expect(d.factory.runs).toHaveLength(0);
    await sweepLater(d, 40_000); // 80 s: the lease has lapsed
    expect(d.factory.runs).toHaveLength(1);
    expect((await store.get(claimed.run.trackId))?.runId).toBe(d.factory.runs[0]?.runId);
  });

  it('when pacing held an attempt past most of its lease, then the lease is renewed before createRun', async () => {
    const d = unitDeps();
    const store = new RunStore(d);
    const claimed = await claim(d, store, keyed('slow'));
    d.clock.advance(70_000); // the wait for a write token: 5 s of the lease left
    const next = await attempt(d, store, { kind: 'attempt', run: claimed.run, inline: true, mayRestartAfter: true });
    expect(next.kind).toBe('record');
    const stored = await store.get(claimed.run.trackId);
    expect(new Date(stored!.leaseUntil!).getTime() - d.clock.now().getTime()).toBe(attemptLeaseSeconds(d) * 1000);
  });
});
