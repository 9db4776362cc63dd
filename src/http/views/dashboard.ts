/**
 * What the operator's dashboard shows (as JSON, and through templates/pages/dashboard.html.mustache).
 */
import type { DashboardData } from '../../core/dashboard/dashboard';
import type { Loaded } from '../../core/orchestration/store';
import { toLoadedExecutionView, type ExecutionView } from './executions';
import { toQueueView } from './queues';

export function toDashboardView(d: DashboardData) {
  return {
    generatedAt: d.generatedAt,
    active: d.active.map(summary),
    queues: d.queues.map((q) => {
      const v = toQueueView(q);
      return { name: v.name, capacity: v.capacity, running: v.running, waiting: v.waiting, waitingCount: v.waiting.length };
    }),
    approvals: d.approvals.map((p) => ({ pauseId: p.pauseId, pipeline: p.continuation?.target.pipeline ?? '(in place)', factory: p.continuation?.target.factory ?? '', createdAt: p.createdAt, expiresAt: p.expiresAt })),
    approvalsWindowHours: d.approvalsWindowHours,
    recentFailures: d.recentFailures.map(summary),
  };
}

const summary = (l: Loaded) => summarize(toLoadedExecutionView(l));

function summarize(e: ExecutionView) {
  const workers = e.stages.flatMap((s) => s.workers);
  return {
    executionId: e.executionId,
    batch: e.batch ?? '(all stages)',
    status: e.status,
    startedAt: e.startedAt,
    endedAt: e.endedAt ?? '',
    done: workers.filter((w) => !['Pending', 'Starting', 'Running'].includes(w.status)).length,
    total: workers.length,
    stages: e.stages.map((s) => ({
      name: s.name,
      status: s.status,
      succeeded: s.workers.filter((w) => w.status === 'Succeeded').length,
      total: s.workers.length,
    })),
    failures: workers
      .filter((w) => w.status === 'Failed')
      .map((w) => ({ name: w.name, pipeline: w.pipeline, runId: w.runId ?? '', activity: w.error?.activity ?? '', code: w.error?.code ?? '', message: w.error?.message ?? '' })),
  };
}
