import { Conflict, NotFound } from '../errors';
import type { Row, Table, Tables, TxOp } from '../ports';
import { ignore, retryOnConflict, type RetryDeps } from '../retry';
import { emptyHead, HEAD_ROW, headFromRow, headToProps, JOB_ROWS_END, jobFromRow, jobRowKey, jobToProps, keyRowKey, queuePartition, type Head, type Job } from './model';

const ACTIVE_PK = 'queues';
const PAGE = 100;

/** Data access for queues: the head and job rows of a queue's partition, and the active-queues index. */
export class QueueStore {
  private readonly queues: Table;
  private readonly active: Table;
  constructor(tables: Tables) {
    this.queues = tables.table('Queues');
    this.active = tables.table('ActiveQueues');
  }

  /** The head, or an empty one (without ETag) if the queue was never used. */
  async head(queue: string, capacity = 1): Promise<Head> {
    const row = await this.queues.get(queuePartition(queue), HEAD_ROW);
    return row ? headFromRow(queue, row) : emptyHead(queue, capacity);
  }

  async job(queue: string, seq: number): Promise<Job | undefined> {
    const row = await this.queues.get(queuePartition(queue), jobRowKey(seq));
    return row && jobFromRow(queue, row);
  }

  /** Job rows with `seq >= from`, in submission order, page by page, while `visit` returns true. */
  async scanFrom(queue: string, from: number, visit: (job: Job) => boolean): Promise<void> {
    let start = from;
    for (;;) {
      const rows = await this.queues.query(queuePartition(queue), { from: jobRowKey(start), to: JOB_ROWS_END, limit: PAGE });
      const jobs = rows.map((r) => jobFromRow(queue, r));
      for (const j of jobs) if (!visit(j)) return;
      const last = jobs[jobs.length - 1];
      if (rows.length < PAGE || !last) return;
      start = last.seq + 1;
    }
  }

  /** PENDING jobs in submission order (they all sit at or after `head.next`). */
  async waiting(head: Head, limit = Number.MAX_SAFE_INTEGER): Promise<Job[]> {
    const out: Job[] = [];
    if (head.pending <= 0) return out;
    await this.scanFrom(head.queue, head.next, (j) => {
      if (j.status === 'PENDING') out.push(j);
      return out.length < Math.min(limit, head.pending);
    });
    return out;
  }

  /**
   * One all-or-nothing write of the head plus job rows. Conflict if the head or any job changed since
   * it was read (or if an inserted job already exists): the caller re-reads and re-decides.
   */
  async commit(head: Head, jobs: Job[], inserted?: Job, key?: string): Promise<void> {
    const ops: TxOp[] = [
      head.etag ? { kind: 'update', rowKey: HEAD_ROW, props: headToProps(head), etag: head.etag } : { kind: 'insert', rowKey: HEAD_ROW, props: headToProps(head) },
      ...jobs.map((j): TxOp => ({ kind: 'update', rowKey: jobRowKey(j.seq), props: jobToProps(j), etag: j.etag })),
      ...(inserted ? [{ kind: 'insert' as const, rowKey: jobRowKey(inserted.seq), props: jobToProps(inserted) }] : []),
      // In the same transaction as the job: a second enqueue with this key conflicts, re-reads and finds it.
      ...(inserted && key ? [{ kind: 'insert' as const, rowKey: keyRowKey(key), props: { seq: inserted.seq } }] : []),
    ];
    await this.queues.transact(queuePartition(head.queue), ops);
  }

  /** The job an idempotency key created, if any. */
  async keyed(queue: string, key: string): Promise<Job | undefined> {
    const row = await this.queues.get(queuePartition(queue), keyRowKey(key));
    return row ? this.job(queue, Number(row.props.seq)) : undefined;
  }

  /** A job-only conditional write, for changes that are not status changes (e.g. recording the runId). */
  async saveJob(job: Job): Promise<Job> {
    return jobFromRow(job.queue, await this.queues.update(queuePartition(job.queue), jobRowKey(job.seq), jobToProps(job), job.etag));
  }

  // ---- active-queues index: the sweep visits only queues with PENDING or RUNNING jobs ----

  /** Makes sure the queue is marked active (before it gets work, so a crash never hides work). */
  async ensureActive(queue: string): Promise<void> {
    await this.active.insert(ACTIVE_PK, queue, { queue }).catch(ignore(Conflict));
  }

  /**
   * Rewrites the marker (after work was added), changing its ETag: a sweep that read the head before
   * this enqueue and decided the queue was idle then fails to delete the marker.
   */
  async touchActive(deps: RetryDeps, queue: string): Promise<void> {
    await retryOnConflict(
      deps,
      () => this.active.get(ACTIVE_PK, queue),
      async (row) => {
        try {
          if (row) await this.active.update(ACTIVE_PK, queue, { queue }, row.etag);
          else await this.active.insert(ACTIVE_PK, queue, { queue });
        } catch (e) {
          throw e instanceof NotFound ? new Conflict('marker retired meanwhile') : e;
        }
      },
    ).catch(ignore(Conflict));
  }

  async activeMarkers(): Promise<Row[]> {
    return this.active.scanAll();
  }

  /** Drops the marker read (with its ETag) before the head was found idle; a concurrent enqueue wins. */
  async retire(marker: Row): Promise<void> {
    await this.active.delete(ACTIVE_PK, marker.rowKey, marker.etag).catch(ignore(Conflict, NotFound));
  }
}

