/**
 * The job transitions every queue use case shares: take a slot, start the job's tracked run, end a job
 * and free its slot. Each status change is one transaction over the head and the job (see model.ts);
 * whoever loses a race re-reads and re-decides.
 */
import { cancelRun } from '../runs/pacing';
import type { Deps } from '../deps';
import { jobEnded } from './callback';
import { Conflict, NotFound, Rejected, upstreamUnavailable } from '../errors';
import { currentMetadata } from '../orchestration/metadata-store';
import type { QueueDef } from '../orchestration/metadata';
import { factoryOf, isTerminalRun, type TrackedRun } from '../runs/model';
import { startTrackedRun } from '../runs/start';
import { iso } from '../util';
import { jobOwnerId, jobTrackId, type Head, type Job, type JobStatus } from './model';
import { QueueStore } from './store';
import { HOT_ROW_ATTEMPTS, ignore, retryOnConflict } from '../retry';

/** Conditional writes lost in a row before a request gives up with 503 (50 racing enqueues need ~50). */
/** Jobs one pass may start in one queue (USER_ERROR jobs free their slot at once, so this can exceed capacity). */
const MAX_STARTS_PER_PASS = 200;

export const queueBusy = () => upstreamUnavailable(1, 'The queue is busy; retry.');

export async function declaredQueue(deps: Deps, name: string): Promise<QueueDef | undefined> {
  return (await currentMetadata(deps))?.metadata.queues.find((q) => q.name === name);
}

/** The declared capacity, or the last known one for a queue no longer declared (its jobs drain). */
async function capacityOf(deps: Deps, head: Head): Promise<number> {
  return (await declaredQueue(deps, head.queue))?.capacity ?? head.capacity;
}

type Decision = { head: Head; job: Job } | undefined;

/**
 * Reads the head and the job, lets `decide` return both changed (or nothing to do), and commits them
 * in one transaction. Returns the job as written, or undefined when `decide` declined.
 */
async function transition(deps: Deps, store: QueueStore, queue: string, seq: number, decide: (head: Head, job: Job) => Decision): Promise<Job | undefined> {
  return retryOnConflict(
    deps,
    () => Promise.all([store.head(queue), store.job(queue, seq)]),
    async ([head, job]) => {
      const next = job && head.etag ? decide(head, job) : undefined;
      if (!next) return undefined;
      await store.commit(next.head, [next.job]);
      return next.job;
    },
    HOT_ROW_ATTEMPTS,
  ).catch(busyOnConflict);
}

/** The queue's head kept losing races: the caller may retry (409), nothing was changed. */
export const busyOnConflict = (e: unknown): never => {
  throw e instanceof Conflict ? queueBusy() : e;
};

export interface Ending {
  runId?: string;
  message?: string;
  endedAt?: string;
}

/** Ends a job that is still in one of `from`, freeing its slot (RUNNING) or its place (PENDING). */
export async function endJob(deps: Deps, store: QueueStore, job: Pick<Job, 'queue' | 'seq'>, to: JobStatus, ending: Ending, from: readonly JobStatus[]): Promise<Job | undefined> {
  const ended = await transition(deps, store, job.queue, job.seq, (head, current) => {
    if (!from.includes(current.status)) return undefined;
    const freed = current.status === 'RUNNING' ? { running: head.running.filter((s) => s !== current.seq) } : { pending: Math.max(0, head.pending - 1) };
    return {
      head: { ...head, ...freed },
      job: {
        ...current,
        status: to,
        endedAt: ending.endedAt ?? iso(deps.clock.now()),
        ...(ending.runId ? { runId: ending.runId } : {}),
        ...(ending.message ? { message: ending.message } : {}),
      },
    };
  });
  if (ended) await jobEnded(deps, ended);
  return ended;
}

/** What a job's run says about the job. A run ADF never created means the job cannot run as given. */
function outcomeOf(run: TrackedRun): JobStatus {
  if (run.notStarted) return 'USER_ERROR';
  if (run.status === 'Succeeded') return 'COMPLETED';
  if (run.status === 'Failed' || run.status === 'Unknown') return 'FAILED';
  // Cancelled by someone else (ADF Studio, another tool): a user cancelled it.
  return 'TERMINATED';
}

/** Ends a RUNNING job from its terminal run. Idempotent: only the first caller changes anything. */
export function settleJob(deps: Deps, store: QueueStore, job: Pick<Job, 'queue' | 'seq'>, run: TrackedRun): Promise<Job | undefined> {
  const message = run.notStarted ? USER_ERROR_MESSAGE : run.message;
  return endJob(deps, store, job, outcomeOf(run), { ...(run.runId ? { runId: run.runId } : {}), ...(message ? { message } : {}), endedAt: run.runEnd ?? iso(deps.clock.now()) }, ['RUNNING']);
}

const USER_ERROR_MESSAGE = 'Data Factory refused to start the pipeline: it does not exist, or its parameters were rejected.';

/** Takes a free slot for the oldest PENDING job: one transaction with the head, so two callers never take the same slot. */
async function claimNext(deps: Deps, store: QueueStore, queue: string): Promise<Job | undefined> {
  return retryOnConflict(
    deps,
    () => store.head(queue),
    async (head) => {
      if (!head.etag || head.pending <= 0 || head.running.length >= (await capacityOf(deps, head))) return undefined;
      const [oldest] = await store.waiting(head, 1);
      if (!oldest) {
        deps.log.warn('queue head counted pending jobs that do not exist; repairing', { queue, pending: head.pending });
        await store.commit({ ...head, pending: 0 }, []);
        throw new Conflict('repaired: decide again');
      }
      const job: Job = { ...oldest, status: 'RUNNING', startedAt: iso(deps.clock.now()) };
      await store.commit({ ...head, running: [...head.running, job.seq], pending: head.pending - 1, next: job.seq + 1 }, [job]);
      return job;
    },
    HOT_ROW_ATTEMPTS,
  ).catch(busyOnConflict);
}

/** `ended`: the job is over (e.g. USER_ERROR) and its slot is free again. `deferred`: ADF could not take it now. */
export interface Launch {
  kind: 'started' | 'ended' | 'deferred';
  job: Job;
}

/**
 * Starts the tracked run of a job that holds a slot. An unknown pipeline or rejected parameters end the
 * job as USER_ERROR at once. Throttling or an unknown outcome leave it RUNNING, holding its slot and its
 * place in the order: the sweep retries the start with the same trackId, so ADF never gets two runs.
 */
export async function launch(deps: Deps, store: QueueStore, job: Job): Promise<Launch> {
  let run: TrackedRun;
  try {
    ({ run } = await startTrackedRun(deps, { trackId: jobTrackId(job), target: job.target, parameters: job.parameters, owner: { kind: 'job', id: jobOwnerId(job) } }));
  } catch (e) {
    if (e instanceof NotFound || e instanceof Rejected) {
      deps.log.info('job cannot run as given', { queue: job.queue, jobId: job.jobId, reason: e.name });
      const ended = await endJob(deps, store, job, 'USER_ERROR', { message: USER_ERROR_MESSAGE }, ['RUNNING']);
      return { kind: 'ended', job: ended ?? (await store.job(job.queue, job.seq)) ?? job };
    }
    deps.log.warn('job start deferred; the sweep retries it', { queue: job.queue, jobId: job.jobId, error: (e as Error).name });
    return { kind: 'deferred', job };
  }
  return attachRun(deps, store, job, run);
}

/** Records the runId on the job; a run that already ended settles the job; a job ended meanwhile loses its run. */
export async function attachRun(deps: Deps, store: QueueStore, job: Job, run: TrackedRun): Promise<Launch> {
  if (isTerminalRun(run.status)) {
    const ended = await settleJob(deps, store, job, run);
    return { kind: 'ended', job: ended ?? (await store.job(job.queue, job.seq)) ?? job };
  }
  const runId = run.runId;
  if (!runId) return { kind: 'started', job }; // the sweep's Reconcile step finishes the claim
  const attached = await retryOnConflict(
    deps,
    () => store.job(job.queue, job.seq),
    async (current): Promise<Launch | undefined> => {
      if (!current) return undefined;
      if (current.status !== 'RUNNING') {
        // Cancelled or timed out while ADF was starting it: the run must not keep running on a freed slot.
        if (current.runId !== runId) await cancelOrphan(deps, current, runId);
        return { kind: 'ended', job: current };
      }
      if (current.runId === runId) return { kind: 'started', job: current };
      return { kind: 'started', job: await store.saveJob({ ...current, runId }) };
    },
  ).catch(ignore(Conflict));
  return attached ?? { kind: 'started', job: { ...job, runId } };
}

async function cancelOrphan(deps: Deps, job: Job, runId: string): Promise<void> {
  try {
    await cancelRun(deps, factoryOf(job.target), runId);
    deps.log.info('cancelled the run of a job that ended while it started', { queue: job.queue, jobId: job.jobId, runId });
  } catch (e) {
    deps.log.error('could not cancel the run of an ended job', { queue: job.queue, jobId: job.jobId, runId, error: (e as Error).name });
  }
}

/**
 * Starts the oldest PENDING jobs while slots are free. Returns the jobs it took a slot for, in order.
 * Safe to call from any number of instances at once: each slot is taken by exactly one transaction.
 */
export async function fillSlots(deps: Deps, queue: string): Promise<Job[]> {
  const store = new QueueStore(deps.tables);
  const taken: Job[] = [];
  for (let i = 0; i < MAX_STARTS_PER_PASS; i++) {
    const job = await claimNext(deps, store, queue);
    if (!job) break;
    const launched = await launch(deps, store, job);
    taken.push(launched.job);
    if (launched.kind === 'deferred') break; // ADF is throttling or down: the sweep carries on later
  }
  return taken;
}
