import { createPause, type PauseInput } from '../../../src/core/pauses/create';
import { decidePause, decisionLeaseSeconds, openPause } from '../../../src/core/pauses/decide';
import { PauseError } from '../../../src/core/pauses/errors';
import { toPauseView } from '../../../src/http/views/pauses';
import { DECIDING_PARTITION, PauseStore } from '../../../src/core/pauses/store';
import { RunStore } from '../../../src/core/runs/store';
import { BASE, rejection, unitWorld, type UnitWorld } from './fakes';

const input: PauseInput = { continuation: { pipeline: 'pl_continue', parameters: { region: 'EU' } }, data: { rows: 3 } };

async function pauseIn(w: UnitWorld, over: Partial<PauseInput> = {}) {
  return createPause(w.deps, { ...input, ...over }, BASE);
}

const failure = (p: Promise<unknown>) => rejection(p, PauseError);

const stored = (w: UnitWorld, pauseId: string) => new PauseStore(w.deps.tables).get(pauseId);

describe('decidePause', () => {
  it('when approved, then the continuation starts once with its parameters plus pauseId, and the pause is Approved with the runId', async () => {
    const w = unitWorld();
    const { pause, token } = await pauseIn(w);
    const decided = await decidePause(w.deps, token, 'approve');
    expect(w.factory.runs).toHaveLength(1);
    expect(w.factory.runs[0]).toMatchObject({ pipeline: 'pl_continue', parameters: { region: 'EU', pauseId: pause.pauseId } });
    expect(decided).toMatchObject({ status: 'Approved', decision: 'approve', runId: w.factory.runs[0]!.runId, trackId: `p_${pause.pauseId}` });
    expect(await new RunStore(w.deps).get(`p_${pause.pauseId}`)).toMatchObject({ owner: { kind: 'pause', id: pause.pauseId } });
    expect(await w.deps.tables.table('PauseExpiry').query(DECIDING_PARTITION)).toEqual([]);
  });

  it('when 50 approvals race, then exactly one acts, 49 get AlreadyDecided and one run starts', async () => {
    const w = unitWorld();
    const { token } = await pauseIn(w);
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => decidePause(w.deps, token, 'approve')));
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as PauseError] : []));
    expect(won).toHaveLength(1);
    expect(lost.map((e) => `${e.status} ${e.code}`)).toEqual(Array(49).fill('409 AlreadyDecided'));
    expect(w.factory.runs).toHaveLength(1);
  });

  it('when an approval and a rejection race, then exactly one of them wins', async () => {
    const w = unitWorld();
    const { pause, token } = await pauseIn(w);
    const results = await Promise.allSettled([decidePause(w.deps, token, 'reject'), decidePause(w.deps, token, 'approve')]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const final = await stored(w, pause.pauseId);
    expect(w.factory.runs).toHaveLength(final?.status === 'Approved' ? 1 : 0);
  });

  it('when rejected without onReject, then the pause is Rejected and nothing starts', async () => {
    const w = unitWorld();
    const { token } = await pauseIn(w);
    expect(await decidePause(w.deps, token, 'reject')).toMatchObject({ status: 'Rejected', decision: 'reject' });
    expect(w.factory.runs).toHaveLength(0);
    expect((await failure(decidePause(w.deps, token, 'approve'))).code).toBe('AlreadyDecided');
  });

  it('when rejected with onReject, then onReject starts with its own parameters and the continuation never does', async () => {
    const w = unitWorld();
    const { token } = await pauseIn(w, { onReject: { pipeline: 'pl_on_reject', parameters: { why: 'no' } } });
    const decided = await decidePause(w.deps, token, 'reject');
    expect(w.factory.runs.map((r) => [r.pipeline, r.parameters])).toEqual([['pl_on_reject', { why: 'no' }]]);
    expect(decided).toMatchObject({ status: 'Rejected', runId: w.factory.runs[0]!.runId });
  });

  it('when the onReject pipeline has gone, then the rejection still stands and records NotStarted', async () => {
    const w = unitWorld();
    const { token } = await pauseIn(w, { onReject: { pipeline: 'pl_on_reject' } });
    w.factory.pipelines.delete('pl_on_reject');
    expect(await decidePause(w.deps, token, 'reject')).toMatchObject({ status: 'Rejected', runStatus: 'NotStarted' });
  });

  it('when pauseIdParameter names another parameter, or is false, then the continuation gets the pauseId under that name, or not at all', async () => {
    const w = unitWorld();
    const a = await pauseIn(w, { continuation: { pipeline: 'pl_continue', pauseIdParameter: 'approvalId' } });
    const b = await pauseIn(w, { continuation: { pipeline: 'pl_continue', parameters: { x: 1 }, pauseIdParameter: false } });
    await decidePause(w.deps, a.token, 'approve');
    await decidePause(w.deps, b.token, 'approve');
    expect(w.factory.runs.map((r) => r.parameters)).toEqual([{ approvalId: a.pause.pauseId }, { x: '1' }]);
  });

  it('when Data Factory throttles the start, then nothing starts, the pause is Waiting again and a retry succeeds', async () => {
    const w = unitWorld();
    const { pause, token } = await pauseIn(w);
    w.factory.startScript.push('throttled');
    const e = await failure(decidePause(w.deps, token, 'approve'));
    expect([e.status, e.code, e.retryAfter]).toEqual([503, 'UpstreamUnavailable', 7]);
    expect(toPauseView((await stored(w, pause.pauseId))!)).toMatchObject({ status: 'Waiting' });
    expect((await stored(w, pause.pauseId))?.status).toBe('Waiting');
    expect(w.factory.runs).toHaveLength(0);
    expect(await decidePause(w.deps, token, 'approve')).toMatchObject({ status: 'Approved' });
    expect(w.factory.runs).toHaveLength(1);
  });

  it('when the continuation pipeline was deleted after the pause, then 422 ContinuationNotFound and the pause is Waiting', async () => {
    const w = unitWorld();
    const { pause, token } = await pauseIn(w);
    w.factory.pipelines.delete('pl_continue');
    const e = await failure(decidePause(w.deps, token, 'approve'));
    expect([e.status, e.code]).toEqual([422, 'ContinuationNotFound']);
    expect((await stored(w, pause.pauseId))?.status).toBe('Waiting');
  });

  it('when the start response is lost, then the run ADF created is adopted: Approved, one run', async () => {
    const w = unitWorld();
    const { token } = await pauseIn(w);
    w.factory.startScript.push('lost');
    expect(await decidePause(w.deps, token, 'approve')).toMatchObject({ status: 'Approved', runId: 'run-1' });
    expect(w.factory.runs).toHaveLength(1);
  });

  it('when Data Factory cannot confirm the start, then the approval is kept (shown Waiting), the page offers a retry, and the retry starts exactly one run', async () => {
    const w = unitWorld();
    const { pause, token } = await pauseIn(w);
    w.factory.startScript.push('unavailable', 'unavailable');
    const e = await failure(decidePause(w.deps, token, 'approve'));
    expect([e.status, e.code]).toEqual([503, 'StartNotConfirmed']);
    const kept = (await stored(w, pause.pauseId))!;
    expect([kept.status, kept.decision, kept.leaseUntil]).toEqual(['Deciding', 'approve', '']);
    expect(toPauseView(kept)).toMatchObject({ status: 'Waiting', pendingDecision: 'approve' });
    expect((await openPause(w.deps, token)).status).toBe('Deciding');
    // A rejection cannot slip in while the approval's start is unresolved.
    expect((await failure(decidePause(w.deps, token, 'reject'))).code).toBe('AlreadyDecided');
    w.clock.advance((w.deps.settings.reconcileGraceSeconds + 1) * 1000);
    expect(await decidePause(w.deps, token, 'approve')).toMatchObject({ status: 'Approved' });
    expect(w.factory.runs).toHaveLength(1);
  });

  it('when a decision is being carried out, then the page refuses with AlreadyDecided until its lease runs out', async () => {
    const w = unitWorld();
    const { pause, token } = await pauseIn(w);
    const store = new PauseStore(w.deps.tables);
    const p = (await store.get(pause.pauseId))!;
    await store.save({ ...p, status: 'Deciding', decision: 'approve', decidedAt: p.createdAt, leaseUntil: new Date(w.clock.now().getTime() + 60_000).toISOString() });
    expect((await failure(openPause(w.deps, token))).code).toBe('AlreadyDecided');
    expect((await failure(decidePause(w.deps, token, 'approve'))).code).toBe('AlreadyDecided');
    w.clock.advance(decisionLeaseSeconds(w) * 1000);
    expect(await decidePause(w.deps, token, 'approve')).toMatchObject({ status: 'Approved' });
  });

  it('when the link has expired, then GET shows 410 without writing and a POST records Expired', async () => {
    const w = unitWorld();
    const { pause, token } = await pauseIn(w, { expiresInSeconds: 60 });
    w.clock.advance(60_000);
    const before = await stored(w, pause.pauseId);
    expect((await failure(openPause(w.deps, token))).status).toBe(410);
    expect(await stored(w, pause.pauseId)).toEqual(before);
    const e = await failure(decidePause(w.deps, token, 'approve'));
    expect([e.status, e.code, e.extensions]).toEqual([410, 'TokenExpired', { expiresAt: pause.expiresAt }]);
    expect((await stored(w, pause.pauseId))?.status).toBe('Expired');
    expect(w.factory.runs).toHaveLength(0);
  });

  it.each(['', 'nope', 'A'.repeat(86)])('when the token is %p, then TokenNotFound', async (token) => {
    const w = unitWorld();
    await pauseIn(w);
    expect((await failure(openPause(w.deps, token))).code).toBe('TokenNotFound');
    expect((await failure(decidePause(w.deps, token, 'approve'))).status).toBe(404);
  });

  it('when decided, then the 409 carries the outcome but not the data', async () => {
    const w = unitWorld();
    const { pause, token } = await pauseIn(w);
    await decidePause(w.deps, token, 'approve');
    const e = await failure(openPause(w.deps, token));
    expect(e.extensions).toEqual({ outcome: { pauseId: pause.pauseId, status: 'Approved', decision: 'approve', decidedAt: '2026-03-01T10:15:00.000Z', runId: 'run-1' } });
  });
});
