import { createPause, EXPIRY_CURSOR, type PauseInput } from '../../../src/core/pauses/create';
import { decidePause } from '../../../src/core/pauses/decide';
import { PauseError } from '../../../src/core/pauses/errors';
import { DECIDING_PARTITION, PauseStore } from '../../../src/core/pauses/store';
import { expirePauses, settlePauseRun } from '../../../src/core/pauses/sweep';
import { observeAndSettle } from '../../../src/core/runs/observe';
import { startTrackedRun } from '../../../src/core/runs/start';
import { RunStore } from '../../../src/core/runs/store';
import { BASE, unitWorld, type UnitWorld } from './fakes';

const input: PauseInput = { continuation: { pipeline: 'pl_continue' }, data: { n: 1 } };
const HOUR = 3600_000;
const status = async (w: UnitWorld, pauseId: string) => (await new PauseStore(w.deps.tables).get(pauseId))?.status;
const observe = (w: UnitWorld) => observeAndSettle(w.deps, { pause: settlePauseRun });

describe('expirePauses', () => {
  it('when pauses pass their expiry, then the sweep expires exactly those, through the index and without scanning Pauses', async () => {
    const w = unitWorld();
    const soon = await createPause(w.deps, { ...input, expiresInSeconds: 60 }, BASE);
    const later = await createPause(w.deps, { ...input, expiresInSeconds: 3 * 3600 }, BASE);
    w.clock.advance(61_000);
    await expirePauses(w.deps);
    expect([await status(w, soon.pause.pauseId), await status(w, later.pause.pauseId)]).toEqual(['Expired', 'Waiting']);
    w.clock.advance(3 * HOUR);
    await expirePauses(w.deps);
    expect(await status(w, later.pause.pauseId)).toBe('Expired');
    expect(w.tables.scans.get('Pauses')).toBeUndefined();
    expect(w.tables.scans.get('PauseExpiry')).toBeUndefined();
  });

  it('when expired pauses are handled, then their index rows are gone and the cursor has moved up to the current hour', async () => {
    const w = unitWorld();
    await createPause(w.deps, { ...input, expiresInSeconds: 2 * 3600 }, BASE);
    const cursor = () => w.deps.tables.table('Sweep').get(EXPIRY_CURSOR.partitionKey, EXPIRY_CURSOR.rowKey);
    expect((await cursor())?.props.hour).toBe('2026030110');
    w.clock.advance(5 * HOUR);
    await expirePauses(w.deps);
    expect((await cursor())?.props.hour).toBe('2026030115');
    expect((await w.deps.tables.table('PauseExpiry').query('d_2026030112')).length).toBe(0);
  });

  it('when a pause was decided before its expiry, then the sweep leaves the decision alone and drops the index row', async () => {
    const w = unitWorld();
    const { pause, token } = await createPause(w.deps, { ...input, expiresInSeconds: 60 }, BASE);
    await decidePause(w.deps, token, 'reject');
    w.clock.advance(HOUR);
    await expirePauses(w.deps);
    expect(await status(w, pause.pauseId)).toBe('Rejected');
    expect(await w.deps.tables.table('PauseExpiry').query('d_2026030110')).toEqual([]);
  });

  it('when an instance whose clock runs behind adds a pause to the hour before the cursor, then the sweep still expires it', async () => {
    const w = unitWorld();
    await createPause(w.deps, input, BASE);
    w.clock.advance(HOUR); // 11:15: the sweep moves the cursor to hour 11
    await expirePauses(w.deps);
    w.clock.advance(-(16 * 60_000 + 2000)); // 10:58:58 on a lagging instance
    const late = await createPause(w.deps, { ...input, expiresInSeconds: 1 }, BASE);
    w.clock.advance(20 * 60_000);
    await expirePauses(w.deps);
    expect(await status(w, late.pause.pauseId)).toBe('Expired');
  });

  it('when the sweep was down for days, then it catches up over a few passes and expires everything due', async () => {
    const w = unitWorld();
    const ids = [];
    for (let i = 1; i <= 5; i++) ids.push((await createPause(w.deps, { ...input, expiresInSeconds: i * 20 * 3600 }, BASE)).pause.pauseId);
    w.clock.advance(5 * 24 * HOUR);
    for (let pass = 0; pass < 4; pass++) await expirePauses(w.deps);
    expect(await Promise.all(ids.map((id) => status(w, id)))).toEqual(Array(5).fill('Expired'));
  });
});

describe('pause decisions finished by the sweep', () => {
  it('when the app crashed between claiming the approval and starting the run, then the sweep starts it once and records Approved', async () => {
    const w = unitWorld();
    const { pause } = await createPause(w.deps, input, BASE);
    const store = new PauseStore(w.deps.tables);
    // The state a crash right after the conditional write leaves behind.
    await store.markDeciding(pause.pauseId, w.clock.now().toISOString());
    await store.save({ ...(await store.get(pause.pauseId))!, status: 'Deciding', decision: 'approve', decidedAt: w.clock.now().toISOString(), leaseUntil: new Date(w.clock.now().getTime() + 120_000).toISOString() });
    await expirePauses(w.deps);
    expect(w.factory.runs).toHaveLength(0); // its holder's lease is still running
    w.clock.advance(121_000);
    await expirePauses(w.deps);
    expect(w.factory.runs.map((r) => r.parameters)).toEqual([{ pauseId: pause.pauseId }]);
    expect(await store.get(pause.pauseId)).toMatchObject({ status: 'Approved', runId: 'run-1' });
    expect(await w.deps.tables.table('PauseExpiry').query(DECIDING_PARTITION)).toEqual([]);
  });

  it('when a start was left unconfirmed, then the run reconciler resolves the claim and the sweep records Approved with one run', async () => {
    const w = unitWorld();
    const { pause, token } = await createPause(w.deps, input, BASE);
    w.factory.startScript.push('unavailable', 'unavailable');
    await expect(decidePause(w.deps, token, 'approve')).rejects.toBeInstanceOf(PauseError);
    await expirePauses(w.deps);
    expect(w.factory.runs).toHaveLength(0); // a claim is pending: the pause waits for the run reconciler
    w.clock.advance((w.deps.settings.reconcileGraceSeconds + 1) * 1000);
    await observe(w);
    expect(w.factory.runs).toHaveLength(1);
    await expirePauses(w.deps);
    expect(await new PauseStore(w.deps.tables).get(pause.pauseId)).toMatchObject({ status: 'Approved', runId: 'run-1' });
  });
});

describe('settlePauseRun', () => {
  it('when the continuation finishes, then the pause keeps Approved and records the run status, once', async () => {
    const w = unitWorld();
    const { pause, token } = await createPause(w.deps, input, BASE);
    await decidePause(w.deps, token, 'approve');
    w.clock.advance(1000);
    w.factory.finish('run-1', 'Failed');
    await observe(w);
    const settled = await new PauseStore(w.deps.tables).get(pause.pauseId);
    expect(settled).toMatchObject({ status: 'Approved', runStatus: 'Failed', runId: 'run-1' });
    const run = (await new RunStore(w.deps).get(`p_${pause.pauseId}`))!;
    await settlePauseRun(w.deps, run);
    expect((await new PauseStore(w.deps.tables).get(pause.pauseId))?.etag).toBe(settled?.etag);
  });

  it('when a run owned by a pause finishes while the pause is still Deciding, then the settle records the decision', async () => {
    const w = unitWorld();
    const { pause } = await createPause(w.deps, input, BASE);
    const store = new PauseStore(w.deps.tables);
    await store.save({ ...(await store.get(pause.pauseId))!, status: 'Deciding', decision: 'approve', leaseUntil: '' });
    const { run } = await startTrackedRun(w.deps, { trackId: `p_${pause.pauseId}`, target: { subscriptionId: 's', resourceGroup: 'rg', factory: 'adf-unit', pipeline: 'pl_continue' }, parameters: {}, owner: { kind: 'pause', id: pause.pauseId } });
    await settlePauseRun(w.deps, { ...run, status: 'Succeeded' });
    expect(await store.get(pause.pauseId)).toMatchObject({ status: 'Approved', runStatus: 'Succeeded', runId: run.runId });
  });
});
