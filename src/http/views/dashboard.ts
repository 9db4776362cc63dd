/**
 * What the operator's dashboard shows: as JSON (`Accept: application/json`), and as the view of
 * templates/pages/dashboard.html.mustache, whose Gantt SVGs come from src/core/dashboard/timeline.ts.
 */
import type { DashboardData } from '../../core/dashboard/dashboard';
import { studioRunUrl } from '../../core/dashboard/studio';
import { axisSvg, blockers, executionSummary, formatDuration, rowsSvg, scaleOf, stageWorkers, statusCounts } from '../../core/dashboard/timeline';
import { stageStatus, type Worker } from '../../core/orchestration/model';
import type { Loaded } from '../../core/orchestration/store';
import type { PendingEffect } from '../../core/outbox/outbox';
import { toLoadedExecutionView } from './executions';
import { toQueueView } from './queues';

/** A stage with more workers than this starts collapsed. */
export const OPEN_STAGE_MAX_WORKERS = 40;
/** A finished execution with more workers than this shows its stages' counts, not their bars. */
const RECENT_GANTT_MAX_WORKERS = 200;
/** How often the page refreshes itself (script), or reloads (no script). */
export const REFRESH_SECONDS = 10;

/** Failed workers, with the failing activity's error and the run's page in ADF Studio. */
function failures(workers: Worker[]) {
  return workers
    .filter((w) => w.status === 'Failed')
    .map((w) => ({
      name: w.name,
      stage: w.stage,
      pipeline: w.target.pipeline,
      runId: w.runId ?? '',
      activity: w.error?.activity ?? '',
      code: w.error?.code ?? '',
      message: w.error?.message ?? '',
      studioUrl: w.runId ? studioRunUrl(w.target, w.runId) : '',
    }));
}

function blocked(workers: Worker[]) {
  const byName = new Map(workers.map((w) => [w.name, w]));
  return workers.filter((w) => w.status === 'Blocked').map((w) => ({ name: w.name, stage: w.stage, blockedBy: blockers(w, byName).join(', ') }));
}

const done = (w: Worker) => !['Pending', 'Waiting', 'Starting', 'Running'].includes(w.status);

/** The JSON of one execution on the dashboard: the Execution view plus counts, failures and Blocked workers. */
function executionJson(l: Loaded) {
  return {
    ...toLoadedExecutionView(l),
    done: l.workers.filter(done).length,
    total: l.workers.length,
    counts: statusCounts(l.workers),
    failures: failures(l.workers),
    blocked: blocked(l.workers),
  };
}

function outboxJson(e: PendingEffect) {
  return { ...e, state: e.waitingForOutcome ? 'waiting for the outcome' : e.attempts > 0 ? 'retrying' : 'due' };
}

export function toDashboardJson(d: DashboardData) {
  return {
    generatedAt: d.generatedAt,
    active: d.active.map(executionJson),
    recent: d.recent.map(executionJson),
    queues: d.queues.map(toQueueView),
    approvals: d.approvals.map((p) => ({ pauseId: p.pauseId, pipeline: p.continuation?.target.pipeline ?? '(in place)', factory: p.continuation?.target.factory ?? '', createdAt: p.createdAt, expiresAt: p.expiresAt })),
    approvalsWindowHours: d.approvalsWindowHours,
    callbacks: d.outbox.filter((e) => e.kind === 'callback').map(outboxJson),
    emails: d.outbox.filter((e) => e.kind === 'email').map(outboxJson),
    sweep: d.sweep,
  };
}

/** The page's view. SVG strings are escaped by their renderer and embedded verbatim (`{{{svg}}}`). */
export function toDashboardPage(d: DashboardData, refreshSeconds = REFRESH_SECONDS) {
  const now = new Date(d.generatedAt);
  const json = toDashboardJson(d);
  const card = (l: Loaded, live: boolean) => {
    const e = l.execution;
    const scale = scaleOf(e, l.workers, now);
    const byName = new Map(l.workers.map((w) => [w.name, w]));
    const bars = live || l.workers.length <= RECENT_GANTT_MAX_WORKERS;
    return {
      ...executionSummary(e, l.workers, now),
      done: l.workers.filter(done).length,
      axis: bars ? axisSvg(scale, undefined, e.startedAt) : '',
      stages: e.stages.map((name) => {
        const ws = stageWorkers(name, l.workers);
        return {
          key: `${e.executionId}/${name}`,
          name,
          status: stageStatus(ws),
          total: ws.length,
          counts: statusCounts(ws),
          open: bars && ws.length <= OPEN_STAGE_MAX_WORKERS,
          svg: bars ? rowsSvg(ws, scale, byName, now, undefined, `stage ${name}`, l.positions) : '',
        };
      }),
      failures: failures(l.workers),
      blocked: blocked(l.workers),
    };
  };
  const sweep = d.sweep;
  return {
    generatedAt: d.generatedAt,
    refreshSeconds,
    active: d.active.map((l) => card(l, true)),
    recent: d.recent.map((l) => card(l, false)),
    queues: json.queues.map((q) => ({ ...q, waitingCount: q.waiting.length })),
    approvals: json.approvals,
    approvalsWindowHours: d.approvalsWindowHours,
    callbacks: json.callbacks,
    emails: json.emails,
    sweep: {
      ...(sweep.last ? { last: { ...sweep.last, age: formatDuration((sweep.ageSeconds ?? 0) * 1000) } } : {}),
      intervalSeconds: sweep.intervalSeconds,
      late: sweep.late,
      lateAfter: formatDuration(3 * sweep.intervalSeconds * 1000),
    },
  };
}
