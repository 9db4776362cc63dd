import https from 'node:https';
import type { Scenario } from '../../local/factory-emulator/scenario';
import { startTestStack, sweepUntil, TEST_FACTORY, TEST_RG, TEST_SUBSCRIPTION, type TestStack } from '../support/test-stack';

/** GET on the emulator's inspection API over HTTPS, trusting its self-signed CA. */
function emulatorGet(stack: TestStack, path: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    https
      .get(`${stack.emulator.url}${path}`, { ca: stack.emulator.ca }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(JSON.parse(text)));
      })
      .on('error', reject);
  });
}

const scenario: Scenario = {
  pipelines: { wk_ok: { durationMs: 100 }, wk_manual: { durationMs: null } },
  unknownPipelines: 'notFound',
};

describe('RunPipeline, GetRun and RunFinished on Azurite + the emulator over HTTPS', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ scenario });
  });
  afterAll(() => stack.close());
  afterEach(() => stack.emulator.setScenario(scenario));

  /** What was written: runs in the emulator, rows in the Runs table. */
  async function written() {
    return { adf: stack.emulator.runs().length, rows: (await stack.deps.tables.table('Runs').scanAll()).length };
  }

  function expectProblem(res: { status: number; headers: Headers; json: any }, status: number, code: string) {
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.json).toMatchObject({ status, code, type: 'about:blank', title: expect.any(String), detail: expect.any(String) });
  }

  it('when a run is posted, then 202 carries the run, the emulator has it with string parameters, and GetRun says Succeeded after the next sweep', async () => {
    const res = await stack.call('POST', '/runs', { pipeline: 'wk_ok', parameters: { n: 1, s: 'x', o: { a: [1] } } });
    expect(res.status).toBe(202);
    const runId = res.json.runId as string;
    expect(res.json).toEqual({
      runId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      pipeline: 'wk_ok',
      factory: TEST_FACTORY,
      resourceGroup: TEST_RG,
      subscriptionId: TEST_SUBSCRIPTION,
      status: 'Queued',
      statusUrl: `${stack.api}/runs/${runId}`,
    });
    expect(res.headers.get('location')).toBe(res.json.statusUrl);

    const emulated = (await emulatorGet(stack, '/_emulator/runs')) as Array<{ runId: string; parameters: unknown; factory: string }>;
    expect(emulated.find((r) => r.runId === runId)).toMatchObject({ parameters: { n: '1', s: 'x', o: '{"a":[1]}' }, factory: TEST_FACTORY });

    await new Promise((r) => setTimeout(r, 300)); // the run has finished in ADF; only a sweep tells us
    expect((await stack.call('GET', `/runs/${runId}`)).json.status).not.toBe('Succeeded');
    await stack.sweep();
    const got = await stack.call('GET', `/runs/${runId}`);
    expect(got.status).toBe(200);
    expect(got.json).toMatchObject({ runId, pipeline: 'wk_ok', status: 'Succeeded', runStart: expect.any(String), runEnd: expect.any(String) });
  });

  it('when GetRun names an unknown run, then 404 RunNotFound problem+json', async () => {
    expectProblem(await stack.call('GET', '/runs/00000000-1111-2222-3333-444444444444'), 404, 'RunNotFound');
  });

  it('when 20 concurrent posts share one Idempotency-Key, then the emulator has exactly one run and all 20 get its runId', async () => {
    const before = stack.emulator.runs().length;
    const body = { pipeline: 'wk_ok', parameters: { batch: 'b-20' } };
    const replies = await Promise.all(Array.from({ length: 20 }, () => stack.call('POST', '/runs', body, { 'Idempotency-Key': 'key-20' })));
    expect(replies.map((r) => r.status)).toEqual(Array(20).fill(202));
    const ids = new Set(replies.map((r) => r.json.runId));
    expect(ids.size).toBe(1);
    expect(stack.emulator.runs().length).toBe(before + 1);
    expect(stack.emulator.runs().filter((r) => r.parameters.batch === 'b-20').map((r) => r.runId)).toEqual([...ids]);
  });

  it('when an Idempotency-Key is reused with another body, then 422 IdempotencyKeyReused and nothing starts', async () => {
    const first = await stack.call('POST', '/runs', { pipeline: 'wk_ok', parameters: { v: 1 } }, { 'Idempotency-Key': 'key-reuse' });
    expect(first.status).toBe(202);
    const before = await written();
    const again = await stack.call('POST', '/runs', { pipeline: 'wk_ok', parameters: { v: 2 } }, { 'Idempotency-Key': 'key-reuse' });
    expectProblem(again, 422, 'IdempotencyKeyReused');
    expect(await written()).toEqual(before);
  });

  it('when idempotencyKey is in the body, then a repeat returns the same runId and starts nothing', async () => {
    const body = { pipeline: 'wk_ok', parameters: { k: 'body' }, idempotencyKey: 'key-in-body' };
    const a = await stack.call('POST', '/runs', body);
    const before = stack.emulator.runs().length;
    const b = await stack.call('POST', '/runs', body);
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(b.json.runId).toBe(a.json.runId);
    expect(stack.emulator.runs().length).toBe(before);
  });

  describe('when the input is bad, then 400 problem+json names every bad path and nothing is written', () => {
    it.each([
      ['malformed JSON', '{"pipeline": "wk_ok",', 'MalformedJson', ['$']],
      ['a missing pipeline', { parameters: {} }, 'ValidationFailed', ['pipeline']],
      ['parameters that is not an object', { pipeline: 'wk_ok', parameters: [1, 2] }, 'ValidationFailed', ['parameters']],
      ['parameters that is a string', { pipeline: 'wk_ok', parameters: 'n=1' }, 'ValidationFailed', ['parameters']],
      ['a pipeline name ADF would reject', { pipeline: 'bad/name' }, 'ValidationFailed', ['pipeline']],
      ['a factory name ADF would reject', { pipeline: 'wk_ok', factory: '-x' }, 'ValidationFailed', ['factory']],
      ['a subscription that is not a GUID and a bad resource group', { pipeline: 'wk_ok', subscriptionId: 'sub', resourceGroup: 'rg.' }, 'ValidationFailed', ['resourceGroup', 'subscriptionId']],
      ['more than 50 parameters', { pipeline: 'wk_ok', parameters: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`p${i}`, i])) }, 'ValidationFailed', ['parameters']],
      ['a parameter name that is not an identifier', { pipeline: 'wk_ok', parameters: { 'a-b': 1 } }, 'ValidationFailed', ['parameters.a-b']],
      ['an unknown property', { pipeline: 'wk_ok', pipelin: 'typo' }, 'ValidationFailed', ['pipelin']],
      ['several mistakes at once', { pipeline: '', factory: '-x', parameters: 3, extra: true }, 'ValidationFailed', ['extra', 'factory', 'parameters', 'pipeline']],
    ])('%s', async (_what, body, code, paths) => {
      const before = await written();
      const res = await stack.call('POST', '/runs', body);
      expectProblem(res, 400, code);
      expect([...new Set((res.json.errors as Array<{ path: string }>).map((e) => e.path))].sort()).toEqual(paths);
      expect(await written()).toEqual(before);
    });

    it('a body over 1 MiB gets 413 PayloadTooLarge', async () => {
      const before = await written();
      const res = await stack.call('POST', '/runs', JSON.stringify({ pipeline: 'wk_ok', parameters: { big: 'x'.repeat(1024 * 1024) } }), { 'content-type': 'application/json' });
      expectProblem(res, 413, 'PayloadTooLarge');
      expect(await written()).toEqual(before);
    });
  });

  it('when the pipeline is unknown to the factory, then 404 PipelineNotFound and nothing is written', async () => {
    const before = await written();
    expectProblem(await stack.call('POST', '/runs', { pipeline: 'no_such_pipeline' }), 404, 'PipelineNotFound');
    expect(await written()).toEqual(before);
  });

  it.each([
    ['createRun', ['createRun'] as const],
    ['createRun and queryPipelineRuns', ['createRun', 'queryPipelineRuns'] as const],
  ])('when the emulator answers %s with 503, then 503 problem+json with Retry-After, and no run appears later', async (_what, operations) => {
    stack.emulator.setScenario({ ...scenario, faults: { rate: 1, statuses: [503], operations: [...operations] } });
    const before = stack.emulator.runs().length;
    const res = await stack.call('POST', '/runs', { pipeline: 'wk_ok', parameters: { outage: 1 } });
    expectProblem(res, 503, 'UpstreamUnavailable');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);

    // The caller was told to retry: the sweep may adopt a run ADF did create, but never starts one.
    stack.emulator.setScenario(scenario);
    await new Promise((r) => setTimeout(r, 1100));
    await stack.sweep();
    await stack.sweep();
    expect(stack.emulator.runs().length).toBe(before);
    expect((await stack.deps.tables.table('Runs').scanAll()).filter((r) => String(r.props.parameters).includes('outage'))).toEqual([]);
  });

  it('when ADF throttles createRun (429), then 503 UpstreamThrottled with Retry-After and nothing is written', async () => {
    stack.emulator.setScenario({ ...scenario, faults: { rate: 1, statuses: [429], operations: ['createRun'] } });
    const before = await written();
    const res = await stack.call('POST', '/runs', { pipeline: 'wk_ok' });
    expectProblem(res, 503, 'UpstreamThrottled');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await written()).toEqual(before);
  });

  it('when queryPipelineRuns fails, then GetRun still answers from the table and a sweep does not break anything', async () => {
    const res = await stack.call('POST', '/runs', { pipeline: 'wk_manual', parameters: { q: 1 } });
    stack.emulator.setScenario({ ...scenario, faults: { rate: 1, statuses: [503, 429], operations: ['queryPipelineRuns', 'getRun'] } });
    await stack.sweep();
    const got = await stack.call('GET', `/runs/${res.json.runId}`);
    expect(got.status).toBe(200);
    expect(got.json.status).toMatch(/Queued|InProgress/);
    expect(stack.emulator.stats().faults).toBeGreaterThan(0);
  });

  it('when RunFinished is called for a finished run, then it is Succeeded at once, without a sweep', async () => {
    const started = await stack.call('POST', '/runs', { pipeline: 'wk_manual', parameters: { cb: 1 } });
    const runId = started.json.runId as string;
    stack.emulator.finish(runId, 'Succeeded');
    const cb = await stack.call('POST', '/callbacks/run-finished', { runId });
    expect(cb.status).toBe(200);
    expect(cb.json).toMatchObject({ runId, status: 'Succeeded', runEnd: expect.any(String) });
    expect((await stack.call('GET', `/runs/${runId}`)).json.status).toBe('Succeeded');
  });

  it('when RunFinished names an unknown run, then 404 RunNotFound; a bad body is 400', async () => {
    expectProblem(await stack.call('POST', '/callbacks/run-finished', { runId: 'not-a-run' }), 404, 'RunNotFound');
    expectProblem(await stack.call('POST', '/callbacks/run-finished', { run: 'x' }), 400, 'ValidationFailed');
  });

  it('when a finished run is swept again, then nothing changes', async () => {
    const res = await stack.call('POST', '/runs', { pipeline: 'wk_ok', parameters: { twice: 1 } });
    await sweepUntil(stack, async () => (await stack.call('GET', `/runs/${res.json.runId}`)).json.status === 'Succeeded');
    const row = await stack.deps.tables.table('Runs').scanAll();
    await stack.sweep();
    expect(await stack.deps.tables.table('Runs').scanAll()).toEqual(row);
  });
});
