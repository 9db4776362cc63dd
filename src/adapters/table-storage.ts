import { RestError, TableClient, TableServiceClient, odata, type TableEntity, type TableServiceClientOptions, type TransactionAction } from '@azure/data-tables';
import type { TokenCredential } from '@azure/core-auth';
import { Conflict, NotFound, StorageUnavailable, Throttled } from '../core/errors';
import { retryAfterOf } from './http-errors';
import { isTableKey, type Props, type RangeQuery, type Row, type Table, type TableName, type Tables, type TxOp } from '../core/ports';

/** Where the tables live: a connection string (Azurite, keys) or an endpoint URL plus a credential. */
export type StorageTarget = { connectionString: string } | { endpoint: string; credential: TokenCredential };

const META = new Set(['partitionKey', 'rowKey', 'etag', 'timestamp', 'odata.etag', 'odata.metadata']);

function toProps(entity: Record<string, unknown>): Props {
  const props: Props = {};
  for (const [k, v] of Object.entries(entity)) {
    if (META.has(k)) continue;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') props[k] = v;
  }
  return props;
}

/** Translates the SDK's status codes at the boundary, as data-tables' own errorHelpers do. */
export function mapStorageError(e: unknown): Error {
  if (e instanceof RestError || (e && typeof e === 'object' && 'statusCode' in e)) {
    const status = (e as RestError).statusCode;
    if (status === 404) return new NotFound('entity or table not found');
    if (status === 409 || status === 412) return new Conflict(`storage conflict (${status})`);
    if (status === 429) return new Throttled(retryAfterOf(e) || 1, 'storage throttled');
    if (status === undefined || status >= 500) return new StorageUnavailable(`storage unavailable (${status ?? 'network'})`, retryAfterOf(e) || 1);
  }
  return e instanceof Error ? e : new Error(String(e));
}

/**
 * U+2028 and U+2029 travel as JSON escapes. Raw, they break Azurite's transaction parser (it answers 500 to
 * that batch, commits part of it, and then to every later batch until restarted); escaped, every service
 * reads the same string. Only JSON string values can hold them, so the rewrite never changes a value.
 */
type Policy = NonNullable<TableServiceClientOptions['additionalPolicies']>[number];
const escapeLineSeparators: Policy = {
  position: 'perCall',
  policy: {
    name: 'escapeLineSeparators',
    sendRequest: (request, next) => {
      if (typeof request.body === 'string' && /[\u2028\u2029]/.test(request.body)) request.body = request.body.replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
      return next(request);
    },
  },
};

/** A key Table Storage cannot hold is a bug of ours (ids are validated first): never sent. */
export function mustBeKeys(...keys: string[]): void {
  for (const k of keys) if (!isTableKey(k)) throw new Error(`not a valid table key (${k.length} characters)`);
}

/** One table on Azure Table Storage / Azurite. Every write is conditional. */
export class TableStorageTable implements Table {
  private ready: Promise<void> | undefined;
  constructor(
    readonly name: string,
    private readonly client: TableClient,
  ) {}

  private ensure(): Promise<void> {
    this.ready ??= this.client.createTable().catch((e: unknown) => {
      this.ready = undefined;
      throw mapStorageError(e);
    });
    return this.ready;
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    await this.ensure();
    try {
      return await fn();
    } catch (e) {
      throw mapStorageError(e);
    }
  }

  async get(partitionKey: string, rowKey: string): Promise<Row | undefined> {
    if (!isTableKey(partitionKey) || !isTableKey(rowKey)) return undefined;
    try {
      const e = await this.call(() => this.client.getEntity<Record<string, unknown>>(partitionKey, rowKey));
      return { partitionKey, rowKey, etag: String(e.etag), props: toProps(e) };
    } catch (e) {
      if (e instanceof NotFound) return undefined;
      throw e;
    }
  }

  async insert(partitionKey: string, rowKey: string, props: Props): Promise<Row> {
    mustBeKeys(partitionKey, rowKey);
    const res = await this.call(() => this.client.createEntity({ partitionKey, rowKey, ...props }));
    return { partitionKey, rowKey, etag: String(res.etag), props };
  }

  async update(partitionKey: string, rowKey: string, props: Props, etag: string): Promise<Row> {
    if (!etag || etag === '*') throw new Error('update needs the ETag that was read');
    mustBeKeys(partitionKey, rowKey);
    const res = await this.call(() => this.client.updateEntity({ partitionKey, rowKey, ...props }, 'Replace', { etag }));
    return { partitionKey, rowKey, etag: String(res.etag), props };
  }

  async delete(partitionKey: string, rowKey: string, etag: string): Promise<void> {
    if (!etag || etag === '*') throw new Error('delete needs the ETag that was read');
    mustBeKeys(partitionKey, rowKey);
    await this.call(() => this.client.deleteEntity(partitionKey, rowKey, { etag }));
  }

  async query(partitionKey: string, range: RangeQuery = {}): Promise<Row[]> {
    if (!isTableKey(partitionKey)) return [];
    let filter = odata`PartitionKey eq ${partitionKey}`;
    if (range.from !== undefined) filter += ` and ${odata`RowKey ge ${range.from}`}`;
    if (range.to !== undefined) filter += ` and ${odata`RowKey lt ${range.to}`}`;
    return this.list(filter, range.limit);
  }

  scanAll(): Promise<Row[]> {
    return this.list(undefined);
  }

  async *pages(): AsyncIterable<Row[]> {
    await this.ensure();
    const iter = this.client.listEntities<Record<string, unknown>>().byPage({ maxPageSize: 1000 });
    for (;;) {
      let next;
      try {
        next = await iter.next();
      } catch (e) {
        throw mapStorageError(e);
      }
      if (next.done) return;
      yield next.value.map((e) => ({ partitionKey: String(e.partitionKey), rowKey: String(e.rowKey), etag: String(e.etag), props: toProps(e) }));
    }
  }

  private list(filter: string | undefined, limit?: number): Promise<Row[]> {
    return this.call(async () => {
      const rows: Row[] = [];
      const iter = this.client.listEntities<Record<string, unknown>>(filter ? { queryOptions: { filter } } : {});
      for await (const e of iter) {
        rows.push({ partitionKey: String(e.partitionKey), rowKey: String(e.rowKey), etag: String(e.etag), props: toProps(e) });
        if (limit !== undefined && rows.length >= limit) break;
      }
      return rows;
    });
  }

  async transact(partitionKey: string, ops: TxOp[]): Promise<void> {
    if (ops.length === 0) return;
    if (ops.length > 100) throw new Error('a transaction holds at most 100 operations');
    mustBeKeys(partitionKey, ...ops.map((op) => op.rowKey));
    const actions: TransactionAction[] = ops.map((op) => {
      const entity: TableEntity = { partitionKey, rowKey: op.rowKey, ...op.props };
      return op.kind === 'insert' ? ['create', entity] : ['update', entity, 'Replace', { etag: op.etag }];
    });
    await this.call(() => this.client.submitTransaction(actions));
  }
}

export class TableStorageTables implements Tables {
  private readonly cache = new Map<string, TableStorageTable>();
  constructor(
    private readonly target: StorageTarget,
    private readonly prefix: string,
  ) {}

  table(name: TableName): Table {
    const full = `${this.prefix}${name}`;
    let t = this.cache.get(full);
    if (!t) {
      const client =
        'connectionString' in this.target
          ? TableClient.fromConnectionString(this.target.connectionString, full, { allowInsecureConnection: true, additionalPolicies: [escapeLineSeparators] })
          : new TableClient(this.target.endpoint, full, this.target.credential, { additionalPolicies: [escapeLineSeparators] });
      t = new TableStorageTable(full, client);
      this.cache.set(full, t);
    }
    return t;
  }

  /** Lists every table with this prefix (used by tests and the retention clean-up). */
  async tableNames(): Promise<string[]> {
    const svc =
      'connectionString' in this.target
        ? TableServiceClient.fromConnectionString(this.target.connectionString, { allowInsecureConnection: true })
        : new TableServiceClient(this.target.endpoint, this.target.credential);
    const names: string[] = [];
    for await (const t of svc.listTables()) if (t.name?.startsWith(this.prefix)) names.push(t.name);
    return names;
  }
}
