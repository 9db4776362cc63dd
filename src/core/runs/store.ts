import { Conflict, NotFound } from '../errors';
import type { FactoryTarget, Props, Row, Table, Tables } from '../ports';
import { factoryKey, factoryOf, RUN_ROW, runFromRow, runIdKey, runToProps, type TrackedRun } from './model';

/** Data access for tracked runs: the run record, its runId index, and the active-runs index. */
export class RunStore {
  readonly runs: Table;
  readonly active: Table;
  /** ETags of active-index rows this store wrote or read: saves a read per touch (a stale one just costs the read). */
  private readonly activeEtags = new Map<string, string>();
  constructor(tables: Tables) {
    this.runs = tables.table('Runs');
    this.active = tables.table('ActiveRuns');
  }

  async get(trackId: string): Promise<TrackedRun | undefined> {
    const row = await this.runs.get(trackId, RUN_ROW);
    return row && runFromRow(row);
  }

  async trackIdOf(runId: string): Promise<string | undefined> {
    const row = await this.runs.get(runIdKey(runId), RUN_ROW);
    return row ? String(row.props.trackId) : undefined;
  }

  /** By ADF runId, or by trackId (for a run still Starting). */
  async find(id: string): Promise<TrackedRun | undefined> {
    const trackId = await this.trackIdOf(id);
    return this.get(trackId ?? id);
  }

  /** Claim: the active-index row first, so a crash never leaves a Starting run the sweep cannot see. */
  async insert(run: Omit<TrackedRun, 'etag'>): Promise<TrackedRun> {
    const f = factoryOf(run.target);
    try {
      const a = await this.active.insert(factoryKey(f), run.trackId, activeProps(f, run.status, run.claimedAt, run.claimedAt));
      this.activeEtags.set(run.trackId, a.etag);
    } catch (e) {
      if (!(e instanceof Conflict)) throw e;
    }
    const row = await this.runs.insert(run.trackId, RUN_ROW, runToProps(run));
    return runFromRow(row);
  }

  /** Conditional write of the run record (Conflict if someone changed it since it was read). */
  async save(run: TrackedRun): Promise<TrackedRun> {
    const row = await this.runs.update(run.trackId, RUN_ROW, runToProps(run), run.etag);
    return runFromRow(row);
  }

  /** Claims the ADF runId for this tracked run. Conflict if another tracked run owns it. */
  async indexRunId(runId: string, trackId: string): Promise<void> {
    try {
      await this.runs.insert(runIdKey(runId), RUN_ROW, { trackId });
    } catch (e) {
      if (!(e instanceof Conflict)) throw e;
      if ((await this.trackIdOf(runId)) !== trackId) throw e;
    }
  }

  /** Removes a claim ADF definitively refused (nothing was started). */
  async removeClaim(run: TrackedRun): Promise<void> {
    await this.runs.delete(run.trackId, RUN_ROW, run.etag).catch(ignoreMissing);
    const key = factoryKey(factoryOf(run.target));
    const a = await this.active.get(key, run.trackId);
    if (a) await this.active.delete(key, run.trackId, a.etag).catch(ignoreGone);
  }

  async activeRows(): Promise<Row[]> {
    const rows = await this.active.scanAll();
    for (const r of rows) this.activeEtags.set(r.rowKey, r.etag);
    return rows;
  }

  /** Mirrors status/runId into the active index (best effort: the run record is the truth). */
  async touchActive(run: TrackedRun, checkedAt: string): Promise<void> {
    const f = factoryOf(run.target);
    const key = factoryKey(f);
    const props = { ...activeProps(f, run.status, run.claimedAt, checkedAt), ...(run.runId ? { runId: run.runId } : {}) };
    for (let i = 0; i < 3; i++) {
      let etag = this.activeEtags.get(run.trackId);
      if (!etag) {
        const row = await this.active.get(key, run.trackId);
        if (!row) return;
        etag = row.etag;
      }
      try {
        const saved = await this.active.update(key, run.trackId, props, etag);
        this.activeEtags.set(run.trackId, saved.etag);
        return;
      } catch (e) {
        this.activeEtags.delete(run.trackId);
        if (!(e instanceof Conflict) && !(e instanceof NotFound)) throw e;
      }
    }
  }

  async deactivate(run: TrackedRun): Promise<void> {
    const key = factoryKey(factoryOf(run.target));
    const row = await this.active.get(key, run.trackId);
    if (row) await this.active.delete(key, run.trackId, row.etag).catch(ignoreGone);
  }
}

function activeProps(f: FactoryTarget, status: string, claimedAt: string, checkedAt: string): Props {
  return {
    subscriptionId: f.subscriptionId,
    resourceGroup: f.resourceGroup,
    factory: f.factory,
    ...(f.tenantId ? { tenantId: f.tenantId } : {}),
    status,
    claimedAt,
    checkedAt,
  };
}

export function activeFactory(row: Row): FactoryTarget {
  const p = row.props;
  return {
    subscriptionId: String(p.subscriptionId),
    resourceGroup: String(p.resourceGroup),
    factory: String(p.factory),
    ...(typeof p.tenantId === 'string' ? { tenantId: p.tenantId } : {}),
  };
}

const ignoreMissing = (e: unknown) => {
  if (!(e instanceof NotFound)) throw e;
};
const ignoreGone = (e: unknown) => {
  if (!(e instanceof NotFound) && !(e instanceof Conflict)) throw e;
};
