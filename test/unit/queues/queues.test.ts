import { DomainError } from '../../../src/core/errors';
import { advanceQueues, settleJobRun } from '../../../src/core/queues/advance';
import { jobTrackId } from '../../../src/core/queues/model';
import { cancelJob, getJob, getQueue } from '../../../src/core/queues/queues';
import { RunStore } from '../../../src/core/runs/store';
import { runSweep } from '../../../src/core/sweep/sweep';
import { observeOne } from '../../../src/core/runs/observe';
import { settlers } from '../../../src/core/sweep/sweep';
import { declareQueues, enqueue, finishRun, queueDeps, startedNs, type QueueDeps } from './queue-fixture';

async function expectProblem(p: Promise<unknown>, status: number, code: string): Promise<void> {
  const e: unknown = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DomainError);
  expect({ status: (e as DomainError).status, code: (e as DomainError).code }).toEqual({ status, code });
}

const activeQueueNames = async (deps: QueueDeps) => (await deps.tables.table('ActiveQueues').scanAll()).map((r) => r.rowKey);

describe('EnqueueJob', () => {
  it('when a queue is idle, then the job starts within the enqueue call', async () => {
    const deps = await queueDeps([{ name: 'q', capacity: 1 }]);
    const { job, position } = await enqueue(deps, 'q', 1);
    expect(job.status).toBe('RUNNING');
    expect(position).toBe(0);
    expect(job.runId).toBe(deps.factory.runs[0]?.runId);
    expect(deps.factory.runs).toHaveLength(1);
  });

  it('when the queue is busy, then jobs wait with gapless positions and start in submission order', async () => {
    const deps = await queueDeps([{ name: 'q', capacity: 1 }]);
    const jobs = [];
    for (let n = 1; n <= 4; n++) jobs.push(await enqueue(deps, 'q', n));
    expect(jobs.map((j) => [j.job.status, j.position])).toEqual([
      ['RUNNING', 0],
      ['PENDING', 1],
      ['PENDING', 2],
      ['PENDING', 3],
    ]);
    for (let i = 0; i < 4; i++) {
      const running = (await getQueue(deps, 'q')).running;
      expect(running.map((j) => j.parameters.n)).toEqual([i + 1]);
      await finishRun(deps, running[0]!);
    }
    expect(startedNs(deps)).toEqual([1, 2, 3, 4]);
    expect((await getQueue(deps, 'q')).running).toEqual([]);
  });

  it('when 50 enqueues race on an idle queue, then exactly capacity jobs run and the rest wait at positions 1..n', async () => {
    for (const capacity of [1, 3]) {
      const deps = await queueDeps([{ name: 'q', capacity }]);
      const results = await Promise.all(Array.from({ length: 50 }, (_, n) => enqueue(deps, 'q', n)));
      const running = results.filter((r) => r.job.status === 'RUNNING');
      const waiting = results.filter((r) => r.job.status === 'PENDING');
      expect(running).toHaveLength(capacity);
      expect(waiting.map((r) => r.position).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 - capacity }, (_, i) => i + 1));
      expect(deps.factory.runs).toHaveLength(capacity);
      const view = await getQueue(deps, 'q');
      expect(view.waiting.map((j) => j.position)).toEqual(Array.from({ length: 50 - capacity }, (_, i) => i + 1));
      // The waiting order is the submission order (the sequence numbers in the job ids).
      const seqs = view.waiting.map((j) => Number(j.jobId.split('-')[0]));
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    }
  });

  it('when the queue is not declared, or no metadata is stored, then it is refused with QueueNotFound', async () => {
    const deps = await queueDeps([{ name: 'q' }]);
    await expectProblem(enqueue(deps, 'other', 1), 404, 'QueueNotFound');
    await expectProblem(getQueue(deps, 'other'), 404, 'QueueNotFound');
    const bare = await queueDeps([]);
    await bare.tables.table('Metadata').delete('metadata', 'current', (await bare.tables.table('Metadata').get('metadata', 'current'))!.etag);
    await expectProblem(enqueue(bare, 'q', 1), 404, 'QueueNotFound');
  });

  it('when the pipeline does not exist, then the job is USER_ERROR and the next job starts at once', async () => {
    const deps = await queueDeps([{ name: 'q', capacity: 1 }]);
    const a = await enqueue(deps, 'q', 1);
    const bad = await enqueue(deps, 'q', 2, { pipeline: 'no_such_pipeline' });
    const c = await enqueue(deps, 'q', 3);
    expect(bad.job.status).toBe('PENDING');
    await finishRun(deps, a.job);
    expect((await getJob(deps, 'q', bad.job.jobId)).status).toBe('USER_ERROR');
    expect((await getJob(deps, 'q', c.job.jobId)).status).toBe('RUNNING');
    const alone = await enqueue(deps, 'q', 4, { pipeline: 'no_such_pipeline' });
    expect(alone.job.status).toBe('PENDING');
  });
});

describe('settling a job from its run', () => {
  it.each([
    ['Succeeded', 'COMPLETED'],
    ['Failed', 'FAILED'],
    ['Cancelled', 'TERMINATED'],
  ] as const)('when the run ends %s, then the job is %s and the next job starts', async (runStatus, jobStatus) => {
    const deps = await queueDeps([{ name: 'q', capacity: 1 }]);
    const a = await enqueue(deps, 'q', 1);
    const b = await enqueue(deps, 'q', 2);
    await finishRun(deps, a.job, runStatus);
    const ended = await getJob(deps, 'q', a.job.jobId);
    expect(ended.status).toBe(jobStatus);
    expect(ended.endedAt).toBeDefined();
    expect((await getJob(deps, 'q', b.job.jobId)).status).toBe('RUNNING');
  });

  it('when the callback and the sweep settle the same run at once, then the next job starts once', async () => {
    const deps = await queueDeps([{ name: 'q', capacity: 1 }]);
    const a = await enqueue(deps, 'q', 1);
    await enqueue(deps, 'q', 2);
    await enqueue(deps, 'q', 3);
    deps.factory.finish(a.job.runId!, 'Succeeded');
    const run = (await new RunStore(deps).get(jobTrackId(a.job)))!;
    const finished = { ...run, status: 'Succeeded' as const };
    await Promise.all([observeOne(deps, settlers, a.job.runId!), runSweep(deps), settleJobRun(deps, finished), settleJobRun(deps, finished)]);
    expect(startedNs(deps)).toEqual([1, 2]);
    const view = await getQueue(deps, 'q');
    expect(view.running.map((j) => j.parameters.n)).toEqual([2]);
    expect(view.waiting.map((j) => [j.parameters.n, j.position])).toEqual([[3, 1]]);
  });

  it('when a queue has nothing left to do, then the sweep drops it from the active index, and an enqueue brings it back', async () => {
    const deps = await queueDeps([{ name: 'q', capacity: 1 }]);
    const a = await enqueue(deps, 'q', 1);
    expect(await activeQueueNames(deps)).toEqual(['q']);
    await advanceQueues(deps);
    expect(await activeQueueNames(deps)).toEqual(['q']);
    await finishRun(deps, a.job);
    await advanceQueues(deps);
    expect(await activeQueueNames(deps)).toEqual([]);
    await enqueue(deps, 'q', 2);
    expect(await activeQueueNames(deps)).toEqual(['q']);
  });
});

describe('CancelJob', () => {
  it('when the RUNNING job is cancelled, then its ADF run is cancelled and the next job is running before the call returns', async () => {
    const deps = await queueDeps([{ name: 'q', capacity: 1 }]);
    const a = await enqueue(deps, 'q', 1);
    const b = await enqueue(deps, 'q', 2);
    const { job, next } = await cancelJob(deps, 'q', a.job.jobId);
    expect(job.status).toBe('TERMINATED');
    expect(next?.jobId).toBe(b.job.jobId);
    expect(next?.status).toBe('RUNNING');
    expect(deps.factory.runs.map((r) => [r.parameters.n, r.status])).toEqual([
      ['1', 'Cancelled'],
      ['2', 'InProgress'],
    ]);
    expect(next?.runId).toBe(deps.factory.runs[1]?.runId);
    // The cancelled run's end reaches the settler later: nothing changes and nothing else starts.
    await runSweep(deps);
    expect((await getJob(deps, 'q', a.job.jobId)).status).toBe('TERMINATED');
    expect(deps.factory.runs).toHaveLength(2);
  });

  it('when a PENDING job is cancelled, then it is removed and the others keep their order', async () => {
    const deps = await queueDeps([{ name: 'q', capacity: 1 }]);
    const jobs = [];
    for (let n = 1; n <= 5; n++) jobs.push((await enqueue(deps, 'q', n)).job);
    const { job, next } = await cancelJob(deps, 'q', jobs[2]!.jobId);
    expect(job.status).toBe('TERMINATED');
    expect(next).toBeUndefined();
    const view = await getQueue(deps, 'q');
    expect(view.waiting.map((j) => [j.parameters.n, j.position])).toEqual([
      [2, 1],
      [4, 2],
      [5, 3],
    ]);
    expect((await getJob(deps, 'q', jobs[4]!.jobId)).position).toBe(3);
    for (let i = 0; i < 4; i++) await finishRun(deps, (await getQueue(deps, 'q')).running[0]!);
    expect(startedNs(deps)).toEqual([1, 2, 4, 5]);
  });

  it('when the job already ended, then it is a 409; an unknown job is a 404', async () => {
    const deps = await queueDeps([{ name: 'q', capacity: 1 }]);
    const a = await enqueue(deps, 'q', 1);
    await finishRun(deps, a.job);
    await expectProblem(cancelJob(deps, 'q', a.job.jobId), 409, 'JobAlreadyFinished');
    await expectProblem(cancelJob(deps, 'q', '999-00000000'), 404, 'JobNotFound');
    await expectProblem(getJob(deps, 'q', 'not-a-job'), 404, 'JobNotFound');
    await expectProblem(cancelJob(deps, 'nope', a.job.jobId), 404, 'QueueNotFound');
  });

  it('when the run already ended but was not settled yet, then the real outcome is kept and the cancel is a 409', async () => {
    const deps = await queueDeps([{ name: 'q', capacity: 1 }]);
    const a = await enqueue(deps, 'q', 1);
    const b = await enqueue(deps, 'q', 2);
    deps.factory.finish(a.job.runId!, 'Failed', 'boom');
    const store = new RunStore(deps);
    const run = (await store.get(jobTrackId(a.job)))!;
    await store.save({ ...run, status: 'Failed', message: 'boom' });
    await expectProblem(cancelJob(deps, 'q', a.job.jobId), 409, 'JobAlreadyFinished');
    expect((await getJob(deps, 'q', a.job.jobId)).status).toBe('FAILED');
    expect((await getJob(deps, 'q', b.job.jobId)).status).toBe('RUNNING');
  });
});

describe('advanceQueues', () => {
  it('when a RUNNING job passes its timeout, then its run is cancelled, it is TIMEDOUT and the next job starts', async () => {
    const deps = await queueDeps([{ name: 'q', capacity: 1 }]);
    const a = await enqueue(deps, 'q', 1, { timeoutSeconds: 60 });
    const b = await enqueue(deps, 'q', 2);
    deps.clock.advance(59_000);
    await advanceQueues(deps);
    expect((await getJob(deps, 'q', a.job.jobId)).status).toBe('RUNNING');
    deps.clock.advance(1_000);
    await advanceQueues(deps);
    const timedOut = await getJob(deps, 'q', a.job.jobId);
    expect(timedOut.status).toBe('TIMEDOUT');
    expect(deps.factory.runs[0]?.status).toBe('Cancelled');
    expect((await getJob(deps, 'q', b.job.jobId)).status).toBe('RUNNING');
    await runSweep(deps); // the Cancelled run settles: the job stays TIMEDOUT
    expect((await getJob(deps, 'q', a.job.jobId)).status).toBe('TIMEDOUT');
  });

  it('when ADF throttles a start, then the job keeps its slot and place and the sweep starts it later', async () => {
    const deps = await queueDeps([{ name: 'q', capacity: 1 }], { reconcileGraceSeconds: 5 });
    deps.factory.startScript = ['throttled'];
    const a = await enqueue(deps, 'q', 1);
    const b = await enqueue(deps, 'q', 2);
    expect(a.job.status).toBe('RUNNING');
    expect(deps.factory.runs).toHaveLength(0);
    await runSweep(deps);
    expect(deps.factory.runs).toHaveLength(0); // within the grace period: a start may still be in flight
    deps.clock.advance(5_000);
    await runSweep(deps);
    expect(startedNs(deps)).toEqual([1]);
    const started = await getJob(deps, 'q', a.job.jobId);
    expect(started.runId).toBe(deps.factory.runs[0]?.runId);
    expect((await getJob(deps, 'q', b.job.jobId)).position).toBe(1);
  });

  it('when a queue is removed from the metadata, then its jobs still drain with the last known capacity', async () => {
    const deps = await queueDeps([{ name: 'q', capacity: 1 }]);
    const a = await enqueue(deps, 'q', 1);
    const b = await enqueue(deps, 'q', 2);
    await declareQueues(deps, []);
    await expectProblem(enqueue(deps, 'q', 3), 404, 'QueueNotFound');
    await finishRun(deps, a.job);
    expect((await getJob(deps, 'q', b.job.jobId)).status).toBe('RUNNING');
    expect((await getQueue(deps, 'q')).capacity).toBe(1);
  });
});
