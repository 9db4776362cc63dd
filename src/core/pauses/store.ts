import type { Deps } from '../deps';
import { Conflict, NotFound } from '../errors';
import { ignore } from '../retry';
import { pauseNotFound } from './errors';
import type { Row, Table, Tables } from '../ports';
import { pauseFromRow, pauseRowKey, pauseToProps, tokenKey, type Pause } from './model';
import { hashToken, isWellFormedToken, tokenMatches } from './token';

/** Where the expiry sweep's cursor lives in the `Sweep` table. */
export const EXPIRY_CURSOR = { partitionKey: 'pause-expiry', rowKey: 'cursor' } as const;

/** Partition of `PauseExpiry` listing pauses whose decision is being carried out (for the sweep's recovery). */
export const DECIDING_PARTITION = 'deciding';

/** `YYYYMMDDHH` (UTC) of an ISO timestamp: the expiry index's hour bucket. */
export const hourOf = (isoTime: string) => isoTime.slice(0, 13).replace(/[-T]/g, '');
export const expiryPartition = (expiresAt: string) => `d_${hourOf(expiresAt)}`;
export const expiryRowKey = (expiresAt: string, pauseId: string) => `${expiresAt}_${pauseId}`;

/**
 * Data access for pauses.
 * - `Pauses`: the pause (PK pauseId, RK `pause`) and its token lookup row (PK `tok_<sha256>`, RK `token`).
 * - `PauseExpiry`: hour buckets of Waiting pauses by expiry (PK `d_YYYYMMDDHH`, RK `<expiresAt>_<pauseId>`),
 *   and the `deciding` partition. The sweep reads these, never the Pauses table as a whole.
 */
export class PauseStore {
  private readonly pauses: Table;
  private readonly index: Table;
  private readonly sweep: Table;
  constructor(tables: Tables) {
    this.pauses = tables.table('Pauses');
    this.index = tables.table('PauseExpiry');
    this.sweep = tables.table('Sweep');
  }

  /** Index rows of the pauses expiring in one hour bucket (`YYYYMMDDHH`), up to `untilIso`. */
  dueIn(hour: string, untilIso: string): Promise<Row[]> {
    return this.index.query(`d_${hour}`, { to: `${untilIso}~` });
  }

  /** Ids of the pauses in the expiry buckets of these hours (the dashboard's waiting approvals). */
  async expiringIn(hours: string[]): Promise<string[]> {
    const rows = await Promise.all(hours.map((h) => this.index.query(`d_${h}`)));
    return rows.flat().map((r) => String(r.props.pauseId));
  }

  /** Pauses whose decision is being carried out (the sweep finishes what a crash left). */
  deciding(): Promise<Row[]> {
    return this.index.query(DECIDING_PARTITION);
  }

  /** The hour bucket the expiry sweep has finished, or undefined before the first pause. */
  async expiryCursor(): Promise<{ hour: string; etag: string } | undefined> {
    const row = await this.sweep.get(EXPIRY_CURSOR.partitionKey, EXPIRY_CURSOR.rowKey);
    return row && { hour: String(row.props.hour), etag: row.etag };
  }

  /** The sweep reads expiry buckets from this cursor on; it must exist before the first pause can expire. */
  async ensureExpiryCursor(hour: string): Promise<void> {
    if (await this.expiryCursor()) return;
    await this.sweep.insert(EXPIRY_CURSOR.partitionKey, EXPIRY_CURSOR.rowKey, { hour }).catch(ignore(Conflict));
  }

  /** Moves the cursor on; Conflict (or NotFound) when another pass moved it first. Returns the new ETag. */
  async moveExpiryCursor(hour: string, etag: string): Promise<string> {
    return (await this.sweep.update(EXPIRY_CURSOR.partitionKey, EXPIRY_CURSOR.rowKey, { hour }, etag)).etag;
  }

  async get(pauseId: string): Promise<Pause | undefined> {
    const row = await this.pauses.get(pauseId, pauseRowKey(pauseId));
    return row && pauseFromRow(row);
  }

  /** The pause this token opens, or undefined. The stored hash is compared in constant time. */
  async byToken(token: string): Promise<Pause | undefined> {
    if (!isWellFormedToken(token)) return undefined;
    const lookup = await this.pauses.get(tokenKey(hashToken(token)), pauseRowKey(tokenKey(hashToken(token))));
    if (!lookup || typeof lookup.props.pauseId !== 'string') return undefined;
    const pause = await this.get(lookup.props.pauseId);
    return pause && tokenMatches(token, pause.tokenHash) ? pause : undefined;
  }

  /** Index first, then the pause, then the token: a crash in between leaves nothing the sweep cannot clean. */
  async create(pause: Omit<Pause, 'etag'>): Promise<Pause> {
    await this.index.insert(expiryPartition(pause.expiresAt), expiryRowKey(pause.expiresAt, pause.pauseId), { pauseId: pause.pauseId });
    const row = await this.pauses.insert(pause.pauseId, pauseRowKey(pause.pauseId), pauseToProps(pause));
    await this.pauses.insert(tokenKey(pause.tokenHash), pauseRowKey(tokenKey(pause.tokenHash)), { pauseId: pause.pauseId });
    return pauseFromRow(row);
  }

  /** Conditional write (Conflict when someone changed the pause since it was read). */
  async save(pause: Pause): Promise<Pause> {
    const row = await this.pauses.update(pause.pauseId, pauseRowKey(pause.pauseId), pauseToProps(pause), pause.etag);
    return pauseFromRow(row);
  }

  async markDeciding(pauseId: string, at: string): Promise<void> {
    await this.index.insert(DECIDING_PARTITION, pauseId, { at }).catch(ignore(Conflict));
  }

  async unmarkDeciding(pauseId: string): Promise<void> {
    const row = await this.index.get(DECIDING_PARTITION, pauseId);
    if (row) await this.deleteIndexRow(row);
  }

  async deleteIndexRow(row: Row): Promise<void> {
    await this.index.delete(row.partitionKey, row.rowKey, row.etag).catch(ignore(NotFound, Conflict));
  }
}

/** GetPause: the pause by its (non-secret) id. */
export async function getPause(deps: Deps, pauseId: string): Promise<Pause> {
  // Ids are ours (URL-safe); anything else is unknown, and never reaches Table Storage as a key.
  const pause = /^[A-Za-z0-9-]{1,100}$/.test(pauseId) ? await new PauseStore(deps.tables).get(pauseId) : undefined;
  if (!pause) throw pauseNotFound(pauseId);
  return pause;
}
