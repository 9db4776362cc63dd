import { Conflict, NotFound } from '../errors';
import type { Deps } from '../deps';
import type { FactoryTarget, Props, Row, Table, TxOp } from '../ports';
import { ignore, retryOnConflict } from '../retry';
import { mapLimit } from '../util';
import { factoryKey, factoryOf, isTerminalRun, runFromRow, runIdKey, runRowKey, runToProps, type TrackedRun } from './model';

/**
 * One row of the active-runs index: partition = factory, row = trackId. It holds what the sweep needs
 * to read the change feed without loading run records: the pipeline (the feed's filter), the live ADF
 * status (intermediate changes are written here only, in batches), and when ADF last gave news.
 */
export interface ActiveEntry {
  key: string;
  trackId: string;
  factory: FactoryTarget;
  pipeline: string;
  status: string;
  runId?: string;
  /** For `RunGroupId In [...]` re-checks: the runId itself, or the referenced run's group for a recovery rerun. */
  runGroupId?: string;
  claimedAt: string;
  /** The last time ADF gave news of this run (a change seen, or a re-check). */
  checkedAt: string;
  etag: string;
}

/** A change to an index row: new status and news time, kept if a concurrent writer got there first. */
export interface ActivePatch {
  status?: string;
  runId?: string;
  runGroupId?: string;
  checkedAt: string;
}

const WATERMARK = 'watermark';
const WRITE_BUCKET = 'armwrites';

/** A token bucket of ARM writes; times are epoch milliseconds. */
export interface WriteBucket {
  tokens: number;
  at: number;
  blockedUntil: number;
}

/** Data access for tracked runs: the run record, its runId index, the active-runs index and the feed watermarks. */
export class RunStore {
  private readonly runs: Table;
  private readonly active: Table;
  private readonly sweep: Table;
  constructor(private readonly deps: Pick<Deps, 'tables' | 'sleep' | 'ids'>) {
    this.runs = deps.tables.table('Runs');
    this.active = deps.tables.table('ActiveRuns');
    this.sweep = deps.tables.table('Sweep');
  }

  async get(trackId: string): Promise<TrackedRun | undefined> {
    const row = await this.runs.get(trackId, runRowKey(trackId));
    return row && runFromRow(row);
  }

  async trackIdOf(runId: string): Promise<string | undefined> {
    const row = await this.runs.get(runIdKey(runId), runRowKey(runIdKey(runId)));
    return row ? String(row.props.trackId) : undefined;
  }

  /** By ADF runId, or by trackId (for a run still Starting). */
  async find(id: string): Promise<TrackedRun | undefined> {
    const trackId = await this.trackIdOf(id);
    return this.get(trackId ?? id);
  }

  /** The run as a caller should see it: a live run's ADF status comes from the index, where the sweep keeps it. */
  async view(id: string): Promise<TrackedRun | undefined> {
    const run = await this.find(id);
    if (!run?.runId || isTerminalRun(run.status)) return run;
    const entry = await this.activeEntry(factoryKey(factoryOf(run.target)), run.trackId);
    return entry && entry.status !== 'Starting' ? { ...run, status: entry.status as TrackedRun['status'] } : run;
  }

  /** Claim: the active-index row first, so a crash never leaves a Starting run the sweep cannot see. */
  async insert(run: Omit<TrackedRun, 'etag'>): Promise<TrackedRun> {
    const f = factoryOf(run.target);
    // The index row first: a crash after the record must leave the claim where the sweep looks.
    let indexed: Row | undefined;
    try {
      indexed = await this.active.insert(factoryKey(f), run.trackId, activeProps(f, run.target.pipeline, { status: run.status, checkedAt: run.claimedAt }, run.claimedAt));
    } catch (e) {
      if (!(e instanceof Conflict)) throw e;
    }
    try {
      return runFromRow(await this.runs.insert(run.trackId, runRowKey(run.trackId), runToProps(run)));
    } catch (e) {
      // The trackId is taken (an idempotent retry). The row just added is an orphan unless it is that run's own
      // live index row: the run is settled, or lives in another factory (a key reused with another target).
      if (e instanceof Conflict && indexed) {
        const existing = await this.get(run.trackId);
        if (!existing || existing.settled || factoryKey(factoryOf(existing.target)) !== indexed.partitionKey)
          await this.active.delete(indexed.partitionKey, indexed.rowKey, indexed.etag).catch(ignore(Conflict, NotFound));
      }
      throw e;
    }
  }

  /** Conditional write of the run record (Conflict if someone changed it since it was read). */
  async save(run: TrackedRun): Promise<TrackedRun> {
    const row = await this.runs.update(run.trackId, runRowKey(run.trackId), runToProps(run), run.etag);
    return runFromRow(row);
  }

  /** Claims the ADF runId for this tracked run. Conflict if another tracked run owns it. */
  async indexRunId(runId: string, trackId: string): Promise<void> {
    try {
      await this.runs.insert(runIdKey(runId), runRowKey(runIdKey(runId)), { trackId });
    } catch (e) {
      if (!(e instanceof Conflict)) throw e;
      if ((await this.trackIdOf(runId)) !== trackId) throw e;
    }
  }

  /** Removes a claim ADF definitively refused (nothing was started). */
  async removeClaim(run: TrackedRun): Promise<void> {
    await this.runs.delete(run.trackId, runRowKey(run.trackId), run.etag).catch(ignore(NotFound));
    await this.deactivate(run);
  }

  // ---- the active index ------------------------------------------------------------------

  /** The whole index, a page at a time (the index holds live runs only, never history). */
  async *activePages(): AsyncIterable<ActiveEntry[]> {
    for await (const page of this.active.pages()) yield page.map(entryOf);
  }

  async activeEntry(key: string, trackId: string): Promise<ActiveEntry | undefined> {
    const row = await this.active.get(key, trackId);
    return row && entryOf(row);
  }

  /**
   * Writes patches to index rows, up to 100 per transaction (one partition per factory). A transaction that
   * loses to a concurrent writer falls back to row by row, each re-read once: the index is a mirror, and
   * the run record stays the truth, so a patch that still loses is simply left to the next pass.
   */
  async patchActive(patches: Array<{ entry: ActiveEntry; patch: ActivePatch }>): Promise<void> {
    const byKey = new Map<string, Array<{ entry: ActiveEntry; patch: ActivePatch }>>();
    for (const p of patches) byKey.set(p.entry.key, [...(byKey.get(p.entry.key) ?? []), p]);
    for (const [key, list] of byKey) {
      for (let i = 0; i < list.length; i += 100) {
        const chunk = list.slice(i, i + 100);
        const ops: TxOp[] = chunk.map(({ entry, patch }) => ({ kind: 'update', rowKey: entry.trackId, props: patchedProps(entry, patch), etag: entry.etag }));
        try {
          await this.active.transact(key, ops);
        } catch (e) {
          if (!(e instanceof Conflict) && !(e instanceof NotFound)) throw e;
          await mapLimit(chunk, 8, ({ entry, patch }) => this.patchOne(entry.key, entry.trackId, patch));
        }
      }
    }
  }

  /** Mirrors a run's runId and status into its index row (after a start, or a callback's observation). */
  async mirror(run: TrackedRun, checkedAt: string): Promise<void> {
    const runGroupId = run.recovery?.referencePipelineRunId ?? run.runId;
    await this.patchOne(factoryKey(factoryOf(run.target)), run.trackId, {
      status: run.status,
      checkedAt,
      ...(run.runId ? { runId: run.runId } : {}),
      ...(runGroupId ? { runGroupId } : {}),
    });
  }

  private async patchOne(key: string, trackId: string, patch: ActivePatch): Promise<void> {
    await retryOnConflict(
      this.deps,
      () => this.activeEntry(key, trackId),
      async (entry) => {
        if (entry) await this.active.update(key, trackId, patchedProps(entry, patch), entry.etag);
      },
      3,
    ).catch(ignore(Conflict, NotFound)); // the index is a mirror: a patch that still loses waits for the next pass
  }

  async deactivate(run: Pick<TrackedRun, 'target' | 'trackId'>): Promise<void> {
    const key = factoryKey(factoryOf(run.target));
    const row = await this.active.get(key, run.trackId);
    if (row) await this.active.delete(key, run.trackId, row.etag).catch(ignore(NotFound, Conflict));
  }

  /** Names the pipeline of an index row written before the index carried it. */
  async rename(entry: ActiveEntry, pipeline: string): Promise<void> {
    await this.active.update(entry.key, entry.trackId, patchedProps({ ...entry, pipeline }, { checkedAt: entry.checkedAt }), entry.etag).catch(ignore(NotFound, Conflict));
  }

  /** Drops an index row whose run record is gone (a claim removed between the two deletes). */
  async dropEntry(entry: ActiveEntry): Promise<void> {
    await this.active.delete(entry.key, entry.trackId, entry.etag).catch(ignore(NotFound, Conflict));
  }

  // ---- ARM's write budget, per subscription (runs/pacing.ts) ----------------------------------

  async writeBucket(key: string): Promise<(WriteBucket & { etag: string }) | undefined> {
    const row = await this.sweep.get(WRITE_BUCKET, key);
    if (!row) return undefined;
    const n = (k: string) => {
      const v = row.props[k];
      return typeof v === 'number' ? v : 0;
    };
    return { tokens: n('tokens'), at: n('at'), blockedUntil: n('blockedUntil'), etag: row.etag };
  }

  /** Conflict when another instance changed the bucket since `etag` was read (or created it first). */
  async saveWriteBucket(key: string, b: WriteBucket, etag: string | undefined): Promise<void> {
    const props = { tokens: b.tokens, at: b.at, blockedUntil: b.blockedUntil };
    if (etag) await this.sweep.update(WRITE_BUCKET, key, props, etag);
    else await this.sweep.insert(WRITE_BUCKET, key, props);
  }

  // ---- the change feed's watermark, per factory --------------------------------------------

  async watermark(key: string): Promise<{ at?: string; etag?: string }> {
    const row = await this.sweep.get(WATERMARK, key);
    return row ? { at: String(row.props.at), etag: row.etag } : {};
  }

  /** Moves the watermark; losing to a concurrent pass is fine (both read up to about the same time). */
  async saveWatermark(key: string, at: string, etag?: string): Promise<void> {
    const write = etag ? this.sweep.update(WATERMARK, key, { at }, etag) : this.sweep.insert(WATERMARK, key, { at });
    await write.catch(ignore(NotFound, Conflict));
  }
}

function activeProps(f: FactoryTarget, pipeline: string, patch: ActivePatch, claimedAt: string): Props {
  return {
    subscriptionId: f.subscriptionId,
    resourceGroup: f.resourceGroup,
    factory: f.factory,
    ...(f.tenantId ? { tenantId: f.tenantId } : {}),
    pipeline,
    status: patch.status ?? 'Starting',
    claimedAt,
    checkedAt: patch.checkedAt,
    ...(patch.runId ? { runId: patch.runId } : {}),
    ...(patch.runGroupId ? { runGroupId: patch.runGroupId } : {}),
  };
}

function patchedProps(e: ActiveEntry, patch: ActivePatch): Props {
  return activeProps(e.factory, e.pipeline, {
    status: patch.status ?? e.status,
    checkedAt: patch.checkedAt > e.checkedAt ? patch.checkedAt : e.checkedAt,
    ...((patch.runId ?? e.runId) ? { runId: patch.runId ?? e.runId } : {}),
    ...((patch.runGroupId ?? e.runGroupId) ? { runGroupId: patch.runGroupId ?? e.runGroupId } : {}),
  }, e.claimedAt);
}

function entryOf(row: Row): ActiveEntry {
  const p = row.props;
  const s = (k: string) => (typeof p[k] === 'string' ? p[k] : undefined);
  return {
    key: row.partitionKey,
    trackId: row.rowKey,
    factory: {
      subscriptionId: s('subscriptionId') ?? '',
      resourceGroup: s('resourceGroup') ?? '',
      factory: s('factory') ?? '',
      ...(s('tenantId') ? { tenantId: s('tenantId') } : {}),
    },
    pipeline: s('pipeline') ?? '',
    status: s('status') ?? 'Starting',
    ...(s('runId') ? { runId: s('runId') } : {}),
    ...(s('runGroupId') ? { runGroupId: s('runGroupId') } : {}),
    claimedAt: s('claimedAt') ?? '',
    checkedAt: s('checkedAt') ?? s('claimedAt') ?? '',
    etag: row.etag,
  };
}
