import { Rejected } from '../../../src/core/errors';
import { attempt, claim, reconcile, record, type StartRequest, type Step } from '../../../src/core/runs/start';
import { RunStore } from '../../../src/core/runs/store';
import { UNIT_FACTORY, unitDeps } from '../../support/fake-factory';

const target = { ...UNIT_FACTORY, pipeline: 'wk_ok' };
const request = (trackId: string): StartRequest => ({ trackId, target, parameters: { n: 1 }, owner: { kind: 'job', id: 'q/1' } });

async function claimed(d: ReturnType<typeof unitDeps>, trackId = 't1') {
  const store = new RunStore(d);
  const res = await claim(d, store, request(trackId));
  if (res.kind !== 'started') throw new Error('expected a new claim');
  return { store, run: res.run };
}

describe('the start machine, one transition at a time', () => {
  it('claim: a second claim of the same trackId gets the first, and writes nothing', async () => {
    const d = unitDeps();
    const { store, run } = await claimed(d);
    const again = await claim(d, store, request('t1'));
    expect(again).toMatchObject({ kind: 'existing', run: { trackId: run.trackId, status: 'Starting' } });
    expect(await d.tables.table('Runs').scanAll()).toHaveLength(1);
  });

  it('attempt → record when ADF answers with a runId', async () => {
    const d = unitDeps();
    const { store, run } = await claimed(d);
    const next = await attempt(d, store, { kind: 'attempt', run, inline: true, mayRestartAfter: true });
    expect(next).toMatchObject({ kind: 'record', runId: d.factory.runs[0]!.runId });
  });

  it('attempt → reconcile (holding the lease) when the answer is lost; no restart allowed after a reconciling attempt', async () => {
    const d = unitDeps();
    const { store, run } = await claimed(d);
    d.factory.startScript = ['lost', 'lost'];
    expect(await attempt(d, store, { kind: 'attempt', run, inline: true, mayRestartAfter: true })).toMatchObject({ kind: 'reconcile', opts: { mayRestart: true, force: true, holdsLease: true } });
    expect(await attempt(d, store, { kind: 'attempt', run, inline: false, mayRestartAfter: false })).toMatchObject({ kind: 'reconcile', opts: { mayRestart: false } });
  });

  it('attempt: an inline refusal removes the claim and is rethrown; a reconciling refusal ends the owned claim Failed, not started', async () => {
    const d = unitDeps();
    const { store, run } = await claimed(d);
    d.factory.startScript = ['rejected'];
    await expect(attempt(d, store, { kind: 'attempt', run, inline: true, mayRestartAfter: true })).rejects.toBeInstanceOf(Rejected);
    expect(await store.get('t1')).toBeUndefined();

    const second = await claimed(d, 't2');
    d.factory.pipelines = new Set(['other']);
    const next = (await attempt(d, second.store, { kind: 'attempt', run: second.run, inline: false, mayRestartAfter: false })) as Extract<Step, { kind: 'done' }>;
    expect(next.kind).toBe('done');
    expect(next.run).toMatchObject({ status: 'Failed', notStarted: true });
  });

  it('record → done: the runId index, the record (Queued) and its index row agree', async () => {
    const d = unitDeps();
    const { store, run } = await claimed(d);
    const next = await record(d, store, { kind: 'record', run, runId: 'r-1' });
    expect(next).toMatchObject({ kind: 'done', run: { runId: 'r-1', status: 'Queued' } });
    expect(await store.trackIdOf('r-1')).toBe('t1');
    expect((await d.tables.table('ActiveRuns').scanAll())[0]?.props).toMatchObject({ runId: 'r-1' });
  });

  it('record → reconcile (adopt only) when another claim already owns that runId', async () => {
    const d = unitDeps();
    const a = await claimed(d, 'a');
    const b = await claimed(d, 'b');
    await record(d, a.store, { kind: 'record', run: a.run, runId: 'r-1' });
    expect(await record(d, b.store, { kind: 'record', run: b.run, runId: 'r-1' })).toMatchObject({ kind: 'reconcile', opts: { mayRestart: false } });
  });

  it('reconcile → record when ADF has the run (adopt), → attempt when it has none and a restart is allowed, → done otherwise', async () => {
    const d = unitDeps({ reconcileGraceSeconds: 30 });
    const { store, run } = await claimed(d);
    d.factory.startScript = ['lost'];
    await attempt(d, store, { kind: 'attempt', run, inline: true, mayRestartAfter: true }); // ADF created it; the answer was lost
    expect(await reconcile(d, store, { kind: 'reconcile', run, opts: { mayRestart: true, force: true, holdsLease: true } })).toMatchObject({ kind: 'record', runId: d.factory.runs[0]!.runId });

    const lonely = await claimed(d, 't2');
    d.factory.runs.length = 0; // ADF has nothing for it
    expect(await reconcile(d, lonely.store, { kind: 'reconcile', run: lonely.run, opts: { mayRestart: false, force: true } })).toMatchObject({ kind: 'done', run: { status: 'Starting' } });
    expect(await reconcile(d, lonely.store, { kind: 'reconcile', run: lonely.run, opts: { mayRestart: true, force: true } })).toMatchObject({ kind: 'done' }); // lease held by the claimant
    expect(await reconcile(d, lonely.store, { kind: 'reconcile', run: lonely.run, opts: { mayRestart: true, force: true, holdsLease: true } })).toMatchObject({ kind: 'attempt', run: { attempt: 2 }, mayRestartAfter: false });
  });
});
