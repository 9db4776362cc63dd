import type { Job, JobStatus, PlacedJob, QueueState } from '../../core/queues/model';

/** The Job view of the HTTP contract. `position` is 1-based among the waiting jobs. */
export interface JobView {
  jobId: string;
  queue: string;
  pipeline: string;
  parameters: Record<string, unknown>;
  status: JobStatus;
  position?: number;
  runId?: string;
  enqueuedAt: string;
  startedAt?: string;
  endedAt?: string;
  timeoutSeconds?: number;
  message?: string;
}

export function toJobView(j: Job, position?: number): JobView {
  return {
    jobId: j.jobId,
    queue: j.queue,
    pipeline: j.target.pipeline,
    parameters: j.parameters,
    status: j.status,
    ...(position !== undefined ? { position } : {}),
    ...(j.runId ? { runId: j.runId } : {}),
    enqueuedAt: j.enqueuedAt,
    ...(j.startedAt ? { startedAt: j.startedAt } : {}),
    ...(j.endedAt ? { endedAt: j.endedAt } : {}),
    ...(j.timeoutSeconds !== undefined ? { timeoutSeconds: j.timeoutSeconds } : {}),
    ...(j.message ? { message: j.message } : {}),
  };
}

/** The Queue view: running jobs, then waiting jobs in start order. */
export interface QueueView {
  name: string;
  capacity: number;
  running: JobView[];
  waiting: JobView[];
}

export function toQueueView(q: QueueState): QueueView {
  return {
    name: q.name,
    capacity: q.capacity,
    running: q.running.map((j) => toJobView(j)),
    waiting: q.waiting.map((j) => toJobView(j, j.position)),
  };
}

/** A job with its place in the queue, when it waits. */
export const toPlacedJobView = (j: PlacedJob): JobView => toJobView(j, j.position);
