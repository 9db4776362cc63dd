import { startTestStack, sweepUntil, type TestStack } from '../support/test-stack';
import { declareQueues, enqueue, getJob, getQueue, runsOf } from './queues.support';

/** Cancellation frees the queue at once; the sweep and the callback settle a job once; timeouts move the queue on. */
describe('queue cancellation and timeouts on the test stack', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ scenario: { pipelines: { wk_manual: { durationMs: null }, wk_timeout: { durationMs: null } }, cancelMs: 3000 } }); // Canceling lasts long enough to be seen right after CancelJob, even on a busy CI machine
    await declareQueues(stack, [
      { name: 'cq', capacity: 1 },
      { name: 'tq', capacity: 1 },
    ], 'wk_manual');
  });
  afterAll(() => stack.close());

  const enqueueFive = async () => {
    const ids: string[] = [];
    for (let n = 1; n <= 5; n++) ids.push((await enqueue(stack, 'cq', { pipeline: 'wk_manual', parameters: { n } })).json.jobId);
    return ids;
  };

  it('when the RUNNING job is cancelled, then the next one runs in ADF before CancelJob returns; a cancelled PENDING job leaves the rest in order', async () => {
    const [a, b, c, d, e] = await enqueueFive();

    const cancelA = await stack.call('POST', `/queues/cq/jobs/${a}/cancel`);
    // Inspected right after the response, before any sweep: ADF is cancelling A and already runs B.
    const runs = stack.emulator.runs();
    expect(cancelA.status).toBe(200);
    expect(cancelA.json).toMatchObject({ jobId: a, status: 'TERMINATED', next: { jobId: b, status: 'RUNNING' } });
    const runA = runs.find((r) => r.parameters.n === '1');
    const runB = runs.find((r) => r.runId === cancelA.json.next.runId);
    expect(runA?.status).toBe('Canceling'); // CancelJob did not wait for ADF to finish cancelling
    expect(runB?.parameters.n).toBe('2');
    expect(['Queued', 'InProgress']).toContain(runB?.status);

    const cancelC = await stack.call('POST', `/queues/cq/jobs/${c}/cancel`, { reason: 'not needed today' });
    expect(cancelC.status).toBe(200);
    expect(cancelC.json).toMatchObject({ jobId: c, status: 'TERMINATED', message: 'not needed today', next: null });
    const view = await getQueue(stack, 'cq');
    expect(view.running.map((j: { jobId: string }) => j.jobId)).toEqual([b]);
    expect(view.waiting.map((j: { jobId: string; position: number }) => [j.jobId, j.position])).toEqual([
      [d, 1],
      [e, 2],
    ]);

    // A's run reaches Cancelled later and settles: nothing changes and nothing else starts.
    await sweepUntil(stack, async () => stack.emulator.runs().find((r) => r.runId === runA?.runId)?.status === 'Cancelled');
    await stack.sweep();
    expect((await getJob(stack, 'cq', a!)).status).toBe('TERMINATED');
    expect((await getJob(stack, 'cq', b!)).status).toBe('RUNNING');
    expect(runsOf(stack, 'wk_manual')).toHaveLength(2);

    // The callbacks and the sweep settle B at the same time: D starts exactly once.
    stack.emulator.finish(cancelA.json.next.runId as string, 'Succeeded');
    const callback = () => stack.call('POST', '/callbacks/run-finished', { runId: cancelA.json.next.runId });
    await Promise.all([callback(), callback(), stack.sweep(), callback()]);
    expect((await getJob(stack, 'cq', b!)).status).toBe('COMPLETED');
    expect(runsOf(stack, 'wk_manual').map((r) => r.parameters.n)).toEqual(['1', '2', '4']);
    expect((await getJob(stack, 'cq', d!)).status).toBe('RUNNING');
    expect((await getJob(stack, 'cq', e!)).position).toBe(1);
  });

  it('when a RUNNING job passes timeoutSeconds, then the sweep cancels its run, marks it TIMEDOUT and starts the next job', async () => {
    const t1 = (await enqueue(stack, 'tq', { pipeline: 'wk_timeout', parameters: { n: 1 }, timeoutSeconds: 1 })).json;
    const t2 = (await enqueue(stack, 'tq', { pipeline: 'wk_timeout', parameters: { n: 2 } })).json;
    expect([t1.status, t2.status]).toEqual(['RUNNING', 'PENDING']);
    await stack.sweep();
    expect((await getJob(stack, 'tq', t1.jobId)).status).toBe('RUNNING');

    await new Promise((r) => setTimeout(r, 1100));
    await stack.sweep();
    const timedOut = await getJob(stack, 'tq', t1.jobId);
    expect(timedOut.status).toBe('TIMEDOUT');
    const [run1, run2] = runsOf(stack, 'wk_timeout');
    expect(run1?.runId).toBe(timedOut.runId);
    expect(['Canceling', 'Cancelled']).toContain(run1?.status);
    const next = await getJob(stack, 'tq', t2.jobId);
    expect(next.status).toBe('RUNNING');
    expect(next.runId).toBe(run2?.runId);
  });
});
