/**
 * Pipeline queues (the Product-Live "Pipelines" rules): a named queue runs at most `capacity` jobs at a
 * time, starts them in submission order, never preempts, and frees a slot at once when a job is cancelled.
 *
 * Storage: table `Queues`, one partition per queue (`q_${queue}`). The partition holds a head row and one
 * row per job whose RowKey (`j_` + zero-padded sequence number) sorts in submission order. Every status
 * change is a transaction that includes the head, so the head's ETag serialises all decisions of a queue.
 */
import type { PipelineTarget, Props, Row } from '../ports';
import { parseJson } from '../util';

export type JobStatus = 'PENDING' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'USER_ERROR' | 'TERMINATED' | 'TIMEDOUT';
export const TERMINAL_JOB_STATUSES: readonly JobStatus[] = ['COMPLETED', 'FAILED', 'USER_ERROR', 'TERMINATED', 'TIMEDOUT'];
export const isTerminalJob = (s: JobStatus): boolean => TERMINAL_JOB_STATUSES.includes(s);

export interface Job {
  queue: string;
  /** Position in submission order within the queue; the RowKey is derived from it. */
  seq: number;
  /** `${seq}-${8 hex}`: the sequence number makes lookups a point read, the random part makes ids unguessable. */
  jobId: string;
  status: JobStatus;
  target: PipelineTarget;
  parameters: Record<string, unknown>;
  timeoutSeconds?: number;
  enqueuedAt: string;
  startedAt?: string;
  endedAt?: string;
  runId?: string;
  message?: string;
  /** A job enqueued for an execution's worker (a shared limit): `<executionId>/<worker key>`. */
  forWorker?: string;
  etag: string;
}

/**
 * The queue's head: the only row every decision rewrites. Invariants (kept by transactions):
 * `running` lists the seqs of RUNNING jobs (at most capacity), `pending` counts PENDING jobs,
 * and every PENDING job has `seq >= next`.
 */
export interface Head {
  queue: string;
  /** Last sequence number handed out. */
  seq: number;
  next: number;
  running: number[];
  pending: number;
  /** Capacity when last enqueued to: lets a queue removed from the metadata drain. */
  capacity: number;
  /** Undefined while the queue has never been used (no head row yet). */
  etag?: string;
}

export const HEAD_ROW = 'head';
export const queuePartition = (queue: string) => `q_${queue}`;
export const jobRowKey = (seq: number) => `j_${String(seq).padStart(12, '0')}`;
/** RowKeys of job rows sort after this one and before JOB_ROWS_END. */
export const JOB_ROWS_END = 'j_~';
/** An idempotency key's row (the job it created), in the queue's partition: `k_<key>`. */
export const keyRowKey = (key: string) => `k_${key}`;

/** The tracked run of a job: deterministic, so a retried start finds its own claim. */
export const jobTrackId = (job: Pick<Job, 'queue' | 'jobId'>) => `j_${job.queue}_${job.jobId}`;
export const jobOwnerId = (job: Pick<Job, 'queue' | 'jobId'>) => `${job.queue}/${job.jobId}`;

export function parseOwnerId(id: string): { queue: string; jobId: string } | undefined {
  const i = id.lastIndexOf('/');
  return i > 0 ? { queue: id.slice(0, i), jobId: id.slice(i + 1) } : undefined;
}

const JOB_ID_RE = /^(\d{1,12})-[0-9a-f]{8}$/;
/** The sequence number inside a jobId, or undefined if it is not one of ours. */
export function seqOfJobId(jobId: string): number | undefined {
  const m = JOB_ID_RE.exec(jobId);
  return m ? Number(m[1]) : undefined;
}

export const emptyHead = (queue: string, capacity: number): Head => ({ queue, seq: 0, next: 1, running: [], pending: 0, capacity });

export function headToProps(h: Head): Props {
  return { seq: h.seq, next: h.next, running: JSON.stringify(h.running), pending: h.pending, capacity: h.capacity };
}

export function headFromRow(queue: string, row: Row): Head {
  const p = row.props;
  return {
    queue,
    seq: Number(p.seq ?? 0),
    next: Number(p.next ?? 1),
    running: parseJson<number[]>(p.running, []),
    pending: Number(p.pending ?? 0),
    capacity: Number(p.capacity ?? 1),
    etag: row.etag,
  };
}

export function jobToProps(j: Job): Props {
  const p: Props = {
    jobId: j.jobId,
    seq: j.seq,
    status: j.status,
    target: JSON.stringify(j.target),
    parameters: JSON.stringify(j.parameters),
    enqueuedAt: j.enqueuedAt,
  };
  const opt: Array<[string, string | number | undefined]> = [
    ['timeoutSeconds', j.timeoutSeconds],
    ['startedAt', j.startedAt],
    ['endedAt', j.endedAt],
    ['runId', j.runId],
    ['message', j.message?.slice(0, 8000)],
    ['forWorker', j.forWorker],
  ];
  for (const [k, v] of opt) if (v !== undefined) p[k] = v;
  return p;
}

export function jobFromRow(queue: string, row: Row): Job {
  const p = row.props;
  const s = (k: string) => (typeof p[k] === 'string' ? p[k] : undefined);
  return {
    queue,
    seq: Number(p.seq),
    jobId: s('jobId') ?? '',
    status: s('status') as JobStatus,
    target: parseJson<PipelineTarget>(p.target, { subscriptionId: '', resourceGroup: '', factory: '', pipeline: '' }),
    parameters: parseJson(p.parameters, {}),
    ...(typeof p.timeoutSeconds === 'number' ? { timeoutSeconds: p.timeoutSeconds } : {}),
    enqueuedAt: s('enqueuedAt') ?? '',
    ...(s('startedAt') ? { startedAt: s('startedAt') } : {}),
    ...(s('endedAt') ? { endedAt: s('endedAt') } : {}),
    ...(s('runId') ? { runId: s('runId') } : {}),
    ...(s('message') ? { message: s('message') } : {}),
    ...(s('forWorker') ? { forWorker: s('forWorker') } : {}),
    etag: row.etag,
  };
}

/** A job, with its 1-based place among the waiting jobs when it waits. */
export type PlacedJob = Job & { position?: number };

/** A queue as a reader sees it: running jobs, then waiting jobs in start order. */
export interface QueueState {
  name: string;
  capacity: number;
  running: Job[];
  waiting: PlacedJob[];
}
