import { startTestStack, sweepUntil, type TestStack } from '../support/test-stack';
import { declareQueues, enqueue, getJob, getQueue, runsOf, waitFor } from './queues.support';

/** 10 jobs of 300 ms each through a capacity-1 queue: they start in submission order and never overlap in ADF. */
describe('FIFO on the test stack', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ scenario: { pipelines: { wk_300: { durationMs: 300 }, wk_300b: { durationMs: 300 } }, unknownPipelines: 'notFound' } });
    await declareQueues(stack, [
      { name: 'fifo-sweep', capacity: 1 },
      { name: 'fifo-callback', capacity: 1 },
    ], 'wk_300');
  });
  afterAll(() => stack.close());

  async function enqueueTen(queue: string, pipeline: string): Promise<string[]> {
    const ids: string[] = [];
    for (let n = 1; n <= 10; n++) {
      const res = await enqueue(stack, queue, { pipeline, parameters: { n } });
      expect([res.json.status, res.json.position]).toEqual(n === 1 ? ['RUNNING', 0] : ['PENDING', n - 1]);
      ids.push(res.json.jobId);
    }
    return ids;
  }

  function expectSerialInOrder(pipeline: string): void {
    const runs = runsOf(stack, pipeline);
    expect(runs.map((r) => r.parameters.n)).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
    expect(runs.every((r) => r.status === 'Succeeded')).toBe(true);
    for (let i = 1; i < runs.length; i++) expect(Date.parse(runs[i]!.runStart)).toBeGreaterThanOrEqual(Date.parse(runs[i - 1]!.runEnd!));
  }

  it('when the sweep drives a capacity-1 queue, then 10 jobs start in submission order and their runs never overlap', async () => {
    const ids = await enqueueTen('fifo-sweep', 'wk_300');
    const waiting = (await getQueue(stack, 'fifo-sweep')).waiting as Array<{ jobId: string; position: number }>;
    expect(waiting.map((j) => [j.jobId, j.position])).toEqual(ids.slice(1).map((id, i) => [id, i + 1]));

    await sweepUntil(stack, async () => (await getJob(stack, 'fifo-sweep', ids[9]!)).status === 'COMPLETED', 20_000, 50);
    expectSerialInOrder('wk_300');
    const jobs = await Promise.all(ids.map((id) => getJob(stack, 'fifo-sweep', id)));
    expect(jobs.map((j) => j.status)).toEqual(Array(10).fill('COMPLETED'));
    const started = jobs.map((j) => Date.parse(j.startedAt as string));
    expect(started).toEqual([...started].sort((a, b) => a - b));
  });

  it('when completion callbacks drive a capacity-1 queue, then each callback starts the next job in submission order', async () => {
    const ids = await enqueueTen('fifo-callback', 'wk_300b');
    for (let i = 0; i < 10; i++) {
      const job = await getJob(stack, 'fifo-callback', ids[i]!);
      expect(job.status).toBe('RUNNING');
      await waitFor(() => stack.emulator.runs().find((r) => r.runId === job.runId)?.status === 'Succeeded');
      const res = await stack.call('POST', '/callbacks/run-finished', { runId: job.runId });
      expect(res.status).toBe(200);
      expect((await getJob(stack, 'fifo-callback', ids[i]!)).status).toBe('COMPLETED');
      // The callback itself started the next job: no sweep ran.
      if (i < 9) expect((await getJob(stack, 'fifo-callback', ids[i + 1]!)).runId).toBe(runsOf(stack, 'wk_300b')[i + 1]?.runId);
    }
    expectSerialInOrder('wk_300b');
  });
});
