import type { Scenario } from '../../local/factory-emulator/scenario';
import type { Deps } from '../../src/core/deps';
import { Unavailable } from '../../src/core/errors';
import type { Factory, FactoryTarget, RunQueryFilter, RunUpdate } from '../../src/core/ports';
import { ArmFactory } from '../../src/adapters/arm-factory';
import { startTrackedRun } from '../../src/core/runs/start';
import { startTestStack, sweepUntil, TEST_FACTORY, TEST_RG, TEST_SUBSCRIPTION, type TestStack } from '../support/test-stack';

const scenario: Scenario = { pipelines: { wk_ok: { durationMs: 100 } }, unknownPipelines: 'notFound' };
const target = { subscriptionId: TEST_SUBSCRIPTION, resourceGroup: TEST_RG, factory: TEST_FACTORY, pipeline: 'wk_ok' };
const graceElapsed = () => new Promise((r) => setTimeout(r, 1100)); // RECONCILE_GRACE_SECONDS is 1 on the test stack

/** The real ArmFactory, except that its next `failures` change-feed reads fail as if ARM were down. */
function withFailingQueries(real: Factory, failures: number): Factory {
  let left = failures;
  return {
    startTimeoutSeconds: real.startTimeoutSeconds,
    start: (t, p, o) => real.start(t, p, o),
    getRun: (f, id) => real.getRun(f, id),
    cancel: (f, id) => real.cancel(f, id),
    activityErrors: (f, id, a, b) => real.activityErrors(f, id, a, b),
    pipelineExists: (t) => real.pipelineExists(t),
    changedRuns(f: FactoryTarget, after: Date, before: Date, filter?: RunQueryFilter): AsyncIterable<RunUpdate> {
      if (left-- > 0) throw new Unavailable('query pipeline runs: HTTP 503');
      return real.changedRuns(f, after, before, filter);
    },
  };
}

describe('ambiguous starts against the emulator: lost responses, reconciliation, slow createRun', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ scenario });
  });
  afterAll(() => stack.close());
  beforeEach(() => {
    stack.emulator.setScenario(scenario);
    stack.emulator.resetStats();
  });

  const runsWith = (key: string, value: string) => stack.emulator.runs().filter((r) => r.parameters[key] === value);
  const status = async (id: string) => (await stack.call('GET', `/runs/${id}`)).json?.status as string | undefined;

  it('when the first createRun response is lost, then POST still returns the runId and exactly one tracked run exists', async () => {
    stack.emulator.setScenario({ ...scenario, faults: { lostResponseRate: 1.0, limit: 1, operations: ['createRun'] } });
    const res = await stack.call('POST', '/runs', { pipeline: 'wk_ok', parameters: { case: 'lost-1' } });
    expect(res.status).toBe(202);
    expect(stack.emulator.stats().faults).toBe(1);
    const adf = runsWith('case', 'lost-1');
    expect(adf.map((r) => r.runId)).toEqual([res.json.runId]);
    expect((await stack.call('GET', `/runs/${res.json.runId}`)).status).toBe(200);
    await sweepUntil(stack, async () => (await status(res.json.runId)) === 'Succeeded');
    expect(runsWith('case', 'lost-1')).toHaveLength(1);
  });

  it('when two responses may be lost, then the inline reconciliation adopts the first run and never calls createRun again', async () => {
    stack.emulator.setScenario({ ...scenario, faults: { lostResponseRate: 1.0, limit: 2, operations: ['createRun'] } });
    const res = await stack.call('POST', '/runs', { pipeline: 'wk_ok', parameters: { case: 'lost-2' } });
    expect(res.status).toBe(202);
    expect(stack.emulator.stats()).toMatchObject({ createRun: 1, faults: 1 });
    expect(runsWith('case', 'lost-2').map((r) => r.runId)).toEqual([res.json.runId]);
  });

  it('when both the first createRun and the inline retry fail, then a keyed start answers Starting and the sweep starts exactly one run', async () => {
    stack.emulator.setScenario({ ...scenario, faults: { rate: 1.0, statuses: [503], limit: 2, operations: ['createRun'] } });
    const res = await stack.call('POST', '/runs', { pipeline: 'wk_ok', parameters: { case: 'sweep-restart' } }, { 'Idempotency-Key': 'sweep-restart' });
    expect(res.status).toBe(202);
    expect(res.json).toMatchObject({ runId: null, status: 'Starting' });
    expect(stack.emulator.stats()).toMatchObject({ createRun: 2, faults: 2 });
    expect(runsWith('case', 'sweep-restart')).toHaveLength(0);

    await graceElapsed();
    await sweepUntil(stack, async () => (await stack.call('GET', new URL(res.json.statusUrl).pathname.replace('/api', ''))).json.status === 'Succeeded');
    const adf = runsWith('case', 'sweep-restart');
    expect(adf).toHaveLength(1);
    expect(await status(adf[0]!.runId)).toBe('Succeeded');
    // A retry with the same key gets the run the sweep started.
    const again = await stack.call('POST', '/runs', { pipeline: 'wk_ok', parameters: { case: 'sweep-restart' } }, { 'Idempotency-Key': 'sweep-restart' });
    expect(again.json.runId).toBe(adf[0]!.runId);
    expect(runsWith('case', 'sweep-restart')).toHaveLength(1);
  });

  it.each([
    ['a keyed start', 'adopt-keyed'],
    ['an anonymous start', undefined],
  ])('when the answer is lost and ADF cannot be queried, then the sweep adopts the run ADF created for %s: one run, tracked', async (_what, trackId) => {
    stack.emulator.setScenario({ ...scenario, faults: { lostResponseRate: 1.0, limit: 1, operations: ['createRun'] } });
    const deps: Deps = { ...stack.deps, factory: withFailingQueries(stack.deps.factory, 1) };
    const parameters = { case: `adopt-${trackId ?? 'anonymous'}` };
    const start = startTrackedRun(deps, { ...(trackId ? { trackId } : {}), target, parameters, owner: { kind: 'none', id: '' } });
    if (trackId) expect((await start).run).toMatchObject({ status: 'Starting', runId: undefined });
    else await expect(start).rejects.toBeInstanceOf(Unavailable);
    const adf = runsWith('case', parameters.case);
    expect(adf).toHaveLength(1);

    await graceElapsed();
    await sweepUntil(stack, async () => (await status(adf[0]!.runId)) === 'Succeeded');
    expect(runsWith('case', parameters.case)).toHaveLength(1);
    expect(stack.emulator.stats().createRun).toBe(1);
  });

  it('when createRun takes longer than its timeout, then ArmFactory gives up with Unavailable (outcome unknown) while ADF still creates the run', async () => {
    stack.emulator.setScenario({ ...scenario, faults: { latencyMs: [700, 700], operations: ['createRun'] } });
    const factory = new ArmFactory({ endpoint: stack.emulator.url, credential: 'emulator', caCert: stack.emulator.ca, startTimeoutMs: 200 });
    const t0 = Date.now();
    await expect(factory.start(target, { case: 'timeout' })).rejects.toBeInstanceOf(Unavailable);
    expect(Date.now() - t0).toBeLessThan(650);
    await new Promise((r) => setTimeout(r, 800));
    expect(runsWith('case', 'timeout')).toHaveLength(1); // which is why a timed-out start is reconciled, never repeated
  });

  it('when createRun is slower than the reconcile grace period, then a sweep meanwhile does not start the run a second time', async () => {
    stack.emulator.setScenario({ ...scenario, faults: { latencyMs: [1600, 1600], operations: ['createRun'] } });
    const posting = stack.call('POST', '/runs', { pipeline: 'wk_ok', parameters: { case: 'slow' } });
    await new Promise((r) => setTimeout(r, 1200));
    await stack.sweep(); // the claim is past the grace period and ADF shows no run yet
    const res = await posting;
    expect(res.status).toBe(202);
    await stack.sweep();
    expect(runsWith('case', 'slow').map((r) => r.runId)).toEqual([res.json.runId]);
    expect(stack.emulator.stats().createRun).toBe(1);
  });
});
