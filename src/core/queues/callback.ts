import type { Deps } from '../deps';
import { armCallbacks, type CallbackBody } from '../outbox/outbox';
import { isTerminalJob, jobOwnerId, parseOwnerId, seqOfJobId, type Job } from './model';
import { alertJob } from './alerts';
import { QueueStore } from './store';

/** What a Webhook activity waiting on a job is told: COMPLETED 200, USER_ERROR 400, any other end 500. */
export function jobCallbackBody(j: Job): CallbackBody | undefined {
  if (!isTerminalJob(j.status)) return undefined;
  const waitedSeconds = j.startedAt ? Math.max(0, Math.round((new Date(j.startedAt).getTime() - new Date(j.enqueuedAt).getTime()) / 1000)) : null;
  const Output = { jobId: j.jobId, queue: j.queue, status: j.status, runId: j.runId ?? null, waitedSeconds };
  if (j.status === 'COMPLETED') return { StatusCode: '200', Output };
  return { StatusCode: j.status === 'USER_ERROR' ? '400' : '500', Output, Error: { ErrorCode: j.status, Message: (j.message ?? `Job ${j.jobId} ended ${j.status}.`).slice(0, 4000) } };
}

/** A job ended: its waiting Webhook activity hears it now, and its alert goes (the sweep retries what fails). */
export async function jobEnded(deps: Deps, j: Job): Promise<void> {
  const body = jobCallbackBody(j);
  if (!body) return;
  await armCallbacks(deps, { area: 'job', id: jobOwnerId(j) }, body).catch((e: unknown) => deps.log.warn('job callback not delivered yet', { jobId: j.jobId, error: (e as Error).name }));
  await alertJob(deps, j);
}

/** For the sweep: the callback body of a job's outcome, read from storage. */
export async function jobOutcome(deps: Deps, ownerId: string): Promise<CallbackBody | undefined> {
  const owner = parseOwnerId(ownerId);
  const seq = owner && seqOfJobId(owner.jobId);
  if (!owner || seq === undefined) return undefined;
  const j = await new QueueStore(deps.tables).job(owner.queue, seq);
  return j && jobCallbackBody(j);
}
