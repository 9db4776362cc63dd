/**
 * Queue use cases: EnqueueJob, GetQueue, GetJob, CancelJob. The rules are in docs/queues.md.
 */
import { watchJob } from './alerts';
import { cancelRun } from '../runs/pacing';
import type { Deps } from '../deps';
import { MAX_PARAMETER_CHARS } from '../names';
import { conflict, Conflict, notFound, payloadTooLarge, upstreamUnavailable } from '../errors';
import type { QueueDef } from '../orchestration/metadata';
import type { PipelineTarget } from '../ports';
import { factoryOf, isTerminalRun, resolveTarget, type RunReference, type TrackedRun } from '../runs/model';
import { claimOf } from '../runs/api';
import { KEY_RE } from '../names';
import { addSeconds, iso } from '../util';
import { busyOnConflict, declaredQueue, endJob, fillSlots, launch, settleJob } from './jobs';
import { isTerminalJob, jobTrackId, seqOfJobId, type Head, type Job, type PlacedJob, type QueueState } from './model';
import { QueueStore } from './store';
import { HOT_ROW_ATTEMPTS, retryOnConflict } from '../retry';

/** Parameters are stored in one table property (and in the tracked run's): keep well under 64 KiB. */
/** How long CancelJob waits for a start in flight to tell it the ADF runId. */
const START_WAIT_MS = 3_000;

export interface EnqueueInput {
  ref: RunReference;
  parameters: Record<string, unknown>;
  timeoutSeconds?: number;
  /** Idempotency: a second enqueue with the same key returns the job the first one created. */
  key?: string;
  /** The execution's worker this job runs for (a shared limit). */
  forWorker?: string;
}

export interface Enqueued {
  job: Job;
  /** 1-based place among the waiting jobs; 0 when the job did not have to wait. */
  position: number;
}

const queueNotFound = (queue: string) => notFound('QueueNotFound', `No queue '${queue}' is declared in the metadata.`);
const jobNotFound = (queue: string, jobId: string) => notFound('JobNotFound', `Queue '${queue}' has no job '${jobId}'.`);

/**
 * Adds a job at the end of a declared queue. An idle queue starts it within this call; otherwise it
 * waits for its turn (the job that frees a slot starts the next one, the sweep is the safety net).
 */
export async function enqueueJob(deps: Deps, queue: string, input: EnqueueInput): Promise<Enqueued> {
  const def = await declaredQueue(deps, queue);
  if (!def) throw queueNotFound(queue);
  const target = resolveTarget(input.ref, deps.settings.defaultFactory);
  if (JSON.stringify(input.parameters).length > MAX_PARAMETER_CHARS) throw payloadTooLarge(`A job's parameters must stay under ${MAX_PARAMETER_CHARS} characters of JSON.`);
  const store = new QueueStore(deps.tables);
  await store.ensureActive(queue);
  const { job, head, existed } = await append(deps, store, def, target, input);
  // The same key again (a retry after a crash or a lost answer): the job it created, as it stands.
  if (existed) return { job, position: job.status === 'PENDING' ? await positionOf(store, job) : 0 };
  await watchJob(deps, job);
  await store.touchActive(deps, queue);
  deps.log.info('job enqueued', { queue, jobId: job.jobId, status: job.status });

  if (job.status === 'RUNNING') {
    const launched = await launch(deps, store, job);
    if (launched.kind === 'ended') await fillSlots(deps, queue); // e.g. USER_ERROR: its slot is free at once
    return { job: launched.job, position: 0 };
  }
  if (head.running.length >= def.capacity) return { job, position: head.pending };
  // A free slot with jobs waiting (a start was interrupted): start them now, then report where this one stands.
  await fillSlots(deps, queue);
  const current = (await store.job(queue, job.seq)) ?? job;
  return { job: current, position: current.status === 'PENDING' ? await positionOf(store, current) : 0 };
}

/** One transaction: the head hands out the next sequence number and the job row is inserted behind it. */
async function append(deps: Deps, store: QueueStore, def: QueueDef, target: PipelineTarget, input: EnqueueInput): Promise<{ job: Job; head: Head; existed?: boolean }> {
  return retryOnConflict(
    deps,
    () => store.head(def.name, def.capacity),
    async (head) => {
    const existing = input.key ? await store.keyed(def.name, input.key) : undefined;
    if (existing) return { job: existing, head, existed: true };
    const seq = head.seq + 1;
    const now = iso(deps.clock.now());
    const startNow = head.pending === 0 && head.running.length < def.capacity;
    const job: Job = {
      queue: def.name,
      seq,
      jobId: `${seq}-${deps.ids.randomBytes(4).toString('hex')}`,
      status: startNow ? 'RUNNING' : 'PENDING',
      target,
      parameters: input.parameters,
      ...(input.timeoutSeconds !== undefined ? { timeoutSeconds: input.timeoutSeconds } : {}),
      enqueuedAt: now,
      ...(startNow ? { startedAt: now } : {}),
      ...(input.forWorker ? { forWorker: input.forWorker } : {}),
      etag: '',
    };
    const next: Head = { ...head, seq, capacity: def.capacity, ...(startNow ? { running: [...head.running, seq], next: seq + 1 } : { pending: head.pending + 1 }) };
    await store.commit(next, [], job, input.key);
    return { job, head: next };
    },
    HOT_ROW_ATTEMPTS,
  ).catch(busyOnConflict);
}

/** A declared queue, or one removed from the metadata that still has a history (it can be read and drained). */
async function openQueue(deps: Deps, store: QueueStore, queue: string): Promise<{ head: Head; capacity: number }> {
  const def = await declaredQueue(deps, queue);
  // A queue name the metadata could not declare (src/core/names.ts) must not reach a table key.
  if (!def && !KEY_RE.test(queue)) throw queueNotFound(queue);
  const head = await store.head(queue, def?.capacity);
  if (!def && !head.etag) throw queueNotFound(queue);
  return { head, capacity: def?.capacity ?? head.capacity };
}

async function findJob(store: QueueStore, queue: string, jobId: string): Promise<Job> {
  const seq = seqOfJobId(jobId);
  const job = seq === undefined ? undefined : await store.job(queue, seq);
  if (!job || job.jobId !== jobId) throw jobNotFound(queue, jobId);
  return job;
}

/** 1-based place of a PENDING job among the waiting jobs. */
export async function positionOf(store: QueueStore, job: Job): Promise<number> {
  const head = await store.head(job.queue);
  let ahead = 0;
  await store.scanFrom(job.queue, head.next, (j) => {
    if (j.seq >= job.seq) return false;
    if (j.status === 'PENDING') ahead++;
    return true;
  });
  return ahead + 1;
}

/** A RUNNING job shows its ADF runId as soon as the tracked run knows it (the job row catches up later). */
async function withKnownRunId(deps: Deps, job: Job): Promise<Job> {
  if (job.runId || job.status !== 'RUNNING') return job;
  const run = await claimOf(deps, jobTrackId(job));
  return run?.runId ? { ...job, runId: run.runId } : job;
}

export async function getQueue(deps: Deps, queue: string): Promise<QueueState> {
  const store = new QueueStore(deps.tables);
  const { head, capacity } = await openQueue(deps, store, queue);
  const running = (await Promise.all(head.running.map((seq) => store.job(queue, seq)))).filter((j): j is Job => j?.status === 'RUNNING');
  const waiting = await store.waiting(head);
  return {
    name: queue,
    capacity,
    running: await Promise.all(running.sort((a, b) => a.seq - b.seq).map((j) => withKnownRunId(deps, j))),
    waiting: waiting.map((j, i) => ({ ...j, position: i + 1 })),
  };
}

/** The job, with its place in the queue while it waits. */
export async function getJob(deps: Deps, queue: string, jobId: string): Promise<PlacedJob> {
  const store = new QueueStore(deps.tables);
  await openQueue(deps, store, queue);
  const job = await findJob(store, queue, jobId);
  const known = await withKnownRunId(deps, job);
  return job.status === 'PENDING' ? { ...known, position: await positionOf(store, job) } : known;
}

export interface Cancelled {
  job: Job;
  /** The job that took the freed slot in this same call, if any. */
  next?: Job;
}

/**
 * PENDING → TERMINATED (the others keep their order). RUNNING → cancel the ADF run (recursively, without
 * waiting for ADF to finish cancelling), TERMINATED, and the next job starts within this call.
 */
export async function cancelJob(deps: Deps, queue: string, jobId: string, reason?: string): Promise<Cancelled> {
  const store = new QueueStore(deps.tables);
  await openQueue(deps, store, queue);
  const message = reason ?? 'Cancelled by a user.';
  // Each round decides from what it reads; a job that moved on meanwhile is decided again.
  return retryOnConflict(deps, () => findJob(store, queue, jobId), async (job): Promise<Cancelled> => {
    if (isTerminalJob(job.status)) throw conflict('JobAlreadyFinished', `Job '${jobId}' already ended ${job.status}.`);
    if (job.status === 'PENDING') {
      const ended = await endJob(deps, store, job, 'TERMINATED', { message }, ['PENDING']);
      if (ended) {
        deps.log.info('pending job cancelled', { queue, jobId });
        return { job: ended };
      }
      throw new Conflict('it started (or ended) meanwhile: decide again');
    }
    const run = await startDecided(deps, store, job);
    if (run && isTerminalRun(run.status)) {
      // It ended before the sweep noticed: record the real outcome, then answer 409 on the next round.
      await settleJob(deps, store, job, run);
      await fillSlots(deps, queue);
      throw new Conflict('it ended meanwhile: decide again');
    }
    const runId = job.runId ?? run?.runId;
    if (run && !runId) throw upstreamUnavailable(deps.settings.reconcileGraceSeconds, 'The job is still being started in Data Factory; retry shortly.');
    if (runId) await cancelRun(deps, factoryOf(job.target), runId);
    const ended = await endJob(deps, store, job, 'TERMINATED', { ...(runId ? { runId } : {}), message }, ['RUNNING']);
    if (!ended) throw new Conflict('it ended meanwhile: decide again');
    deps.log.info('running job cancelled; its slot is free', { queue, jobId, runId });
    const taken = await fillSlots(deps, queue);
    const next = taken.find((j) => j.status === 'RUNNING') ?? taken[0];
    return { job: ended, ...(next ? { next } : {}) };
  }).catch(busyOnConflict);
}

/**
 * The tracked run of a RUNNING job, once its start is decided: a start in flight (claim not yet
 * written, or written without a runId) is given a moment to finish, so the cancel reaches the right run.
 */
async function startDecided(deps: Deps, store: QueueStore, job: Job): Promise<TrackedRun | undefined> {
  const recent = job.startedAt !== undefined && new Date(job.startedAt) > addSeconds(deps.clock.now(), -deps.settings.reconcileGraceSeconds);
  let run = await claimOf(deps, jobTrackId(job));
  for (let waited = 0; waited < START_WAIT_MS; waited += 50) {
    const inFlight = run ? !run.runId && run.status === 'Starting' : recent && !job.runId;
    if (!inFlight || (await store.job(job.queue, job.seq))?.status !== 'RUNNING') break;
    await deps.sleep(50);
    run = await claimOf(deps, jobTrackId(job));
  }
  return run;
}
