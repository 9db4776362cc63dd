import type { Deps } from '../deps';
import { currentMetadata } from '../orchestration/metadata-store';
import { listExecutions } from '../orchestration/executions';
import { toExecutionView } from '../orchestration/model';
import { ExecutionStore } from '../orchestration/store';
import { PauseStore, hourOf } from '../pauses/store';
import { getQueue } from '../queues/queues';
import { addSeconds, iso, mapLimit } from '../util';

const HOURS_OF_APPROVALS = 48;

type ExecutionView = ReturnType<typeof toExecutionView>;

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

/** What the operator's dashboard shows: only active work and a short recent history, never a table scan. */
export async function dashboardData(deps: Deps) {
  const store = new ExecutionStore(deps);
  const active = (await mapLimit(await store.activeIds(), 8, (id) => store.load(id)))
    .filter((l): l is NonNullable<typeof l> => !!l && l.execution.status === 'Running')
    .map((l) => summarize(toExecutionView(l.execution, l.workers)));

  const recentFailures = [...(await listExecutions(deps, { status: 'Failed', limit: 10 })), ...(await listExecutions(deps, { status: 'Stopped', limit: 10 }))]
    .sort((a, b) => b.startedAt.localeCompare(a.startedAt))
    .slice(0, 10)
    .map(summarize);

  const md = await currentMetadata(deps);
  const queues = await mapLimit(md?.metadata.queues ?? [], 4, async (q) => {
    const v = await getQueue(deps, q.name);
    return { name: v.name, capacity: v.capacity, running: v.running, waiting: v.waiting, waitingCount: v.waiting.length };
  });

  // Waiting approvals: the expiry index's hour buckets for the next HOURS_OF_APPROVALS hours.
  const pauses = new PauseStore(deps.tables);
  const now = deps.clock.now();
  const hours = Array.from({ length: HOURS_OF_APPROVALS + 1 }, (_, h) => hourOf(iso(addSeconds(now, h * 3600))));
  const ids = await pauses.expiringIn(hours);
  const approvals = (await mapLimit(ids, 8, (id) => pauses.get(id)))
    .filter((p): p is NonNullable<typeof p> => !!p && p.status === 'Waiting' && p.expiresAt > iso(now))
    .map((p) => ({ pauseId: p.pauseId, pipeline: p.continuation.target.pipeline, factory: p.continuation.target.factory, createdAt: p.createdAt, expiresAt: p.expiresAt }));

  return { generatedAt: iso(now), active, queues, approvals, approvalsWindowHours: HOURS_OF_APPROVALS, recentFailures };
}
