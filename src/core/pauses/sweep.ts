import type { Deps } from '../deps';
import { Conflict, NotFound } from '../errors';
import type { Row } from '../ports';
import type { TrackedRun } from '../runs/model';
import { claimOf } from '../runs/api';
import { ignore, retryOnConflict } from '../retry';
import { addSeconds, iso, mapLimit } from '../util';
import { pauseDecided } from './callback';
import { carryOut, decisionLeaseSeconds, recordDecision } from './decide';
import { decisionOfTrackId, trackIdFor, type Pause } from './model';
import { hourOf, PauseStore } from './store';

/** Hour buckets read per pass at most, so a sweep that was down for weeks catches up over several passes. */
const MAX_HOURS_PER_PASS = 48;
/** A `deciding` index row whose pause is not Deciding is removed only after this long (it may be about to be). */
const STALE_MARK_SECONDS = 300;

/**
 * Sweep advance step for pauses:
 * 1. Expiry: Waiting pauses past `expiresAt` become Expired. Reads only the expiry index's hour buckets
 *    from the stored cursor up to now, never the Pauses table.
 * 2. Recovery: a decision left `Deciding` by a crash or an unconfirmed start is finished.
 */
export async function expirePauses(deps: Deps): Promise<void> {
  const store = new PauseStore(deps.tables);
  await expireDue(deps, store);
  await recoverDecisions(deps, store);
}

async function expireDue(deps: Deps, store: PauseStore): Promise<void> {
  const cursor = await store.expiryCursor();
  if (!cursor) return; // no pause was ever created
  const now = deps.clock.now();
  const nowHour = hourOf(iso(now));
  let done = cursor.hour;
  let etag = cursor.etag;
  // One hour of overlap behind the cursor: an instance whose clock runs behind may still add to it.
  let hour = shiftHour(done, -1);
  for (let n = 0; n < MAX_HOURS_PER_PASS && hour <= nowHour; n++) {
    const rows = await store.dueIn(hour, iso(now));
    const handled = await mapLimit(rows, 8, (row) => expireOne(deps, store, row, now));
    if (hour === nowHour || handled.includes(false)) return;
    hour = shiftHour(hour, 1);
    if (hour <= done) continue;
    try {
      etag = await store.moveExpiryCursor(hour, etag);
      done = hour;
    } catch (e) {
      if (e instanceof Conflict || e instanceof NotFound) return; // another pass moved it
      throw e;
    }
  }
}

/** Expires one due pause (if still Waiting) and drops its index row. False when it must be retried. */
async function expireOne(deps: Deps, store: PauseStore, row: Row, now: Date): Promise<boolean> {
  try {
    const pauseId = String(row.props.pauseId);
    // A decision racing the expiry makes the write lose: look again.
    await retryOnConflict(
      deps,
      () => store.get(pauseId),
      async (pause) => {
        if (!pause || pause.status !== 'Waiting' || pause.expiresAt > iso(now)) return;
        const expired = await store.save({ ...pause, status: 'Expired' });
        deps.log.info('pause expired', { pauseId });
        await pauseDecided(deps, expired);
      },
    ).catch(ignore(Conflict));
    await store.deleteIndexRow(row);
    return true;
  } catch (e) {
    deps.log.warn('pause expiry failed; the next pass retries', { rowKey: row.rowKey, error: (e as Error).name });
    return false;
  }
}

function shiftHour(hour: string, by: number): string {
  const at = new Date(Date.UTC(+hour.slice(0, 4), +hour.slice(4, 6) - 1, +hour.slice(6, 8), +hour.slice(8, 10)));
  return hourOf(iso(addSeconds(at, by * 3600)));
}

async function recoverDecisions(deps: Deps, store: PauseStore): Promise<void> {
  const rows = await store.deciding();
  await mapLimit(rows, 4, async (row) => {
    try {
      await recoverOne(deps, store, row);
    } catch (e) {
      deps.log.warn('pause decision not finished yet; the next pass retries', { pauseId: row.rowKey, error: (e as Error).name });
    }
  });
}

async function recoverOne(deps: Deps, store: PauseStore, row: Row): Promise<void> {
  const now = deps.clock.now();
  const pause = await store.get(row.rowKey);
  if (!pause || pause.status !== 'Deciding') {
    if (String(row.props.at) < iso(addSeconds(now, -STALE_MARK_SECONDS))) await store.deleteIndexRow(row);
    return;
  }
  if (pause.leaseUntil && pause.leaseUntil > iso(now)) return; // its holder is still at work
  const claim = await claimOf(deps, trackIdFor(pause.pauseId, pause.decision ?? 'approve'));
  if (claim && claim.status === 'Starting' && !claim.runId) return; // the run reconciler resolves it first
  let held: Pause;
  try {
    held = await store.save({ ...pause, leaseUntil: iso(addSeconds(now, decisionLeaseSeconds(deps))) });
  } catch (e) {
    if (e instanceof Conflict) return;
    throw e;
  }
  deps.log.info('finishing an interrupted pause decision', { pauseId: pause.pauseId, decision: pause.decision });
  await carryOut(deps, store, held);
}

/**
 * Settler for runs owned by a pause: records the run's final status on the pause, and finishes a
 * decision still `Deciding` (its start was confirmed only by the sweep). Idempotent.
 */
export async function settlePauseRun(deps: Deps, run: TrackedRun): Promise<void> {
  const store = new PauseStore(deps.tables);
  const decision = decisionOfTrackId(run.trackId);
  const runStatus = run.notStarted ? 'NotStarted' : run.status;
  await retryOnConflict(
    deps,
    () => store.get(run.owner.id),
    async (pause) => {
      if (!pause || pause.decision !== decision) return;
      if (pause.status === 'Deciding') {
        await recordDecision(deps, store, pause, run);
        return;
      }
      const done = pause.runStatus === runStatus && (!run.runId || pause.runId === run.runId);
      if (done || (pause.status !== 'Approved' && pause.status !== 'Rejected')) return;
      await store.save({ ...pause, trackId: run.trackId, runStatus, ...(run.runId ? { runId: run.runId } : {}) } satisfies Pause);
      deps.log.info('pause run settled', { pauseId: pause.pauseId, runId: run.runId, status: runStatus });
    },
  ).catch(ignore(Conflict));
}
