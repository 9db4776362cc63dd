import { startTestStack, type TestStack } from '../support/test-stack';
import { declareQueues, getQueue, runsOf } from './queues.support';

/** 50 enqueues at once to an idle queue, on Azurite (head + job in one transaction, retried on conflict). */
describe('concurrent enqueues on the test stack', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ scenario: { pipelines: { wk_c1: { durationMs: null }, wk_c3: { durationMs: null } } } });
    await declareQueues(stack, [
      { name: 'c1', capacity: 1 },
      { name: 'c3', capacity: 3 },
    ], 'wk_c1');
  });
  afterAll(() => stack.close());

  it.each([
    ['c1', 1, 'wk_c1'],
    ['c3', 3, 'wk_c3'],
  ] as const)('when 50 jobs are enqueued at once to idle queue %s, then exactly %i run and the rest wait at positions 1..n without gaps', async (queue, capacity, pipeline) => {
    const replies = await Promise.all(Array.from({ length: 50 }, (_, n) => stack.call('POST', `/queues/${queue}/jobs`, { pipeline, parameters: { n } })));
    expect(replies.map((r) => r.status)).toEqual(Array(50).fill(202));
    const running = replies.filter((r) => r.json.status === 'RUNNING');
    const pending = replies.filter((r) => r.json.status === 'PENDING');
    expect(running).toHaveLength(capacity);
    expect(pending.map((r) => r.json.position as number).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 - capacity }, (_, i) => i + 1));

    const view = await getQueue(stack, queue);
    expect(view.running).toHaveLength(capacity);
    expect(view.waiting.map((j: { position: number }) => j.position)).toEqual(Array.from({ length: 50 - capacity }, (_, i) => i + 1));
    // The waiting list is the order in which the enqueues committed: each one's reply named its position.
    const byPosition = new Map(pending.map((r) => [r.json.position as number, r.json.jobId]));
    expect(view.waiting.map((j: { jobId: string }) => j.jobId)).toEqual(view.waiting.map((j: { position: number }) => byPosition.get(j.position)));
    // ADF got exactly `capacity` runs: one per RUNNING job.
    expect(runsOf(stack, pipeline).map((r) => r.runId).sort()).toEqual(running.map((r) => r.json.runId).sort());
  });
});
