/**
 * Shared limits: a worker with `queue: <name>` does not start its run itself. When its turn comes it
 * enqueues a job in that queue (FIFO with the queue's own jobs and other executions' workers), keyed by its
 * deterministic trackId so that a retry after a crash finds the same job, and shows `Waiting`. The queue
 * starts the run when a slot frees; the worker is `Running` from then, holds the slot until the run ends,
 * and takes the job's outcome as its own. The execution reads its jobs on every advance (the sweep is the
 * safety net); a job's end pokes the execution at once.
 */
import { reach } from '../crash';
import type { Deps } from '../deps';
import { Conflict, NotFound } from '../errors';
import type { ActivityError } from '../ports';
import { cancelJob, enqueueJob, positionOf } from '../queues/queues';
import { isTerminalJob, jobTrackId, parseOwnerId, seqOfJobId, type Job } from '../queues/model';
import { QueueStore } from '../queues/store';
import { claimOf } from '../runs/api';
import type { TrackedRun } from '../runs/model';
import { ignore } from '../retry';
import { iso, mapLimit } from '../util';
import { advanceExecution, claimWorker, finishedWorker } from './advance';
import { workerKey, workerOwnerId, type Execution, type Worker } from './model';
import type { WorkerStatus } from './rules';
import type { ExecutionStore, Loaded } from './store';

const STATUS_OF_JOB: Record<string, WorkerStatus> = { COMPLETED: 'Succeeded', TERMINATED: 'Cancelled', FAILED: 'Failed', TIMEDOUT: 'Failed', USER_ERROR: 'Failed' };

/** The worker's turn: claim it (Waiting), then enqueue its job (idempotent by its trackId). */
export async function enqueueWorker(deps: Deps, store: ExecutionStore, e: Execution, w: Worker): Promise<void> {
  const claimed = await claimWorker(store, e, w, 'Waiting');
  if (!claimed) return;
  reach(deps, 'midWorkerEnqueue');
  await enqueueClaimed(deps, store, e.executionId, claimed);
}

async function enqueueClaimed(deps: Deps, store: ExecutionStore, executionId: string, w: Worker): Promise<void> {
  const { job } = await enqueueJob(deps, w.queue as string, {
    ref: w.target,
    parameters: w.parameters,
    ...(w.timeoutSeconds !== undefined ? { timeoutSeconds: w.timeoutSeconds } : {}),
    key: w.trackId,
    forWorker: workerOwnerId(executionId, workerKey(w.stageIndex, w.name)),
  });
  deps.log.info('worker waits in its queue', { executionId, worker: w.name, queue: w.queue, jobId: job.jobId, status: job.status });
  await applyJob(deps, store, executionId, { ...w, jobId: job.jobId }, job, true);
}

/** Brings a worker up to date with its job: its jobId, Running once the job runs, its outcome once it ended. */
async function applyJob(deps: Deps, store: ExecutionStore, executionId: string, w: Worker, job: Job, jobIdNew = false): Promise<boolean> {
  if (isTerminalJob(job.status)) {
    const run: TrackedRun | undefined = await claimOf(deps, jobTrackId(job)).catch(() => undefined);
    const status = STATUS_OF_JOB[job.status] ?? 'Failed';
    const error: ActivityError | undefined = status === 'Failed' && (!run || run.status !== 'Failed') ? { activity: '', code: job.status === 'TIMEDOUT' ? 'Timeout' : job.status, message: job.message ?? `The queue job ended ${job.status}.` } : undefined;
    const ran = run && { ...run, ...(job.runId && !run.runId ? { runId: job.runId } : {}) };
    // Retried like a direct worker: a failed run, not a timeout or a refused start.
    const done = await finishedWorker(deps, { ...w, ...(job.startedAt && !w.startedAt ? { startedAt: job.startedAt } : {}) }, status, ran, error, job.status === 'FAILED');
    await store.saveWorker(executionId, done).catch(ignore(Conflict, NotFound));
    return true;
  }
  if (job.status === 'RUNNING' && job.runId && w.status !== 'Running') {
    await store.saveWorker(executionId, { ...w, status: 'Running', runId: job.runId, startedAt: job.startedAt ?? iso(deps.clock.now()) }).catch(ignore(Conflict, NotFound));
    return true;
  }
  if (jobIdNew) {
    await store.saveWorker(executionId, w).catch(ignore(Conflict, NotFound));
    return true;
  }
  return false;
}

/** Every Waiting or Running worker on a queue, read against its job. True when one changed. */
export async function syncQueuedWorkers(deps: Deps, store: ExecutionStore, e: Execution, workers: Worker[]): Promise<boolean> {
  const queued = workers.filter((w) => w.queue && (w.status === 'Waiting' || w.status === 'Running'));
  if (queued.length === 0) return false;
  const queues = new QueueStore(deps.tables);
  let changed = false;
  await mapLimit(queued, 8, async (w) => {
    const seq = w.jobId ? seqOfJobId(w.jobId) : undefined;
    const job = seq === undefined ? undefined : await queues.job(w.queue as string, seq);
    if (!job) {
      // Claimed, but the job was not (or not visibly) written: enqueue again under the same key.
      await enqueueClaimed(deps, store, e.executionId, w);
      changed = true;
      return;
    }
    if (await applyJob(deps, store, e.executionId, w, job)) changed = true;
  });
  return changed;
}

/** Cancels a worker's job: a waiting one leaves the queue; a running one's run is cancelled and its slot freed. */
export async function cancelWorkerJob(deps: Deps, w: Worker): Promise<void> {
  await cancelJob(deps, w.queue as string, w.jobId as string, 'Its execution was cancelled.').catch((err: unknown) => {
    if ((err as { code?: string }).code !== 'JobAlreadyFinished') deps.log.warn('could not cancel a worker job', { queue: w.queue, jobId: w.jobId, error: (err as Error).name });
  });
}

/**
 * Settler addition for runs owned by a job: when that job ran for a worker, its execution advances now,
 * and so do the executions whose jobs the freed slot started (their workers become Running).
 */
export async function pokeWorkersOfQueue(deps: Deps, run: TrackedRun): Promise<void> {
  const owner = parseOwnerId(run.owner.id);
  if (!owner) return;
  const store = new QueueStore(deps.tables);
  const head = await store.head(owner.queue);
  const seq = seqOfJobId(owner.jobId);
  const seqs = [...new Set([...(seq === undefined ? [] : [seq]), ...head.running])];
  const jobs = await mapLimit(seqs, 4, (s) => store.job(owner.queue, s));
  const executions = new Set(jobs.flatMap((j) => (j?.forWorker ? [j.forWorker.slice(0, j.forWorker.indexOf('/'))] : [])));
  await mapLimit([...executions], 4, (id) => advanceExecution(deps, id));
}

/** A view's queue positions of its Waiting workers (1-based among the queue's waiting jobs). */
export async function queuePositions(deps: Deps, loaded: Loaded): Promise<Record<string, number>> {
  const waiting = loaded.workers.filter((w) => w.status === 'Waiting' && w.queue && w.jobId);
  if (waiting.length === 0) return {};
  const store = new QueueStore(deps.tables);
  const entries = await mapLimit(waiting, 4, async (w) => {
    const seq = seqOfJobId(w.jobId as string);
    const job = seq === undefined ? undefined : await store.job(w.queue as string, seq);
    return job && job.status === 'PENDING' ? ([w.name, await positionOf(store, job)] as const) : undefined;
  });
  return Object.fromEntries(entries.filter((x): x is readonly [string, number] => !!x));
}
