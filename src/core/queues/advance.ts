/**
 * The queues' part of the sweep: Settle (a job's run ended → end the job, start the next one) and
 * Advance (time out overdue jobs, retry deferred starts, fill free slots) over active queues only.
 */
import { cancelRun } from '../runs/pacing';
import { reach } from '../crash';
import type { Deps } from '../deps';
import type { Row } from '../ports';
import { factoryOf, isTerminalRun } from '../runs/model';
import type { Settler } from '../runs/observe';
import { claimOf } from '../runs/api';
import { addSeconds, mapLimit } from '../util';
import { attachRun, endJob, fillSlots, launch, settleJob } from './jobs';
import { jobTrackId, parseOwnerId, seqOfJobId, type Job } from './model';
import { QueueStore } from './store';

/** Settler for owner kind 'job': called when a job's tracked run ends (sweep or completion callback). */
export const settleJobRun: Settler = async (deps, run) => {
  const owner = parseOwnerId(run.owner.id);
  const seq = owner && seqOfJobId(owner.jobId);
  if (!owner || seq === undefined) {
    deps.log.warn('run owned by an unknown job', { trackId: run.trackId, owner: run.owner.id });
    return;
  }
  const store = new QueueStore(deps.tables);
  const job = await store.job(owner.queue, seq);
  if (!job || job.jobId !== owner.jobId) return;
  const ended = await settleJob(deps, store, job, run);
  if (ended) deps.log.info('job ended', { queue: job.queue, jobId: job.jobId, status: ended.status, runId: run.runId });
  reach(deps, 'midQueueAdvance');
  // Whether this call or a concurrent one ended it, the freed slot goes to the next job now (exactly once: head ETag).
  await fillSlots(deps, owner.queue);
};

/** Advance step of the sweep: every queue marked active, a few at a time. */
export async function advanceQueues(deps: Deps): Promise<void> {
  const store = new QueueStore(deps.tables);
  const markers = await store.activeMarkers();
  let failed = 0;
  await mapLimit(markers, 4, async (marker) => {
    try {
      await advanceQueue(deps, store, marker);
    } catch (e) {
      failed++;
      deps.log.warn('queue not advanced; the next pass retries', { queue: marker.rowKey, error: (e as Error).name });
    }
  });
  if (failed) throw new Error(`${failed} of ${markers.length} queues could not be advanced`);
}

async function advanceQueue(deps: Deps, store: QueueStore, marker: Row): Promise<void> {
  const queue = marker.rowKey;
  const now = deps.clock.now();
  const head = await store.head(queue);
  for (const seq of head.running) {
    const job = await store.job(queue, seq);
    if (!job || job.status !== 'RUNNING') continue;
    if (job.timeoutSeconds !== undefined && job.startedAt && addSeconds(new Date(job.startedAt), job.timeoutSeconds) <= now) await timeOut(deps, store, job);
    else if (!job.runId && job.startedAt && addSeconds(new Date(job.startedAt), deps.settings.reconcileGraceSeconds) <= now) await retryStart(deps, store, job);
  }
  await fillSlots(deps, queue);
  const after = await store.head(queue);
  // The marker was read before the head: an enqueue since then rewrote it, and this delete loses.
  if (after.running.length === 0 && after.pending === 0) await store.retire(marker);
}

/** A job past its timeout: its ADF run is cancelled (not awaited to the end) and the slot goes to the next job. */
async function timeOut(deps: Deps, store: QueueStore, job: Job): Promise<void> {
  const run = await claimOf(deps, jobTrackId(job));
  if (run && isTerminalRun(run.status)) {
    await settleJob(deps, store, job, run); // it ended in time; only the settle is late
    return;
  }
  const runId = job.runId ?? run?.runId;
  if (run && !runId) return; // still being started: its runId is needed to cancel it; the next pass decides
  if (runId) await cancelRun(deps, factoryOf(job.target), runId);
  const ended = await endJob(deps, store, job, 'TIMEDOUT', { ...(runId ? { runId } : {}), message: `Timed out after ${job.timeoutSeconds} s; its run was cancelled.` }, ['RUNNING']);
  if (ended) deps.log.info('job timed out', { queue: job.queue, jobId: job.jobId, runId });
}

/** A RUNNING job without a runId: its start was deferred (throttled, outcome unknown) or interrupted. */
async function retryStart(deps: Deps, store: QueueStore, job: Job): Promise<void> {
  const run = await claimOf(deps, jobTrackId(job));
  if (!run) await launch(deps, store, job); // no claim: start it now (same trackId, so never twice)
  else if (run.runId || isTerminalRun(run.status)) await attachRun(deps, store, job, run);
  // else: a claim still Starting is resolved by the sweep's Reconcile step
}
