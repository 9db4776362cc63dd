import type { ActivityError, PipelineTarget, Props, Row } from '../ports';
import { parseJson } from '../util';
import type { RetryDef } from './metadata';
import type { ExecutionStatus, Rules, WorkerStatus } from './rules';

export interface Worker {
  name: string;
  stage: string;
  stageIndex: number;
  /** Position in the metadata (start priority inside a stage). */
  order: number;
  target: PipelineTarget;
  /** The metadata's factory key (`default`, `finance`, …). */
  factoryKey: string;
  parameters: Record<string, unknown>;
  dependsOn: string[];
  timeoutSeconds?: number;
  /** A shared limit: the queue whose slot the run takes. */
  queue?: string;
  /** The job it waits in (or runs as) in that queue. */
  jobId?: string;
  retry?: RetryDef;
  warnAfterSeconds?: number;
  /** Set once the worker was reported Late. */
  lateAt?: string;
  /** A retry waits until then before it starts. */
  notBefore?: string;
  /** Earlier runs of this worker (retries and restarts), oldest first. */
  history?: AttemptRecord[];
  /** Automatic retries used since the worker was (re)started by its execution. */
  retriesUsed?: number;
  status: WorkerStatus;
  /** Incremented by each restart; part of the deterministic trackId. */
  attempt: number;
  trackId?: string;
  runId?: string;
  startedAt?: string;
  endedAt?: string;
  error?: ActivityError;
  /** For a `fromFailure` restart: the failed run to recover. */
  recoverRunId?: string;
  etag: string;
}

export interface AttemptRecord {
  runId?: string;
  status: string;
  startedAt?: string;
  endedAt?: string;
  error?: ActivityError;
}

export interface Execution {
  executionId: string;
  batch: string | null;
  status: ExecutionStatus;
  metadataVersion: number;
  startedAt: string;
  endedAt?: string;
  stages: string[];
  rules: Rules;
  maxConcurrentWorkers: number;
  /** Per-stage caps (`stages[].maxConcurrentWorkers`), by stage name. */
  stageCaps?: Record<string, number>;
  /** `${execution.parameters.*}`: the batch's, overridden by the request's. */
  parameters?: Record<string, unknown>;
  /** SLA: the execution's, and each stage's, `warnAfterSeconds`. */
  warnAfterSeconds?: number;
  stageWarnAfterSeconds?: Record<string, number>;
  /** What was reported Late already: `execution`, `stage:<name>`. */
  late?: string[];
  restarts: number;
  etag: string;
}

export const HEAD = 'head';
export const workerKey = (stageIndex: number, name: string) => `w_${String(stageIndex).padStart(3, '0')}_${name}`;
export const workerTrackId = (executionId: string, w: Pick<Worker, 'name' | 'attempt'>) => `w_${executionId}_${w.attempt}_${w.name}`;
export const workerOwnerId = (executionId: string, name: string) => `${executionId}/${name}`;

export function workerToProps(w: Omit<Worker, 'etag'>): Props {
  const p: Props = {
    name: w.name,
    stage: w.stage,
    stageIndex: w.stageIndex,
    order: w.order,
    target: JSON.stringify(w.target),
    factoryKey: w.factoryKey,
    parameters: JSON.stringify(w.parameters),
    dependsOn: JSON.stringify(w.dependsOn),
    status: w.status,
    attempt: w.attempt,
  };
  if (w.timeoutSeconds !== undefined) p.timeoutSeconds = w.timeoutSeconds;
  if (w.warnAfterSeconds !== undefined) p.warnAfterSeconds = w.warnAfterSeconds;
  if (w.retriesUsed) p.retriesUsed = w.retriesUsed;
  for (const k of ['trackId', 'runId', 'startedAt', 'endedAt', 'recoverRunId', 'queue', 'jobId', 'lateAt', 'notBefore'] as const) if (w[k] !== undefined) p[k] = w[k];
  if (w.error) p.error = JSON.stringify(w.error);
  if (w.retry) p.retry = JSON.stringify(w.retry);
  if (w.history?.length) p.history = JSON.stringify(w.history);
  return p;
}

export function workerFromRow(r: Row): Worker {
  const p = r.props;
  const s = (k: string) => (typeof p[k] === 'string' ? (p[k]) : undefined);
  return {
    name: String(p.name),
    stage: String(p.stage),
    stageIndex: Number(p.stageIndex),
    order: Number(p.order ?? 0),
    target: parseJson(p.target, {} as PipelineTarget),
    factoryKey: String(p.factoryKey ?? 'default'),
    parameters: parseJson(p.parameters, {}),
    dependsOn: parseJson(p.dependsOn, []),
    ...(typeof p.timeoutSeconds === 'number' ? { timeoutSeconds: p.timeoutSeconds } : {}),
    ...(typeof p.warnAfterSeconds === 'number' ? { warnAfterSeconds: p.warnAfterSeconds } : {}),
    ...(typeof p.retriesUsed === 'number' ? { retriesUsed: p.retriesUsed } : {}),
    ...(s('queue') ? { queue: s('queue') } : {}),
    ...(s('jobId') ? { jobId: s('jobId') } : {}),
    ...(s('lateAt') ? { lateAt: s('lateAt') } : {}),
    ...(s('notBefore') ? { notBefore: s('notBefore') } : {}),
    ...(s('retry') ? { retry: parseJson<RetryDef>(p.retry, { count: 0, intervalSeconds: 0, fromFailure: false }) } : {}),
    ...(s('history') ? { history: parseJson<AttemptRecord[]>(p.history, []) } : {}),
    status: String(p.status) as WorkerStatus,
    attempt: Number(p.attempt ?? 1),
    trackId: s('trackId'),
    runId: s('runId'),
    startedAt: s('startedAt'),
    endedAt: s('endedAt'),
    error: s('error') ? parseJson(p.error, undefined) : undefined,
    recoverRunId: s('recoverRunId'),
    etag: r.etag,
  };
}

export function executionToProps(e: Omit<Execution, 'etag' | 'executionId'>): Props {
  const p: Props = {
    batch: e.batch ?? '',
    hasBatch: e.batch !== null,
    status: e.status,
    metadataVersion: e.metadataVersion,
    startedAt: e.startedAt,
    stages: JSON.stringify(e.stages),
    rules: JSON.stringify(e.rules),
    maxConcurrentWorkers: e.maxConcurrentWorkers,
    restarts: e.restarts,
  };
  if (e.endedAt) p.endedAt = e.endedAt;
  if (e.stageCaps && Object.keys(e.stageCaps).length) p.stageCaps = JSON.stringify(e.stageCaps);
  if (e.parameters && Object.keys(e.parameters).length) p.parameters = JSON.stringify(e.parameters);
  if (e.warnAfterSeconds !== undefined) p.warnAfterSeconds = e.warnAfterSeconds;
  if (e.stageWarnAfterSeconds && Object.keys(e.stageWarnAfterSeconds).length) p.stageWarnAfterSeconds = JSON.stringify(e.stageWarnAfterSeconds);
  if (e.late?.length) p.late = JSON.stringify(e.late);
  return p;
}

export function executionFromRow(r: Row): Execution {
  const p = r.props;
  return {
    executionId: r.partitionKey,
    batch: p.hasBatch === true ? String(p.batch) : null,
    status: String(p.status) as ExecutionStatus,
    metadataVersion: Number(p.metadataVersion),
    startedAt: String(p.startedAt),
    ...(typeof p.endedAt === 'string' ? { endedAt: p.endedAt } : {}),
    stages: parseJson(p.stages, []),
    rules: parseJson(p.rules, { failureHandling: 'Simple', cancelledWorkerBlocks: true, unknownWorkerBlocks: true }),
    maxConcurrentWorkers: Number(p.maxConcurrentWorkers ?? 50),
    ...(typeof p.stageCaps === 'string' ? { stageCaps: parseJson<Record<string, number>>(p.stageCaps, {}) } : {}),
    ...(typeof p.parameters === 'string' ? { parameters: parseJson<Record<string, unknown>>(p.parameters, {}) } : {}),
    ...(typeof p.warnAfterSeconds === 'number' ? { warnAfterSeconds: p.warnAfterSeconds } : {}),
    ...(typeof p.stageWarnAfterSeconds === 'string' ? { stageWarnAfterSeconds: parseJson<Record<string, number>>(p.stageWarnAfterSeconds, {}) } : {}),
    ...(typeof p.late === 'string' ? { late: parseJson<string[]>(p.late, []) } : {}),
    restarts: Number(p.restarts ?? 0),
    etag: r.etag,
  };
}

/** A stage's status, derived from its workers. */
export function stageStatus(workers: Worker[]): string {
  const st = workers.map((w) => w.status);
  if (st.every((s) => s === 'Pending')) return 'Pending';
  if (st.some((s) => s === 'Pending' || s === 'Waiting' || s === 'Starting' || s === 'Running')) return 'Running';
  if (st.every((s) => s === 'Succeeded')) return 'Succeeded';
  if (st.every((s) => s === 'Blocked')) return 'Blocked';
  if (st.some((s) => s === 'Failed')) return 'Failed';
  if (st.some((s) => s === 'Cancelled')) return 'Cancelled';
  return 'Failed';
}
