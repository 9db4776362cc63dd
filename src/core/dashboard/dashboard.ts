import type { Deps } from '../deps';
import { currentMetadata } from '../orchestration/metadata-store';
import { listExecutions } from '../orchestration/executions';
import { ExecutionStore, type Loaded } from '../orchestration/store';
import type { Pause } from '../pauses/model';
import { PauseStore, hourOf } from '../pauses/store';
import type { QueueState } from '../queues/model';
import { getQueue } from '../queues/queues';
import { addSeconds, iso, mapLimit } from '../util';

const HOURS_OF_APPROVALS = 48;

export interface DashboardData {
  generatedAt: string;
  /** Running executions. */
  active: Loaded[];
  /** Every queue the metadata declares. */
  queues: QueueState[];
  /** Pauses waiting for a decision that expire within `approvalsWindowHours`. */
  approvals: Pause[];
  approvalsWindowHours: number;
  /** The ten newest Failed or Stopped executions, newest first. */
  recentFailures: Loaded[];
}

/** What the operator's dashboard shows: only active work and a short recent history, never a table scan. */
export async function dashboardData(deps: Deps): Promise<DashboardData> {
  const store = new ExecutionStore(deps);
  const active = (await mapLimit(await store.activeIds(), 8, (id) => store.load(id)))
    .filter((l): l is NonNullable<typeof l> => !!l && l.execution.status === 'Running');

  const recentFailures = [...(await listExecutions(deps, { status: 'Failed', limit: 10 })), ...(await listExecutions(deps, { status: 'Stopped', limit: 10 }))]
    .sort((a, b) => b.execution.startedAt.localeCompare(a.execution.startedAt))
    .slice(0, 10);

  const md = await currentMetadata(deps);
  const queues = await mapLimit(md?.metadata.queues ?? [], 4, (q) => getQueue(deps, q.name));

  // Waiting approvals: the expiry index's hour buckets for the next HOURS_OF_APPROVALS hours.
  const pauses = new PauseStore(deps.tables);
  const now = deps.clock.now();
  const hours = Array.from({ length: HOURS_OF_APPROVALS + 1 }, (_, h) => hourOf(iso(addSeconds(now, h * 3600))));
  const ids = await pauses.expiringIn(hours);
  const approvals = (await mapLimit(ids, 8, (id) => pauses.get(id)))
    .filter((p): p is NonNullable<typeof p> => !!p && p.status === 'Waiting' && p.expiresAt > iso(now));

  return { generatedAt: iso(now), active, queues, approvals, approvalsWindowHours: HOURS_OF_APPROVALS, recentFailures };
}
