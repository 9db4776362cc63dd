import { Conflict, NotFound } from '../errors';
import { ignore } from '../retry';
import type { MailMessage, Row, Table, Tables } from '../ports';
import { joinChunks, parseJson, splitChunks } from '../util';

/** One side effect waiting for delivery. */
export interface Effect {
  /** Deterministic: the same outcome always gives the same id, so recording it twice is one effect. */
  id: string;
  kind: 'email';
  message: MailMessage;
  /** What it is about, for logs: `execution 0f3…`, `pause 9a1…` (never an address). */
  about: string;
  recordedAt: string;
  attempts: number;
  /** Not before this (backoff). */
  nextAt: string;
  /** The first send attempt: the `Repeatability-First-Sent` of every resend in the provider's window. */
  firstAttemptAt?: string;
  /** A delivery in flight holds the effect until then. */
  leaseUntil?: string;
  lastError?: string;
  etag: string;
}

/** How a delivered (or abandoned) effect is remembered. */
export interface Delivered {
  at: string;
  outcome: 'sent' | 'failed';
  providerId?: string;
}

const PARTITION = 'outbox';
const pendingKey = (id: string) => `p_${id}`;
const doneKey = (id: string) => `d_${id}`;
const MAX_MESSAGE_CHUNKS = 20;

/**
 * The durable outbox (`Outbox` table, one partition): `p_<id>` rows wait for delivery, `d_<id>` rows remember
 * what was delivered, so a late second recording of the same outcome sends nothing. Every change is conditional.
 */
export class OutboxStore {
  private readonly t: Table;
  constructor(tables: Tables) {
    this.t = tables.table('Outbox');
  }

  async delivered(id: string): Promise<Delivered | undefined> {
    const r = await this.t.get(PARTITION, doneKey(id));
    return r && { at: String(r.props.at), outcome: r.props.outcome === 'failed' ? 'failed' : 'sent', ...(r.props.providerId ? { providerId: String(r.props.providerId) } : {}) };
  }

  /** Adds the effect unless it is pending or delivered already. True when this call added it. */
  async add(e: Omit<Effect, 'etag' | 'attempts'>): Promise<boolean> {
    if (await this.delivered(e.id)) return false;
    const message = splitChunks('message', JSON.stringify(e.message), MAX_MESSAGE_CHUNKS);
    if (!message) throw new Error(`the ${e.kind} of ${e.about} is too large for the outbox`);
    try {
      await this.t.insert(PARTITION, pendingKey(e.id), { kind: e.kind, about: e.about, recordedAt: e.recordedAt, attempts: 0, nextAt: e.nextAt, ...message });
      return true;
    } catch (err) {
      if (err instanceof Conflict) return false;
      throw err;
    }
  }

  async get(id: string): Promise<Effect | undefined> {
    const r = await this.t.get(PARTITION, pendingKey(id));
    return r && effectFromRow(r);
  }

  /** Pending effects, oldest key first, at most `limit`. */
  async pending(limit: number): Promise<Effect[]> {
    return (await this.t.query(PARTITION, { from: 'p_', to: 'p`', limit })).map(effectFromRow);
  }

  /** Conditional update of a pending effect (claim, backoff). Conflict when someone else changed it first. */
  async save(e: Effect): Promise<Effect> {
    const { etag, id, message, ...rest } = e;
    const chunks = splitChunks('message', JSON.stringify(message), MAX_MESSAGE_CHUNKS) ?? {};
    const props: Record<string, string | number> = { ...chunks };
    for (const [k, v] of Object.entries(rest)) if (v !== undefined) props[k] = v;
    const r = await this.t.update(PARTITION, pendingKey(id), props, etag);
    return effectFromRow(r);
  }

  /** Remembers the delivery, then drops the pending row (a crash between leaves a row `finish` drops later). */
  async finish(e: Effect, done: Delivered): Promise<void> {
    await this.t.insert(PARTITION, doneKey(e.id), { ...done }).catch(ignore(Conflict));
    await this.t.delete(PARTITION, pendingKey(e.id), e.etag).catch(ignore(Conflict, NotFound));
  }

  /** Drops delivery records older than `cutoffIso`, at most `limit` (retention). */
  async purgeDelivered(cutoffIso: string, limit: number): Promise<number> {
    const rows = (await this.t.query(PARTITION, { from: 'd_', to: 'd`', limit: 1000 })).filter((r) => String(r.props.at) < cutoffIso).slice(0, limit);
    for (const r of rows) await this.t.delete(PARTITION, r.rowKey, r.etag).catch(ignore(Conflict, NotFound));
    return rows.length;
  }
}

function effectFromRow(r: Row): Effect {
  const p = r.props;
  return {
    id: r.rowKey.slice(2),
    kind: 'email',
    message: parseJson<MailMessage>(joinChunks('message', p), { to: [], subject: '', html: '', text: '' }),
    about: String(p.about ?? ''),
    recordedAt: String(p.recordedAt ?? ''),
    attempts: Number(p.attempts ?? 0),
    nextAt: String(p.nextAt ?? ''),
    ...(p.firstAttemptAt ? { firstAttemptAt: String(p.firstAttemptAt) } : {}),
    ...(p.leaseUntil ? { leaseUntil: String(p.leaseUntil) } : {}),
    ...(p.lastError ? { lastError: String(p.lastError) } : {}),
    etag: r.etag,
  };
}
