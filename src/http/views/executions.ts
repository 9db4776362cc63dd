/**
 * What the API shows about an execution: its stages in order, each with its status and its workers.
 */
import { stageStatus, type Execution, type Worker } from '../../core/orchestration/model';
import type { Loaded } from '../../core/orchestration/store';

export function toWorkerView(w: Worker, position?: number) {
  return {
    name: w.name,
    pipeline: w.target.pipeline,
    factory: w.target.factory,
    stage: w.stage,
    status: w.status,
    ...(w.runId ? { runId: w.runId } : {}),
    ...(w.startedAt ? { startedAt: w.startedAt } : {}),
    ...(w.endedAt ? { endedAt: w.endedAt } : {}),
    ...(w.error ? { error: w.error } : {}),
    parameters: w.parameters,
    ...(w.queue ? { queue: w.queue } : {}),
    ...(w.queue && w.jobId ? { jobId: w.jobId } : {}),
    ...(position !== undefined ? { position } : {}),
    ...(w.lateAt ? { lateAt: w.lateAt } : {}),
    ...(w.notBefore && w.status === 'Pending' ? { retryAt: w.notBefore } : {}),
    ...(w.history?.length
      ? { attempts: [...w.history, ...(w.runId ? [{ runId: w.runId, status: w.status, ...(w.startedAt ? { startedAt: w.startedAt } : {}), ...(w.endedAt ? { endedAt: w.endedAt } : {}), ...(w.error ? { error: w.error } : {}) }] : [])] }
      : {}),
  };
}

export function toExecutionView(e: Execution, workers: Worker[], positions: Record<string, number> = {}) {
  return {
    executionId: e.executionId,
    batch: e.batch,
    status: e.status,
    metadataVersion: e.metadataVersion,
    startedAt: e.startedAt,
    ...(e.endedAt ? { endedAt: e.endedAt } : {}),
    restarts: e.restarts,
    ...(e.parameters && Object.keys(e.parameters).length ? { parameters: e.parameters } : {}),
    ...(e.late?.length ? { late: e.late } : {}),
    stages: e.stages.map((name) => {
      const ws = workers.filter((w) => w.stage === name).sort((a, b) => a.order - b.order);
      return { name, status: stageStatus(ws), workers: ws.map((w) => toWorkerView(w, positions[w.name])) };
    }),
  };
}

/** The view of an execution as the use cases return it. */
export const toLoadedExecutionView = (l: Loaded) => toExecutionView(l.execution, l.workers, l.positions);

export type ExecutionView = ReturnType<typeof toExecutionView>;
