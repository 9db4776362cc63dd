import { startTestStack, sweepUntil, type TestStack } from '../support/test-stack';

describe('fire-and-forget on the test stack', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ scenario: { pipelines: { wk_ok: { durationMs: 100 } }, unknownPipelines: 'notFound' } });
  });
  afterAll(() => stack.close());

  it('when a run is posted, then the emulator has it and a sweep records Succeeded', async () => {
    const res = await stack.call('POST', '/runs', { pipeline: 'wk_ok', parameters: { n: 1 } });
    expect(res.status).toBe(202);
    const runId = res.json.runId as string;
    expect(stack.emulator.runs().find((r) => r.runId === runId)?.parameters).toEqual({ n: '1' });
    await sweepUntil(stack, async () => (await stack.call('GET', `/runs/${runId}`)).json.status === 'Succeeded');
    expect((await stack.call('GET', `/runs/${runId}`)).json.runEnd).toBeDefined();
  });
});
