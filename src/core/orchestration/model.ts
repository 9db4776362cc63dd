import type { ActivityError, PipelineTarget, Props, Row } from '../ports';
import { parseJson } from '../util';
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
  for (const k of ['trackId', 'runId', 'startedAt', 'endedAt', 'recoverRunId'] as const) if (w[k] !== undefined) p[k] = w[k];
  if (w.error) p.error = JSON.stringify(w.error);
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
    restarts: Number(p.restarts ?? 0),
    etag: r.etag,
  };
}

/** A stage's status, derived from its workers. */
export function stageStatus(workers: Worker[]): string {
  const st = workers.map((w) => w.status);
  if (st.every((s) => s === 'Pending')) return 'Pending';
  if (st.some((s) => s === 'Pending' || s === 'Starting' || s === 'Running')) return 'Running';
  if (st.every((s) => s === 'Succeeded')) return 'Succeeded';
  if (st.every((s) => s === 'Blocked')) return 'Blocked';
  if (st.some((s) => s === 'Failed')) return 'Failed';
  if (st.some((s) => s === 'Cancelled')) return 'Cancelled';
  return 'Failed';
}
