import type { Deps } from '../deps';
import { Conflict, NotFound } from '../errors';
import { ignore } from '../retry';
import type { Table, TxOp } from '../ports';
import { iso } from '../util';
import { executionFromRow, executionToProps, HEAD, workerFromRow, workerKey, workerToProps, type Execution, type Worker } from './model';

const LIST_ALL = 'list_all';
const listKey = (batchPk: string) => `list_${batchPk}`;
/** Newest first: RowKeys sort ascending, so invert the start time. */
export const newestFirstKey = (startedAt: string, id: string) => `${String(9_999_999_999_999 - new Date(startedAt).getTime()).padStart(13, '0')}_${id}`;

export interface Loaded {
  execution: Execution;
  workers: Worker[];
  /** Waiting workers' places in their queues (shared limits), when asked for. */
  positions?: Record<string, number>;
}

/** A batch's lock: which execution holds it, and how that execution ended. */
export interface BatchLock {
  executionId: string;
  status: string;
  at: string;
  etag: string;
}

/** Data access for executions: one partition per execution (head + workers), plus small indexes. */
export class ExecutionStore {
  private readonly t: Table;
  private readonly active: Table;
  constructor(private readonly deps: Pick<Deps, 'tables' | 'clock'>) {
    this.t = deps.tables.table('Executions');
    this.active = deps.tables.table('ActiveExecutions');
  }

  async batchLock(batch: string | null): Promise<BatchLock | undefined> {
    const r = await this.t.get(batchPk(batch), 'lock');
    return r && { executionId: String(r.props.executionId), status: String(r.props.status), at: String(r.props.at), etag: r.etag };
  }

  /** Takes the batch's lock for a running execution. Conflict when someone else took or changed it first. */
  async takeBatchLock(batch: string | null, executionId: string, current: BatchLock | undefined): Promise<void> {
    const props = { executionId, status: 'Running', at: iso(this.deps.clock.now()) };
    if (current) await this.t.update(batchPk(batch), 'lock', props, current.etag);
    else await this.t.insert(batchPk(batch), 'lock', props);
  }

  /** Records the execution's final status on its batch lock (if the lock is still this execution's). */
  async releaseBatchLock(e: Execution): Promise<void> {
    const lock = await this.batchLock(e.batch);
    if (lock && lock.executionId === e.executionId)
      await this.t.update(batchPk(e.batch), 'lock', { executionId: lock.executionId, status: e.status, at: lock.at }, lock.etag).catch(ignore(Conflict, NotFound));
  }

  async worker(executionId: string, key: string): Promise<Worker | undefined> {
    const r = await this.t.get(executionId, key);
    return r && workerFromRow(r);
  }

  async load(executionId: string): Promise<Loaded | undefined> {
    const rows = await this.t.query(executionId);
    const head = rows.find((r) => r.rowKey === HEAD);
    if (!head) return undefined;
    const workers = rows.filter((r) => r.rowKey.startsWith('w_')).map(workerFromRow);
    workers.sort((a, b) => a.stageIndex - b.stageIndex || a.order - b.order);
    return { execution: executionFromRow(head), workers };
  }

  async head(executionId: string): Promise<Execution | undefined> {
    const r = await this.t.get(executionId, HEAD);
    return r && executionFromRow(r);
  }

  /** Workers and list entries first, head last: an execution without its head is invisible and harmless. */
  async create(e: Omit<Execution, 'etag'>, workers: Array<Omit<Worker, 'etag'>>, opts: { holdingBatchLock?: boolean } = {}): Promise<void> {
    const ops: TxOp[] = workers.map((w) => ({ kind: 'insert', rowKey: workerKey(w.stageIndex, w.name), props: workerToProps(w) }));
    for (let i = 0; i < ops.length; i += 100) await this.t.transact(e.executionId, ops.slice(i, i + 100));
    // A start slower than the orphan-lock window may have lost its batch lock to another: it must not run too.
    // The list entries before the head too: a crash after the head must not leave a running execution unlisted.
    const idx = { executionId: e.executionId, batch: e.batch ?? '' };
    const rk = newestFirstKey(e.startedAt, e.executionId);
    await this.t.insert(LIST_ALL, rk, idx).catch(ignore(Conflict, NotFound));
    await this.t.insert(listKey(batchPk(e.batch)), rk, idx).catch(ignore(Conflict, NotFound));
    if (opts.holdingBatchLock && (await this.batchLock(e.batch))?.executionId !== e.executionId) throw new Conflict('the batch lock was taken over');
    await this.t.insert(e.executionId, HEAD, executionToProps(e));
  }

  async saveHead(e: Execution): Promise<Execution> {
    const r = await this.t.update(e.executionId, HEAD, executionToProps(e), e.etag);
    return executionFromRow(r);
  }

  async saveWorker(executionId: string, w: Worker): Promise<Worker> {
    const r = await this.t.update(executionId, workerKey(w.stageIndex, w.name), workerToProps(w), w.etag);
    return workerFromRow(r);
  }

  /** Several worker changes (and optionally the head) at once, in transactions of ≤100. */
  async saveMany(executionId: string, workers: Worker[], head?: Execution): Promise<void> {
    const ops: TxOp[] = workers.map((w) => ({ kind: 'update', rowKey: workerKey(w.stageIndex, w.name), props: workerToProps(w), etag: w.etag }));
    if (head) ops.push({ kind: 'update', rowKey: HEAD, props: executionToProps(head), etag: head.etag });
    // The head rides in the last chunk, so it is written only if every worker chunk before it was.
    for (let i = 0; i < ops.length; i += 100) await this.t.transact(executionId, ops.slice(i, i + 100));
  }

  async markActive(executionId: string): Promise<void> {
    await this.active.insert('active', executionId, { at: iso(this.deps.clock.now()) }).catch(ignore(Conflict, NotFound));
  }
  async unmarkActive(executionId: string): Promise<void> {
    const r = await this.active.get('active', executionId);
    if (r) await this.active.delete('active', executionId, r.etag).catch(ignore(Conflict, NotFound));
  }
  /** Drops the active mark if it was made before `cutoffIso` (an execution whose start never wrote its head). */
  async unmarkActiveBefore(executionId: string, cutoffIso: string): Promise<void> {
    const r = await this.active.get('active', executionId);
    if (r && String(r.props.at) < cutoffIso) await this.active.delete('active', executionId, r.etag).catch(ignore(Conflict, NotFound));
  }
  async activeIds(): Promise<string[]> {
    return (await this.active.query('active')).map((r) => r.rowKey);
  }

  /** Ids, newest first, optionally of one batch. */
  async listIds(batch: string | null | undefined, limit: number): Promise<string[]> {
    const pk = batch === undefined ? LIST_ALL : listKey(batchPk(batch));
    return (await this.t.query(pk, { limit })).map((r) => String(r.props.executionId));
  }

  /** Retention: up to `limit` finished executions that started before `cutoff` are deleted, rows and list entries. */
  async purge(cutoff: string, limit: number): Promise<string[]> {
    const purged: string[] = [];
    for (const idx of await this.t.query(LIST_ALL, { from: newestFirstKey(cutoff, ''), limit })) {
      const id = String(idx.props.executionId);
      const head = await this.head(id);
      if (head?.status === 'Running') continue;
      for (const r of await this.t.query(id)) await this.t.delete(id, r.rowKey, r.etag).catch(ignore(Conflict, NotFound));
      const batchList = listKey(batchPk(head?.batch ?? (idx.props.batch ? String(idx.props.batch) : null)));
      const twin = await this.t.get(batchList, idx.rowKey);
      if (twin) await this.t.delete(batchList, idx.rowKey, twin.etag).catch(ignore(Conflict, NotFound));
      await this.t.delete(idx.partitionKey, idx.rowKey, idx.etag).catch(ignore(Conflict, NotFound));
      purged.push(id);
    }
    return purged;
  }
}

export const batchPk = (batch: string | null) => (batch === null ? 'batch__all' : `batch_b_${batch}`);
