import type { Deps } from '../deps';
import { currentMetadata } from '../orchestration/metadata-store';
import { queuePositions } from '../orchestration/shared-limits';
import { ExecutionStore, type Loaded } from '../orchestration/store';
import { pendingEffects, type PendingEffect } from '../outbox/outbox';
import type { Pause } from '../pauses/model';
import { PauseStore, hourOf } from '../pauses/store';
import type { QueueState } from '../queues/model';
import { getQueue } from '../queues/queues';
import { SweepPassStore, type SweepPass } from '../sweep/passes';
import { addSeconds, iso, mapLimit } from '../util';

const HOURS_OF_APPROVALS = 48;
const RECENT = 10;
/** The dashboard warns when no pass has run for this many intervals of SWEEP_SCHEDULE. */
export const SWEEP_LATE_INTERVALS = 3;

export interface SweepHealth {
  last?: SweepPass;
  intervalSeconds: number;
  /** No pass for SWEEP_LATE_INTERVALS intervals (or none recorded yet). */
  late: boolean;
  /** Seconds since the last pass started. */
  ageSeconds?: number;
}

export interface DashboardData {
  generatedAt: string;
  /** Running executions, oldest first. */
  active: Loaded[];
  /** The newest finished executions, newest first. */
  recent: Loaded[];
  /** Every queue the metadata declares. */
  queues: QueueState[];
  /** Pauses waiting for a decision that expire within `approvalsWindowHours`. */
  approvals: Pause[];
  approvalsWindowHours: number;
  /** Webhook callbacks waiting or failing, and emails not sent yet. */
  outbox: PendingEffect[];
  sweep: SweepHealth;
}

/** What the operator's dashboard shows: only active work and a short recent history, never a table scan. */
export async function dashboardData(deps: Deps): Promise<DashboardData> {
  const store = new ExecutionStore(deps);
  const now = deps.clock.now();
  const running = (await mapLimit(await store.activeIds(), 8, (id) => store.load(id)))
    .filter((l): l is NonNullable<typeof l> => !!l && l.execution.status === 'Running')
    .sort((a, b) => a.execution.startedAt.localeCompare(b.execution.startedAt));
  // Waiting workers show their place in their queue.
  const active = await mapLimit(running, 4, async (l) => ({ ...l, positions: await queuePositions(deps, l) }));
  // Recent: the newest ids first, without loading again the active ones (an execution can hold 1,000 workers).
  const activeIds = new Set(active.map((l) => l.execution.executionId));
  const recentIds = (await store.listIds(undefined, RECENT + activeIds.size)).filter((id) => !activeIds.has(id));
  const recent = (await mapLimit(recentIds, 8, (id) => store.load(id)))
    .filter((l): l is NonNullable<typeof l> => !!l && l.execution.status !== 'Running')
    .slice(0, RECENT);

  const md = await currentMetadata(deps);
  const queues = await mapLimit(md?.metadata.queues ?? [], 4, (q) => getQueue(deps, q.name));

  // Waiting approvals: the expiry index's hour buckets for the next HOURS_OF_APPROVALS hours.
  const pauses = new PauseStore(deps.tables);
  const hours = Array.from({ length: HOURS_OF_APPROVALS + 1 }, (_, h) => hourOf(iso(addSeconds(now, h * 3600))));
  const ids = await pauses.expiringIn(hours);
  const approvals = (await mapLimit(ids, 8, (id) => pauses.get(id)))
    .filter((p): p is NonNullable<typeof p> => !!p && p.status === 'Waiting' && p.expiresAt > iso(now))
    .sort((a, b) => a.expiresAt.localeCompare(b.expiresAt));

  const outbox = await pendingEffects(deps, 100);
  return { generatedAt: iso(now), active, recent, queues, approvals, approvalsWindowHours: HOURS_OF_APPROVALS, outbox, sweep: await sweepHealth(deps, now) };
}

export async function sweepHealth(deps: Deps, now: Date): Promise<SweepHealth> {
  const last = await new SweepPassStore(deps).last();
  const intervalSeconds = deps.settings.sweepIntervalSeconds;
  if (!last) return { intervalSeconds, late: true };
  const ageSeconds = Math.max(0, Math.round((now.getTime() - Date.parse(last.startedAt)) / 1000));
  return { last, intervalSeconds, ageSeconds, late: ageSeconds > SWEEP_LATE_INTERVALS * intervalSeconds };
}
