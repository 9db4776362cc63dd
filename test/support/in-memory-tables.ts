import { Conflict, NotFound } from '../../src/core/errors';
import { isTableKey, type Props, type RangeQuery, type Row, type Table, type TableName, type Tables, type TxOp } from '../../src/core/ports';
import { mustBeKeys } from '../../src/adapters/table-storage';

let etagSeq = 0;
const nextEtag = () => `W/"mem-${++etagSeq}"`;

/** In-memory double of one table: same conditional semantics as Table Storage (contract-tested). */
export class InMemoryTable implements Table {
  private readonly parts = new Map<string, Map<string, Row>>();
  constructor(readonly name: string) {}

  private part(pk: string): Map<string, Row> {
    let p = this.parts.get(pk);
    if (!p) this.parts.set(pk, (p = new Map()));
    return p;
  }
  private copy(r: Row): Row {
    return { ...r, props: { ...r.props } };
  }

  async get(pk: string, rk: string): Promise<Row | undefined> {
    await Promise.resolve();
    if (!isTableKey(pk) || !isTableKey(rk)) return undefined;
    const r = this.parts.get(pk)?.get(rk);
    return r && this.copy(r);
  }
  async insert(pk: string, rk: string, props: Props): Promise<Row> {
    await Promise.resolve();
    mustBeKeys(pk, rk);
    const p = this.part(pk);
    if (p.has(rk)) throw new Conflict('duplicate');
    const row = { partitionKey: pk, rowKey: rk, etag: nextEtag(), props: { ...props } };
    p.set(rk, row);
    return this.copy(row);
  }
  async update(pk: string, rk: string, props: Props, etag: string): Promise<Row> {
    await Promise.resolve();
    const cur = this.parts.get(pk)?.get(rk);
    if (!cur) throw new NotFound('missing');
    if (cur.etag !== etag) throw new Conflict('stale etag');
    const row = { partitionKey: pk, rowKey: rk, etag: nextEtag(), props: { ...props } };
    this.part(pk).set(rk, row);
    return this.copy(row);
  }
  async delete(pk: string, rk: string, etag: string): Promise<void> {
    await Promise.resolve();
    const cur = this.parts.get(pk)?.get(rk);
    if (!cur) throw new NotFound('missing');
    if (cur.etag !== etag) throw new Conflict('stale etag');
    this.part(pk).delete(rk);
  }
  async query(pk: string, range: RangeQuery = {}): Promise<Row[]> {
    await Promise.resolve();
    if (!isTableKey(pk)) return [];
    const rows = [...(this.parts.get(pk)?.values() ?? [])]
      .filter((r) => (range.from === undefined || r.rowKey >= range.from) && (range.to === undefined || r.rowKey < range.to))
      .sort((a, b) => (a.rowKey < b.rowKey ? -1 : a.rowKey > b.rowKey ? 1 : 0))
      .map((r) => this.copy(r));
    return range.limit === undefined ? rows : rows.slice(0, range.limit);
  }
  async scanAll(): Promise<Row[]> {
    await Promise.resolve();
    const keys = [...this.parts.keys()].sort();
    const out: Row[] = [];
    for (const k of keys) out.push(...(await this.query(k)));
    return out;
  }
  async *pages(): AsyncIterable<Row[]> {
    const all = await this.scanAll();
    for (let i = 0; i < all.length; i += 1000) yield all.slice(i, i + 1000);
  }
  async transact(pk: string, ops: TxOp[]): Promise<void> {
    await Promise.resolve();
    if (ops.length > 100) throw new Error('a transaction holds at most 100 operations');
    mustBeKeys(pk, ...ops.map((op) => op.rowKey));
    const p = this.part(pk);
    const seen = new Set<string>();
    for (const op of ops) {
      if (seen.has(op.rowKey)) throw new Error('an entity may appear once per transaction');
      seen.add(op.rowKey);
      const cur = p.get(op.rowKey);
      if (op.kind === 'insert' && cur) throw new Conflict('duplicate');
      if (op.kind === 'update' && (!cur || cur.etag !== op.etag)) throw cur ? new Conflict('stale etag') : new NotFound('missing');
    }
    for (const op of ops) p.set(op.rowKey, { partitionKey: pk, rowKey: op.rowKey, etag: nextEtag(), props: { ...op.props } });
  }
}

export class InMemoryTables implements Tables {
  private readonly tables = new Map<string, InMemoryTable>();
  table(name: TableName): Table {
    let t = this.tables.get(name);
    if (!t) this.tables.set(name, (t = new InMemoryTable(name)));
    return t;
  }
}
