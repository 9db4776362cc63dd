import { DomainError } from '../../../src/core/errors';
import { getRun, runPipeline } from '../../../src/core/runs/fire-and-forget';
import { resolveTarget } from '../../../src/core/runs/model';
import { toRunView } from '../../../src/http/views/runs';
import { UNIT_FACTORY, unitDeps } from '../../support/fake-factory';
import { observeAndSettle } from '../../../src/core/runs/observe';

const ref = { pipeline: 'wk_ok' };

async function codeOf(p: Promise<unknown>): Promise<[number, string]> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(e instanceof DomainError)) throw new Error(`expected a DomainError, got ${String(e)}`);
  return [e.status, e.code];
}

describe('runPipeline (fire-and-forget)', () => {
  it('when a pipeline is started, then the run view carries the default factory and ADF status', async () => {
    const d = unitDeps();
    const run = await runPipeline(d, { ref, parameters: { n: 1 } });
    expect(toRunView(run)).toEqual({ runId: d.factory.runs[0]?.runId, pipeline: 'wk_ok', ...UNIT_FACTORY, status: 'Queued' });
    expect(d.factory.runs[0]?.parameters).toEqual({ n: '1' });
  });

  it('when the same idempotency key comes with the same body, then the same run is returned and ADF starts one', async () => {
    const d = unitDeps();
    const runs = await Promise.all(Array.from({ length: 10 }, () => runPipeline(d, { ref, parameters: { b: 2, a: 1 }, idempotencyKey: 'k-1' })));
    expect(new Set(runs.map((r) => r.runId)).size).toBe(1);
    expect(d.factory.runs).toHaveLength(1);
    // Key order does not change the body.
    expect((await runPipeline(d, { ref, parameters: { a: 1, b: 2 }, idempotencyKey: 'k-1' })).runId).toBe(runs[0]?.runId);
  });

  it('when the same idempotency key comes with another body, then 422 IdempotencyKeyReused and nothing starts', async () => {
    const d = unitDeps();
    await runPipeline(d, { ref, parameters: { n: 1 }, idempotencyKey: 'k-2' });
    expect(await codeOf(runPipeline(d, { ref, parameters: { n: 2 }, idempotencyKey: 'k-2' }))).toEqual([422, 'IdempotencyKeyReused']);
    expect(await codeOf(runPipeline(d, { ref: { pipeline: 'other' }, parameters: { n: 1 }, idempotencyKey: 'k-2' }))).toEqual([422, 'IdempotencyKeyReused']);
    expect(d.factory.runs).toHaveLength(1);
  });

  it('when the pipeline is unknown, then 404 PipelineNotFound and the key can be used again', async () => {
    const d = unitDeps();
    d.factory.pipelines.add('wk_ok');
    expect(await codeOf(runPipeline(d, { ref: { pipeline: 'nope' }, parameters: {}, idempotencyKey: 'k-3' }))).toEqual([404, 'PipelineNotFound']);
    expect(await d.tables.table('Runs').scanAll()).toEqual([]);
    expect((await runPipeline(d, { ref, parameters: {}, idempotencyKey: 'k-3' })).runId).toBeDefined();
  });

  it('when ADF rejects the parameters, then 422 PipelineRejected', async () => {
    const d = unitDeps();
    d.factory.startScript = ['rejected'];
    expect(await codeOf(runPipeline(d, { ref, parameters: { x: 1 } }))).toEqual([422, 'PipelineRejected']);
  });

  it('when no default factory is configured and the reference names none, then 400 lists every missing part', async () => {
    const d = unitDeps({ defaultFactory: {} });
    const e = await runPipeline(d, { ref, parameters: {} }).catch((err: unknown) => err);
    expect(e).toMatchObject({ code: 'ValidationFailed', status: 400 });
    expect((e as DomainError).errors?.map((p) => p.path)).toEqual(['subscriptionId', 'resourceGroup', 'factory']);
    expect(resolveTarget({ pipeline: 'p', factory: 'f', resourceGroup: 'r', subscriptionId: 's' }, {})).toMatchObject({ factory: 'f' });
  });
});

describe('getRun', () => {
  it('when the id is unknown, then 404 RunNotFound', async () => {
    expect(await codeOf(getRun(unitDeps(), 'nope'))).toEqual([404, 'RunNotFound']);
  });

  it('when asked by runId or by the claim id of a run still Starting, then the run is found', async () => {
    const d = unitDeps();
    const run = await runPipeline(d, { ref, parameters: {}, idempotencyKey: 'k-4' });
    expect((await getRun(d, run.runId!)).trackId).toBe(run.trackId);
    expect((await getRun(d, run.trackId)).runId).toBe(run.runId);
  });

  it('when a keyed run has finished and settled, then a retry of its key (same body or not) adds no orphan active-index row (fuzz finding)', async () => {
    const d = unitDeps();
    const first = await runPipeline(d, { ref, parameters: { n: 1 }, idempotencyKey: 'nightly' });
    d.factory.finish(first.runId!, 'Succeeded');
    d.clock.advance(1000);
    await observeAndSettle(d, {});
    const active = () => d.tables.table('ActiveRuns').scanAll();
    expect(await active()).toEqual([]);
    expect((await runPipeline(d, { ref, parameters: { n: 1 }, idempotencyKey: 'nightly' })).runId).toBe(first.runId);
    expect(await codeOf(runPipeline(d, { ref, parameters: { n: 2 }, idempotencyKey: 'nightly' }))).toEqual([422, 'IdempotencyKeyReused']);
    expect(await active()).toEqual([]);
    expect(d.factory.runs).toHaveLength(1);
  });

  it('when a running key is reused with another factory, then the 422 leaves no index row in that factory', async () => {
    const d = unitDeps();
    await runPipeline(d, { ref, parameters: {}, idempotencyKey: 'k' });
    const before = await d.tables.table('ActiveRuns').scanAll();
    expect(await codeOf(runPipeline(d, { ref: { ...ref, factory: 'adf-other' }, parameters: {}, idempotencyKey: 'k' }))).toEqual([422, 'IdempotencyKeyReused']);
    expect(await d.tables.table('ActiveRuns').scanAll()).toEqual(before);
  });
});
