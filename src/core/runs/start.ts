import type { Deps } from '../deps';
import { Conflict, NotFound, Rejected, Throttled, Unavailable } from '../errors';
import type { PipelineTarget, RunUpdate, StartOptions } from '../ports';
import { addSeconds, iso } from '../util';
import { factoryKey, factoryOf, sameParams, type Owner, type TrackedRun } from './model';
import { RunStore } from './store';

export interface StartRequest {
  /** Deterministic for owned starts (so a retry after a crash finds its own claim); random otherwise. */
  trackId?: string;
  target: PipelineTarget;
  parameters: Record<string, unknown>;
  owner: Owner;
  requestHash?: string;
  recovery?: StartOptions['recovery'];
}

export type StartResult =
  /** The claim is ours and ADF has (or will be reconciled to) one run for it. */
  | { kind: 'started'; run: TrackedRun }
  /** The trackId was already claimed (a concurrent or earlier start): here is that claim. */
  | { kind: 'existing'; run: TrackedRun };

/** Paces createRun per factory, in process, to stay inside ARM's write limits. */
class StartPacer {
  private readonly next = new Map<string, number>();
  async take(key: string, perSecond: number): Promise<void> {
    const now = Date.now();
    const slot = Math.max(now, this.next.get(key) ?? 0);
    this.next.set(key, slot + 1000 / perSecond);
    if (slot > now) await new Promise((r) => setTimeout(r, slot - now));
  }
}
const pacer = new StartPacer();

/**
 * The one start path: claim → createRun → record runId.
 * - A definitive refusal (NotFound, Rejected, Throttled) removes the claim and is rethrown: nothing was started.
 * - An ambiguous failure (Unavailable: ADF may have created the run) is reconciled at once; if ADF shows
 *   no such run it is started again exactly once more. If that is still ambiguous the claim stays
 *   `Starting` and the sweep's Reconcile step finishes it. Never two runs.
 */
export async function startTrackedRun(deps: Deps, req: StartRequest): Promise<StartResult> {
  const store = new RunStore(deps.tables);
  const trackId = req.trackId ?? deps.ids.newId();
  let run: TrackedRun;
  try {
    run = await store.insert({
      trackId,
      status: 'Starting',
      target: req.target,
      parameters: req.parameters,
      owner: req.owner,
      claimedAt: iso(deps.clock.now()),
      attempt: 1,
      settled: false,
      ...(req.requestHash ? { requestHash: req.requestHash } : {}),
      ...(req.recovery ? { recovery: req.recovery } : {}),
    });
  } catch (e) {
    if (!(e instanceof Conflict)) throw e;
    const existing = await store.get(trackId);
    if (!existing) throw e;
    return { kind: 'existing', run: existing };
  }
  return { kind: 'started', run: await createAndRecord(deps, store, run, 'inline') };
}

async function createAndRecord(deps: Deps, store: RunStore, run: TrackedRun, mode: 'inline' | 'reconcile'): Promise<TrackedRun> {
  await pacer.take(factoryKey(factoryOf(run.target)), deps.settings.startsPerSecondPerFactory);
  try {
    const { runId } = await deps.factory.start(run.target, run.parameters, run.recovery ? { recovery: run.recovery } : undefined);
    deps.log.info('run started', { trackId: run.trackId, runId, pipeline: run.target.pipeline, attempt: run.attempt });
    return await recordRunId(deps, store, run, runId);
  } catch (e) {
    if (e instanceof Unavailable) {
      deps.log.warn('createRun outcome unknown; reconciling', { trackId: run.trackId, pipeline: run.target.pipeline });
      return reconcileClaim(deps, run.trackId, { mayRestart: mode === 'inline', force: true });
    }
    const definitive = e instanceof NotFound || e instanceof Rejected;
    if (mode === 'inline' && (definitive || e instanceof Throttled)) {
      await store.removeClaim(run);
      throw e;
    }
    if (mode === 'reconcile' && definitive) {
      if (run.owner.kind === 'none') {
        await store.removeClaim(run);
        return { ...run, status: 'Failed', notStarted: true, message: (e as Error).message };
      }
      // An owned claim must still reach its owner: it ends Failed, never started.
      return store.save({ ...run, status: 'Failed', notStarted: true, message: (e as Error).message, runEnd: iso(deps.clock.now()) });
    }
    throw e; // Throttled while reconciling: stays Starting for the next pass
  }
}

/** Records the runId: the runId index (an atomic claim of that ADF run) then the run record. */
async function recordRunId(deps: Deps, store: RunStore, run: TrackedRun, runId: string, seen?: RunUpdate): Promise<TrackedRun> {
  await store.indexRunId(runId, run.trackId);
  let current = run;
  for (let i = 0; i < 5; i++) {
    if (current.runId) return current;
    try {
      const saved = await store.save({
        ...current,
        runId,
        status: seen?.status ?? 'Queued',
        ...(seen?.runStart ? { runStart: seen.runStart } : {}),
        ...(seen?.lastUpdated ? { lastUpdated: seen.lastUpdated } : {}),
      });
      await store.touchActive(saved, iso(deps.clock.now()));
      return saved;
    } catch (e) {
      if (!(e instanceof Conflict)) throw e;
      const fresh = await store.get(run.trackId);
      if (!fresh) throw e;
      current = fresh;
    }
  }
  return current;
}

/**
 * Resolves a claim that has no runId: adopt the run ADF did create (same pipeline, parameters and time
 * window, not owned by another tracked run) or, when ADF has none and `mayRestart`, start it again.
 * Used inline after a lost response and by the sweep for claims older than the grace period.
 */
export async function reconcileClaim(deps: Deps, trackId: string, opts: { mayRestart: boolean; force?: boolean }): Promise<TrackedRun> {
  const store = new RunStore(deps.tables);
  const run = await store.get(trackId);
  if (!run) throw new NotFound(`no claim ${trackId}`);
  if (run.runId || run.status !== 'Starting') return run;

  const since = addSeconds(new Date(run.claimedAt), -deps.settings.feedOverlapSeconds - 60);
  const until = addSeconds(deps.clock.now(), 60);
  const candidates: RunUpdate[] = [];
  for await (const u of deps.factory.changedRuns(factoryOf(run.target), since, until, [run.target.pipeline])) {
    if (u.pipeline === run.target.pipeline && sameParams(run.parameters, u.parameters)) candidates.push(u);
  }
  candidates.sort((a, b) => (a.runStart ?? '').localeCompare(b.runStart ?? ''));
  for (const c of candidates) {
    const owner = await store.trackIdOf(c.runId);
    if (owner && owner !== trackId) continue;
    try {
      deps.log.info('claim adopted the run ADF created', { trackId, runId: c.runId });
      return await recordRunId(deps, store, run, c.runId, c);
    } catch (e) {
      if (!(e instanceof Conflict)) throw e; // another claim adopted it first: try the next candidate
    }
  }

  const ageSeconds = (deps.clock.now().getTime() - new Date(run.claimedAt).getTime()) / 1000;
  if (!opts.mayRestart || (!opts.force && ageSeconds < deps.settings.reconcileGraceSeconds)) return run;

  // ADF has no such run: start it again, once per attempt number (the conditional write elects one reconciler).
  let bumped: TrackedRun;
  try {
    bumped = await store.save({ ...run, attempt: run.attempt + 1 });
  } catch (e) {
    if (e instanceof Conflict) return (await store.get(trackId)) ?? run;
    throw e;
  }
  try {
    return await createAndRecord(deps, store, bumped, 'reconcile');
  } catch (e) {
    if (e instanceof Throttled) return bumped;
    throw e;
  }
}
