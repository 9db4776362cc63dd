/**
 * Alert emails for queue-job outcomes (FAILED, TIMEDOUT, USER_ERROR), once each, to the metadata's recipients
 * that subscribe to them for this queue. A job someone subscribes to is watched from its enqueue
 * (`watchAlert`), so a crash between its outcome and the email delays the email, never loses it.
 */
import { anySubscriber, subscribers } from '../alerts/recipients';
import type { Deps } from '../deps';
import { currentMetadata } from '../orchestration/metadata-store';
import { JOB_OUTCOMES } from '../orchestration/metadata';
import { armAlert, watchAlert, type AlertResolver } from '../outbox/outbox';
import { isTerminalJob, jobOwnerId, parseOwnerId, seqOfJobId, type Job } from './model';
import { QueueStore } from './store';

const owner = (j: Pick<Job, 'queue' | 'jobId'>) => ({ area: 'job' as const, id: jobOwnerId(j) });

/** A new job: watched when anyone subscribes to a job outcome of its queue. */
export async function watchJob(deps: Deps, j: Pick<Job, 'queue' | 'jobId'>): Promise<void> {
  const recipients = (await currentMetadata(deps))?.metadata.recipients ?? [];
  if (anySubscriber(recipients, JOB_OUTCOMES, j.queue)) await watchAlert(deps, owner(j));
}

/** The email of a job's outcome; null when nobody subscribes to it (COMPLETED, TERMINATED, or no one); undefined while it is open. */
export const jobAlert: AlertResolver = async (deps, ownerId) => {
  const o = parseOwnerId(ownerId);
  const seq = o && seqOfJobId(o.jobId);
  const j = o && seq !== undefined ? await new QueueStore(deps.tables).job(o.queue, seq) : undefined;
  if (!j) return null;
  if (!isTerminalJob(j.status)) return undefined;
  const to = subscribers((await currentMetadata(deps))?.metadata.recipients ?? [], { kind: 'job', outcome: j.status, queue: j.queue });
  if (to.length === 0) return null;
  const base = deps.settings.publicBaseUrl;
  const view = {
    jobId: j.jobId,
    queue: j.queue,
    status: j.status,
    pipeline: j.target.pipeline,
    factory: j.target.factory,
    enqueuedAt: j.enqueuedAt,
    startedAt: j.startedAt ?? '',
    endedAt: j.endedAt ?? '',
    runId: j.runId ?? '',
    message: j.message ?? '',
    jobUrl: base ? `${base}/api/queues/${encodeURIComponent(j.queue)}/jobs/${encodeURIComponent(j.jobId)}` : '',
    dashboardUrl: base ? `${base}/api/dashboard` : '',
  };
  const { html, text } = deps.templates.render('job-alert', view);
  return { to, subject: `[adf-conductor] queue ${j.queue}: job ${j.status} (${j.target.pipeline})`, html, text };
};

/** A job ended: its alert, if watched, goes now (the sweep retries what fails). */
export async function alertJob(deps: Deps, j: Pick<Job, 'queue' | 'jobId'>): Promise<void> {
  await armAlert(deps, owner(j), jobAlert).catch((e: unknown) => deps.log.warn('job alert not sent yet; the sweep retries', { jobId: j.jobId, error: (e as Error).name }));
}
