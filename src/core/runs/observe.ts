import type { Deps } from '../deps';
import { Conflict, NotFound } from '../errors';
import { isTerminalAdf, type FactoryTarget, type Row, type RunUpdate } from '../ports';
import { addSeconds, iso, mapLimit } from '../util';
import type { OwnerKind, TrackedRun } from './model';
import { reconcileClaim } from './start';
import { activeFactory, RunStore } from './store';

/** What an owner does when one of its runs reaches a terminal state. Must be idempotent. */
export type Settler = (deps: Deps, run: TrackedRun) => Promise<void>;
export type Settlers = Partial<Record<OwnerKind, Settler>>;

export interface ObserveReport {
  factories: number;
  active: number;
  changed: number;
  staleChecks: number;
  reconciled: number;
  settled: TrackedRun[];
  errors: number;
}

const WATERMARK = 'watermark';

/** Applies what ADF reported to the run record (conditional write; a terminal status is final). */
export async function applyUpdate(deps: Deps, store: RunStore, trackId: string, u: RunUpdate): Promise<TrackedRun | undefined> {
  for (let i = 0; i < 5; i++) {
    const run = await store.get(trackId);
    if (!run || run.runId !== u.runId) return run;
    if (isTerminalAdf(run.status)) return run;
    if (run.status === u.status && run.lastUpdated === u.lastUpdated) return run;
    try {
      const saved = await store.save({
        ...run,
        status: u.status,
        lastUpdated: u.lastUpdated,
        ...(u.runStart ? { runStart: u.runStart } : {}),
        ...(u.runEnd ? { runEnd: u.runEnd } : {}),
        ...(u.message ? { message: u.message } : {}),
      });
      deps.log.info('run status', { trackId, runId: u.runId, status: u.status });
      // A terminal run leaves the active index when it settles; only live runs need the mirror.
      if (!isTerminalAdf(saved.status)) await store.touchActive(saved, iso(deps.clock.now()));
      return saved;
    } catch (e) {
      if (!(e instanceof Conflict)) throw e;
    }
  }
  return store.get(trackId);
}

/** Hands a terminal run to its owner exactly once, then drops it from the active index. */
export async function settleRun(deps: Deps, settlers: Settlers, run: TrackedRun): Promise<boolean> {
  const store = new RunStore(deps.tables);
  if (!isTerminalAdf(run.status)) return false;
  let current: TrackedRun | undefined = run;
  if (!current.settled) {
    await settlers[current.owner.kind]?.(deps, current);
    for (let i = 0; i < 5 && current && !current.settled; i++) {
      try {
        current = await store.save({ ...current, settled: true });
      } catch (e) {
        if (e instanceof NotFound) break; // an anonymous claim ADF never started is removed, not kept
        if (!(e instanceof Conflict)) throw e;
        current = await store.get(run.trackId);
      }
    }
  }
  await store.deactivate(run);
  return true;
}

/** Observe + Settle for every factory with active runs. Reads each factory's change feed once. */
export async function observeAndSettle(deps: Deps, settlers: Settlers): Promise<ObserveReport> {
  const store = new RunStore(deps.tables);
  const rows = await store.activeRows();
  const byFactory = new Map<string, Row[]>();
  for (const r of rows) {
    const list = byFactory.get(r.partitionKey) ?? [];
    list.push(r);
    byFactory.set(r.partitionKey, list);
  }
  const report: ObserveReport = { factories: byFactory.size, active: rows.length, changed: 0, staleChecks: 0, reconciled: 0, settled: [], errors: 0 };
  await mapLimit([...byFactory.entries()], 4, async ([key, list]) => {
    try {
      await observeFactory(deps, settlers, store, key, list, report);
    } catch (e) {
      report.errors++;
      deps.log.warn('observe failed for a factory; the next pass retries', { factory: key, error: (e as Error).name });
    }
  });
  return report;
}

async function observeFactory(deps: Deps, settlers: Settlers, store: RunStore, key: string, rows: Row[], report: ObserveReport): Promise<void> {
  const f: FactoryTarget = activeFactory(rows[0] as Row);
  const now = deps.clock.now();
  const sweepTable = deps.tables.table('Sweep');
  const mark = await sweepTable.get(WATERMARK, key);
  const oldestClaim = rows.reduce((m, r) => (String(r.props.claimedAt) < m ? String(r.props.claimedAt) : m), iso(now));
  // Runs claimed after the watermark changed after it too; the overlap absorbs clock skew and late writes.
  const after = addSeconds(new Date(mark ? String(mark.props.at) : oldestClaim), -deps.settings.feedOverlapSeconds);

  const byRunId = new Map<string, Row>();
  for (const r of rows) if (typeof r.props.runId === 'string') byRunId.set(r.props.runId, r);
  const mentioned = new Set<string>();
  const changed: Array<[string, RunUpdate]> = [];
  // The feed: one call per page of runs whose lastUpdated moved, however many are running.
  for await (const u of deps.factory.changedRuns(f, after, now)) {
    const row = byRunId.get(u.runId);
    if (!row) continue;
    mentioned.add(row.rowKey);
    if (row.props.status === u.status && !isTerminalAdf(u.status)) continue;
    changed.push([row.rowKey, u]);
  }
  report.changed += changed.length;

  const toSettle: TrackedRun[] = [];
  await mapLimit(changed, 8, async ([trackId, u]) => {
    const run = await applyUpdate(deps, store, trackId, u);
    if (run && isTerminalAdf(run.status)) toSettle.push(run);
  });

  const watermark = { at: iso(now) };
  if (mark) await sweepTable.update(WATERMARK, key, watermark, mark.etag).catch(ignoreConflict);
  else await sweepTable.insert(WATERMARK, key, watermark).catch(ignoreConflict);

  // Fallbacks: runs the feed has not mentioned for too long, claims without a runId, orphans.
  const staleBefore = iso(addSeconds(now, -deps.settings.runStaleSeconds));
  const graceBefore = iso(addSeconds(now, -deps.settings.reconcileGraceSeconds));
  await mapLimit(rows, 8, async (r) => {
    const status = String(r.props.status);
    const runId = typeof r.props.runId === 'string' ? r.props.runId : undefined;
    if (mentioned.has(r.rowKey)) return;
    if (isTerminalAdf(status)) {
      const run = await store.get(r.rowKey);
      if (run && isTerminalAdf(run.status)) toSettle.push(run);
      else if (!run) await store.active.delete(key, r.rowKey, r.etag).catch(ignoreConflict);
      return;
    }
    if (runId && String(r.props.checkedAt) < staleBefore) {
      report.staleChecks++;
      try {
        const u = await deps.factory.getRun(f, runId);
        const run = await applyUpdate(deps, store, r.rowKey, u);
        if (run && isTerminalAdf(run.status)) toSettle.push(run);
        else if (run) await store.touchActive(run, iso(now));
      } catch (e) {
        if (!(e instanceof NotFound)) throw e;
        deps.log.warn('tracked run is unknown to Data Factory', { runId });
      }
      return;
    }
    if (!runId && String(r.props.claimedAt) < graceBefore) {
      const run = await store.get(r.rowKey);
      if (!run) {
        await store.active.delete(key, r.rowKey, r.etag).catch(ignoreConflict);
        return;
      }
      report.reconciled++;
      const done = await reconcileClaim(deps, run.trackId, { mayRestart: true });
      if (isTerminalAdf(done.status)) toSettle.push(done);
    }
  });

  await mapLimit(toSettle, 8, async (run) => {
    if (await settleRun(deps, settlers, run)) report.settled.push(run);
  });
}

/** Observe + Settle for one run now (the completion callback), by its ADF runId. */
export async function observeOne(deps: Deps, settlers: Settlers, runId: string): Promise<TrackedRun | undefined> {
  const store = new RunStore(deps.tables);
  const run = await store.find(runId);
  if (!run || !run.runId) return run;
  let current: TrackedRun | undefined = run;
  if (!isTerminalAdf(run.status)) {
    const u = await deps.factory.getRun(run.target, run.runId);
    current = await applyUpdate(deps, store, run.trackId, u);
  }
  if (current && isTerminalAdf(current.status) && !current.settled) await settleRun(deps, settlers, current);
  return current && (await store.get(current.trackId));
}

const ignoreConflict = (e: unknown) => {
  if (!(e instanceof Conflict) && !(e instanceof NotFound)) throw e;
};
