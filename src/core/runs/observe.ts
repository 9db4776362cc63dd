/**
 * Observe and Settle: what ADF says about the runs we track reaches their records and their owners.
 *
 * Cost follows what changed, not what runs (docs/performance.md):
 * - the active index is read a page at a time; a pass keeps only a per-factory summary in memory
 *   (pipeline names, the stalest runs up to the re-check budget, unfinished claims);
 * - the change feed is read once per factory, narrowed to the pipelines we track, so runs of other
 *   pipelines cost nothing; each item is matched by point reads, never by a map of every live run;
 * - an intermediate change (Queued → InProgress) is a batched write to the index (100 rows per
 *   transaction); only a terminal status touches the run record and reaches its owner;
 * - runs the feed has not mentioned for RUN_STALE_SECONDS are re-checked by the page (`RunGroupId In
 *   [...]`, 100 runs a call), the stalest first, within STALE_CHECK_READS_PER_PASS reads; a run no page
 *   shows is asked for once, and a 404 ends it Unknown.
 */
import type { Deps } from '../deps';
import { NotFound, Rejected } from '../errors';
import { isTerminalAdf, RUN_FILTER_VALUES, type FactoryTarget, type RunUpdate } from '../ports';
import { ignore, retryOnConflict } from '../retry';
import { addSeconds, iso, mapLimit } from '../util';
import { isTerminalRun, type OwnerKind, type TrackedRun } from './model';
import { reconcileClaim } from './start';
import { RunStore, type ActiveEntry, type ActivePatch } from './store';

/** What an owner does when one of its runs reaches a terminal state. Must be idempotent. */
export type Settler = (deps: Deps, run: TrackedRun) => Promise<void>;
export type Settlers = Partial<Record<OwnerKind, Settler>>;

export interface ObserveReport {
  factories: number;
  active: number;
  changed: number;
  /** Runs re-checked because the feed had not mentioned them for RUN_STALE_SECONDS. */
  staleChecks: number;
  /** ARM reads this pass made (feed pages are counted per call). */
  armReads: number;
  unknown: number;
  reconciled: number;
  settled: TrackedRun[];
  errors: number;
}

/** At most this many unfinished claims are reconciled per factory per pass (the rest wait a pass). */
const CLAIMS_PER_PASS = 200;
/**
 * Intermediate changes (Queued → InProgress) mirrored per factory per pass. Only a terminal status must
 * reach an owner, so in a burst of starts the rest cost nothing: the run's end, a stale re-check or the
 * callback brings its index row up to date. This keeps a pass short while thousands of runs start.
 */
const INTERMEDIATE_PER_PASS = 200;
const UNKNOWN_MESSAGE = 'Data Factory no longer knows this run (404): it is not running.';

/** Applies a terminal status ADF reported to the run record (conditional write; a terminal status is final). */
export async function applyUpdate(deps: Deps, store: RunStore, trackId: string, u: RunUpdate): Promise<TrackedRun | undefined> {
  return retryOnConflict(
    deps,
    () => store.get(trackId),
    async (run) => {
      if (!run || run.runId !== u.runId || isTerminalRun(run.status)) return run;
      if (run.status === u.status && run.lastUpdated === u.lastUpdated) return run;
      const saved = await store.save({
        ...run,
        status: u.status,
        lastUpdated: u.lastUpdated,
        ...(u.runStart ? { runStart: u.runStart } : {}),
        ...(u.runEnd ? { runEnd: u.runEnd } : {}),
        ...(u.message ? { message: u.message } : {}),
      });
      deps.log.info('run status', { trackId, runId: u.runId, status: u.status });
      return saved;
    },
  );
}

/**
 * Hands a terminal run to its owner exactly once, then drops it from the active index.
 * Returns whether the owner was told in this call.
 */
export async function settleRun(deps: Deps, settlers: Settlers, run: TrackedRun): Promise<boolean> {
  const store = new RunStore(deps);
  if (!isTerminalRun(run.status)) return false;
  let told = false;
  if (!run.settled) {
    await settlers[run.owner.kind]?.(deps, run);
    let reads = 0;
    const marked = await retryOnConflict(
      deps,
      async () => (reads++ === 0 ? run : store.get(run.trackId)),
      async (current) => {
        if (!current || current.settled) return false;
        await store.save({ ...current, settled: true });
        return true;
      },
    ).catch(ignore(NotFound)); // an anonymous claim ADF never started is removed, not kept
    told = marked === true;
  }
  await store.deactivate(run);
  return told;
}

/** What one streaming read of the index keeps of a factory: O(pipelines + budget), not O(runs). */
class FactorySummary {
  active = 0;
  readonly pipelines = new Set<string>();
  oldestClaim: string;
  /** The stalest runs, oldest news first, at most `cap`. */
  private stale: ActiveEntry[] = [];
  readonly claims: ActiveEntry[] = [];
  /** Index rows written before the index carried the pipeline. */
  readonly unnamed: ActiveEntry[] = [];

  constructor(
    readonly key: string,
    readonly factory: FactoryTarget,
    private readonly cap: number,
    now: Date,
  ) {
    this.oldestClaim = iso(now);
  }

  add(e: ActiveEntry, staleBefore: string, graceBefore: string): void {
    this.active++;
    if (e.claimedAt < this.oldestClaim) this.oldestClaim = e.claimedAt;
    if (e.pipeline) this.pipelines.add(e.pipeline);
    else this.unnamed.push(e);
    if (!e.runId) {
      if (e.claimedAt < graceBefore && this.claims.length < CLAIMS_PER_PASS) this.claims.push(e);
      return;
    }
    if (e.checkedAt < staleBefore) {
      this.stale.push(e);
      if (this.stale.length >= this.cap * 2) this.trim();
    }
  }

  stalest(): ActiveEntry[] {
    this.trim();
    return this.stale;
  }

  private trim(): void {
    this.stale.sort((a, b) => (a.checkedAt < b.checkedAt ? -1 : a.checkedAt > b.checkedAt ? 1 : 0));
    this.stale.length = Math.min(this.stale.length, this.cap);
  }
}

/** One factory's pass: what it read, and what must reach owners. */
interface Pass {
  deps: Deps;
  store: RunStore;
  summary: FactorySummary;
  now: Date;
  report: ObserveReport;
  patches: Array<{ entry: ActiveEntry; patch: ActivePatch }>;
  toSettle: TrackedRun[];
  /** trackIds the feed mentioned this pass (O(changed)). */
  mentioned: Set<string>;
  /** Intermediate feed items looked up so far this pass. */
  intermediate: number;
}

/** Observe + Settle for every factory with active runs. Reads each factory's change feed once. */
export async function observeAndSettle(deps: Deps, settlers: Settlers): Promise<ObserveReport> {
  const store = new RunStore(deps);
  const now = deps.clock.now();
  const staleBefore = iso(addSeconds(now, -deps.settings.runStaleSeconds));
  const graceBefore = iso(addSeconds(now, -deps.settings.reconcileGraceSeconds));
  const cap = deps.settings.staleCheckReadsPerPass * RUN_FILTER_VALUES;
  const summaries = new Map<string, FactorySummary>();
  for await (const page of store.activePages()) {
    for (const e of page) {
      let s = summaries.get(e.key);
      if (!s) summaries.set(e.key, (s = new FactorySummary(e.key, e.factory, cap, now)));
      s.add(e, staleBefore, graceBefore);
    }
  }
  const report: ObserveReport = { factories: summaries.size, active: 0, changed: 0, staleChecks: 0, armReads: 0, unknown: 0, reconciled: 0, settled: [], errors: 0 };
  for (const s of summaries.values()) report.active += s.active;
  await mapLimit([...summaries.values()], 4, async (summary) => {
    const pass: Pass = { deps, store, summary, now, report, patches: [], toSettle: [], mentioned: new Set(), intermediate: 0 };
    try {
      await nameLegacyEntries(pass);
      await readFeed(pass);
      await recheckStale(pass);
      await store.patchActive(pass.patches);
      await reconcileClaims(pass);
    } catch (e) {
      report.errors++;
      deps.log.warn('observe failed for a factory; the next pass retries', { factory: summary.key, error: (e as Error).name });
    }
    // Whatever reached a terminal state is handed over even if a later step failed.
    await mapLimit(pass.toSettle, 8, async (run) => {
      if (await settleRun(deps, settlers, run)) report.settled.push(run);
    });
  });
  return report;
}

/** The feed from the watermark (less the overlap) to now, narrowed to the pipelines we track. */
async function readFeed(p: Pass): Promise<void> {
  const { deps, store, summary, now } = p;
  const mark = await store.watermark(summary.key);
  const after = addSeconds(new Date(mark.at ?? summary.oldestClaim), -deps.settings.feedOverlapSeconds);
  const names = [...summary.pipelines].sort();
  for (let i = 0; i < names.length; i += RUN_FILTER_VALUES) {
    p.report.armReads++;
    let batch: RunUpdate[] = [];
    for await (const u of deps.factory.changedRuns(summary.factory, after, now, { pipelines: names.slice(i, i + RUN_FILTER_VALUES) })) {
      batch.push(u);
      if (batch.length >= RUN_FILTER_VALUES) {
        p.report.armReads++;
        await seenAll(p, batch);
        batch = [];
      }
    }
    await seenAll(p, batch);
  }
  await store.saveWatermark(summary.key, iso(now), mark.etag);
}

/** Matches feed items to our runs by point reads (the runId index): O(changed) in memory. */
async function seenAll(p: Pass, items: RunUpdate[]): Promise<void> {
  await mapLimit(items, 16, async (u) => {
    if (!isTerminalAdf(u.status) && p.intermediate++ >= INTERMEDIATE_PER_PASS) return;
    const trackId = await p.store.trackIdOf(u.runId);
    if (!trackId) return; // a run of a tracked pipeline that someone else started
    p.mentioned.add(trackId);
    await seen(p, trackId, u, undefined);
  });
}

/**
 * What ADF said about one of our runs. A terminal status goes to the record (then the owner); an
 * intermediate one only to the index, in the pass's batch. `entry` is given when the caller has it.
 */
async function seen(p: Pass, trackId: string, u: RunUpdate, entry: ActiveEntry | undefined): Promise<void> {
  if (isTerminalAdf(u.status)) {
    const run = await applyUpdate(p.deps, p.store, trackId, u);
    if (run && isTerminalRun(run.status)) {
      if (!run.settled) p.report.changed++;
      p.toSettle.push(run);
    }
    return;
  }
  const current = entry ?? (await p.store.activeEntry(p.summary.key, trackId));
  if (!current) return;
  const changed = current.status !== u.status;
  // The runId goes into the index only with the record (start path, Reconcile): never ahead of it.
  if (!changed && !entry) return;
  if (changed) p.report.changed++;
  p.patches.push({ entry: current, patch: { status: u.status, checkedAt: iso(p.now), ...(u.runGroupId ? { runGroupId: u.runGroupId } : {}) } });
}

/**
 * Runs without news for RUN_STALE_SECONDS, stalest first: by the page, 100 run groups a call, within the
 * pass's read budget. A run no page shows is asked for by id (also within budget); 404 ends it Unknown.
 */
async function recheckStale(p: Pass): Promise<void> {
  const { deps, summary } = p;
  const budget = deps.settings.staleCheckReadsPerPass;
  let reads = 0;
  const candidates = summary.stalest().filter((e) => !p.mentioned.has(e.trackId));
  const missing: ActiveEntry[] = [];
  // ADF was reported (azure-sdk-for-net#22025) to refuse RunGroupId with several values. If it does, the
  // re-check reads the feed of those runs' pipelines over their wider window instead, within the same budget.
  let byPipeline = false;
  for (let i = 0; i < candidates.length && reads < budget; i += RUN_FILTER_VALUES) {
    const chunk = candidates.slice(i, i + RUN_FILTER_VALUES);
    const wanted = new Set(chunk.map((e) => e.runId ?? ''));
    const oldest = chunk.reduce((m, e) => (e.claimedAt < m ? e.claimedAt : m), iso(p.now));
    const since = addSeconds(new Date(oldest), -deps.settings.feedOverlapSeconds - 60);
    const filter = byPipeline ? { pipelines: [...new Set(chunk.map((e) => e.pipeline))] } : { runGroupIds: [...new Set(chunk.map((e) => e.runGroupId ?? e.runId ?? ''))] };
    const found = new Map<string, RunUpdate>();
    let items = 0;
    let complete = true;
    try {
      for await (const u of deps.factory.changedRuns(summary.factory, since, p.now, filter)) {
        if (wanted.has(u.runId)) found.set(u.runId, u);
        if (++items % RUN_FILTER_VALUES === 0 && reads + items / RUN_FILTER_VALUES >= budget) {
          complete = false; // out of budget: what this chunk did not see waits for the next pass
          break;
        }
      }
    } catch (e) {
      if (!(e instanceof Rejected) || byPipeline) throw e;
      p.deps.log.warn('Data Factory refused RunGroupId with several values; re-checking by pipeline instead', { factory: summary.key });
      byPipeline = true;
      reads++;
      i -= RUN_FILTER_VALUES; // the same chunk again, by pipeline
      continue;
    }
    reads += Math.max(1, Math.ceil(items / RUN_FILTER_VALUES));
    p.report.staleChecks += chunk.length;
    await mapLimit(chunk, 8, async (e) => {
      const u = e.runId ? found.get(e.runId) : undefined;
      if (u) await seen(p, e.trackId, u, e);
      else if (complete) missing.push(e);
    });
  }
  for (const e of missing) {
    if (reads >= budget) break;
    reads++;
    try {
      await seen(p, e.trackId, await deps.factory.getRun(summary.factory, e.runId ?? ''), e);
    } catch (err) {
      if (!(err instanceof NotFound)) throw err;
      await endUnknown(p, e);
    }
  }
  p.report.armReads += reads;
}

/** ADF answered 404 for a run we started: it is not running, and its owner must hear so. */
async function endUnknown(p: Pass, e: ActiveEntry): Promise<void> {
  const run = await endAsUnknown(p.deps, p.store, e.trackId);
  if (!run) return p.store.dropEntry(e);
  if (run.status === 'Unknown' && run.runEnd === iso(p.now)) {
    p.deps.log.warn('tracked run is unknown to Data Factory; it ends Unknown', { trackId: e.trackId, runId: e.runId });
    p.report.unknown++;
  }
  p.toSettle.push(run);
}

/** A run Data Factory answered 404 for ends Unknown (unless it already ended). */
function endAsUnknown(deps: Deps, store: RunStore, trackId: string): Promise<TrackedRun | undefined> {
  const now = iso(deps.clock.now());
  return retryOnConflict(
    deps,
    () => store.get(trackId),
    async (run) => (!run || isTerminalRun(run.status) ? run : store.save({ ...run, status: 'Unknown', runEnd: now, message: UNKNOWN_MESSAGE })),
  );
}

/**
 * Reconcile: index rows without a runId past the grace period. A record that already has its runId
 * (a crash between the record and the index) repairs the index; a claim still Starting is resolved.
 */
async function reconcileClaims(p: Pass): Promise<void> {
  await mapLimit(p.summary.claims, 8, async (e) => {
    const run = await p.store.get(e.trackId);
    if (!run) return p.store.dropEntry(e);
    if (isTerminalRun(run.status)) {
      p.toSettle.push(run);
      return;
    }
    if (run.runId) return p.store.mirror(run, iso(p.now));
    p.report.reconciled++;
    const done = await reconcileClaim(p.deps, run.trackId, { mayRestart: true });
    if (isTerminalRun(done.status)) p.toSettle.push(done);
  });
}

/** Index rows from before the index named the pipeline: learn it from the record, once. */
async function nameLegacyEntries(p: Pass): Promise<void> {
  await mapLimit(p.summary.unnamed, 8, async (e) => {
    const run = await p.store.get(e.trackId);
    if (!run) return;
    p.summary.pipelines.add(run.target.pipeline);
    await p.store.rename(e, run.target.pipeline);
  });
}

/**
 * Asks Data Factory for one tracked run now and records what it says (a 404 ends it Unknown), without
 * settling: the sweep or the callback hands it to its owner. For clean-ups that must know before acting.
 */
export async function refreshRun(deps: Deps, trackId: string): Promise<TrackedRun | undefined> {
  const store = new RunStore(deps);
  const run = await store.get(trackId);
  if (!run?.runId || isTerminalRun(run.status)) return run;
  let u: RunUpdate;
  try {
    u = await deps.factory.getRun(run.target, run.runId);
  } catch (e) {
    if (!(e instanceof NotFound)) throw e;
    return endAsUnknown(deps, store, trackId);
  }
  if (isTerminalAdf(u.status)) return applyUpdate(deps, store, trackId, u);
  await store.mirror({ ...run, status: u.status }, iso(deps.clock.now()));
  return { ...run, status: u.status };
}

/** Observe + Settle for one run now (the completion callback), by its ADF runId. */
export async function observeOne(deps: Deps, settlers: Settlers, runId: string): Promise<TrackedRun | undefined> {
  const store = new RunStore(deps);
  const run = await store.find(runId);
  if (!run || !run.runId) return run;
  let current: TrackedRun | undefined = run;
  if (!isTerminalRun(run.status)) {
    const u = await deps.factory.getRun(run.target, run.runId);
    if (isTerminalAdf(u.status)) current = await applyUpdate(deps, store, run.trackId, u);
    else await store.mirror({ ...run, status: u.status }, iso(deps.clock.now()));
  }
  if (current && isTerminalRun(current.status) && !current.settled) await settleRun(deps, settlers, current);
  return store.view(runId);
}
