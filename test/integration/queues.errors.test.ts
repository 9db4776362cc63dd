import { startTestStack, sweepUntil, type TestStack } from '../support/test-stack';
import { declareQueues, enqueue, getJob } from './queues.support';

/** Every user mistake is a 4xx problem+json with a stable code; an unrunnable job is USER_ERROR and frees the queue. */
describe('queue errors on the test stack', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ scenario: { pipelines: { wk_ok: { durationMs: 100 }, wk_manual: { durationMs: null } }, unknownPipelines: 'notFound' } });
  });
  afterAll(() => stack.close());

  async function expectProblem(res: Promise<{ status: number; headers: Headers; json: any }>, status: number, code: string) {
    const r = await res;
    expect({ status: r.status, code: r.json?.code }).toEqual({ status, code });
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    return r.json as { errors?: Array<{ path: string; message: string }> };
  }

  it('when no metadata is stored or the queue is not declared, then it is 404 QueueNotFound', async () => {
    await expectProblem(stack.call('POST', '/queues/q/jobs', { pipeline: 'wk_ok' }), 404, 'QueueNotFound');
    await declareQueues(stack, [{ name: 'q', capacity: 1 }]);
    await expectProblem(stack.call('POST', '/queues/nope/jobs', { pipeline: 'wk_ok' }), 404, 'QueueNotFound');
    await expectProblem(stack.call('GET', '/queues/nope'), 404, 'QueueNotFound');
    await expectProblem(stack.call('GET', '/queues/nope/jobs/1-00000000'), 404, 'QueueNotFound');
    await expectProblem(stack.call('GET', `/queues/${encodeURIComponent("bad#name?'")}`), 404, 'QueueNotFound');
  });

  it('when a job does not exist, then GetJob and CancelJob are 404 JobNotFound', async () => {
    await expectProblem(stack.call('GET', '/queues/q/jobs/424242-deadbeef'), 404, 'JobNotFound');
    await expectProblem(stack.call('GET', '/queues/q/jobs/whatever'), 404, 'JobNotFound');
    await expectProblem(stack.call('POST', '/queues/q/jobs/424242-deadbeef/cancel'), 404, 'JobNotFound');
  });

  it('when the body is bad, then it is 400 and every bad field is listed', async () => {
    const missing = await expectProblem(stack.call('POST', '/queues/q/jobs', { parameters: [], timeoutSeconds: 0, extra: true }), 400, 'ValidationFailed');
    expect(missing.errors?.map((e) => e.path).sort()).toEqual(['extra', 'parameters', 'pipeline', 'timeoutSeconds']);
    await expectProblem(stack.call('POST', '/queues/q/jobs', { pipeline: 'wk_ok', timeoutSeconds: 604_801 }), 400, 'ValidationFailed');
    await expectProblem(stack.call('POST', '/queues/q/jobs', { pipeline: 'wk_ok', timeoutSeconds: 1.5 }), 400, 'ValidationFailed');
    await expectProblem(stack.call('POST', '/queues/q/jobs', '{"pipeline": '), 400, 'MalformedJson');
    const job = (await enqueue(stack, 'q', { pipeline: 'wk_manual' })).json;
    await expectProblem(stack.call('POST', `/queues/q/jobs/${job.jobId}/cancel`, { force: true }), 400, 'ValidationFailed');
    expect((await stack.call('POST', `/queues/q/jobs/${job.jobId}/cancel`)).status).toBe(200);
  });

  it('when a finished job is cancelled, then it is 409 JobAlreadyFinished', async () => {
    const job = (await enqueue(stack, 'q', { pipeline: 'wk_ok' })).json;
    await sweepUntil(stack, async () => (await getJob(stack, 'q', job.jobId)).status === 'COMPLETED');
    await expectProblem(stack.call('POST', `/queues/q/jobs/${job.jobId}/cancel`), 409, 'JobAlreadyFinished');
    const cancelled = (await enqueue(stack, 'q', { pipeline: 'wk_manual' })).json;
    expect((await stack.call('POST', `/queues/q/jobs/${cancelled.jobId}/cancel`)).status).toBe(200);
    await expectProblem(stack.call('POST', `/queues/q/jobs/${cancelled.jobId}/cancel`), 409, 'JobAlreadyFinished');
  });

  it('when the pipeline does not exist in the factory, then the job is USER_ERROR and releases the queue at once', async () => {
    const bad = await enqueue(stack, 'q', { pipeline: 'pl_missing' });
    expect(bad.json.status).toBe('USER_ERROR');
    const next = await enqueue(stack, 'q', { pipeline: 'wk_manual' });
    expect(next.json.status).toBe('RUNNING');
    expect((await getJob(stack, 'q', bad.json.jobId)).message).toMatch(/refused to start/);
    expect((await stack.call('POST', `/queues/q/jobs/${next.json.jobId}/cancel`)).status).toBe(200);
  });
});
