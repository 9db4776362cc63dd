import { Conflict, NotFound } from '../errors';
import { ignore } from '../retry';
import type { MailMessage, Props, Row, Table, Tables } from '../ports';
import { joinChunks, parseJson, splitChunks } from '../util';

/** What a Webhook activity's callback carries (ADF's reportStatusOnCallBack body). */
export interface CallbackBody {
  StatusCode: string;
  Output?: Record<string, unknown>;
  Error?: { ErrorCode: string; Message: string };
}

/** Who decides a callback's outcome: the area and the id of the pause, execution, job or run. */
export interface CallbackOwner {
  area: 'pause' | 'execution' | 'job' | 'run';
  id: string;
}

interface Common {
  /** Deterministic: the same outcome (or caller) always gives the same id, so recording it twice is one effect. */
  id: string;
  /** What it is about, for logs: `execution 0f3…`, `pause 9a1…` (never an address or a URI). */
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

export interface EmailEffect extends Common {
  kind: 'email';
  /** Absent while an alert watch waits for its owner's outcome (see `watchAlert`). */
  message?: MailMessage;
  /** An alert watch's owner: the pause or job whose outcome the email is about. */
  owner?: CallbackOwner;
}

/** A Webhook activity waiting: its `callBackUri` (a bearer secret, kept only here), and once known, the body. */
export interface CallbackEffect extends Common {
  kind: 'callback';
  uri: string;
  owner: CallbackOwner;
  /** The Webhook activity's own timeout: delivery stops then. */
  expiresAt: string;
  body?: CallbackBody;
}

export type Effect = EmailEffect | CallbackEffect;
export type NewEffect = Omit<EmailEffect, 'etag' | 'attempts'> | Omit<CallbackEffect, 'etag' | 'attempts'>;

/** How a delivered (or abandoned) effect is remembered. Never its message or URI. */
export interface Delivered {
  at: string;
  /** `skipped`: an alert watch whose owner's outcome nobody subscribes to. */
  outcome: 'sent' | 'failed' | 'expired' | 'skipped';
  attempts?: number;
  providerId?: string;
  lastError?: string;
}

const PARTITION = 'outbox';
/** Alert watches wait (for days, maybe) in a partition of their own, so they never crowd out due deliveries. */
const WATCHES = 'watch';
export const WATCH_PREFIX = 'al_';
const partitionOf = (id: string) => (id.startsWith(WATCH_PREFIX) ? WATCHES : PARTITION);
const pendingKey = (id: string) => `p_${id}`;
const doneKey = (id: string) => `d_${id}`;
const MAX_CHUNKS = 20;

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
    const r = await this.t.get(partitionOf(id), doneKey(id));
    return r && deliveredFromRow(r);
  }

  /** Adds the effect unless it is pending or delivered already. True when this call added it. */
  async add(e: NewEffect): Promise<boolean> {
    if (await this.delivered(e.id)) return false;
    try {
      await this.t.insert(partitionOf(e.id), pendingKey(e.id), toProps({ ...e, attempts: 0 }));
      return true;
    } catch (err) {
      if (err instanceof Conflict) return false;
      throw err;
    }
  }

  async get(id: string): Promise<Effect | undefined> {
    const r = await this.t.get(partitionOf(id), pendingKey(id));
    return r && effectFromRow(r);
  }

  /** Pending effects in key order, at most `limit`, after the effect `after` when given (alert watches apart: `watches`). */
  async pending(limit: number, after?: string): Promise<Effect[]> {
    return this.page(PARTITION, limit, after);
  }

  /** Alert watches waiting for their owner's outcome, in key order, at most `limit`, after `after` when given. */
  async watches(limit: number, after?: string): Promise<Effect[]> {
    return this.page(WATCHES, limit, after);
  }

  private async page(partition: string, limit: number, after?: string): Promise<Effect[]> {
    const from = after === undefined ? 'p_' : pendingKey(after);
    const rows = await this.t.query(partition, { from, to: 'p`', limit: after === undefined ? limit : limit + 1 });
    return rows.filter((r) => r.rowKey !== (after === undefined ? '' : from)).slice(0, limit).map(effectFromRow);
  }

  /** Pending effects whose id starts with `prefix` (an owner's waiting callbacks): one range read. */
  async pendingWithPrefix(prefix: string): Promise<Effect[]> {
    return (await this.t.query(PARTITION, { from: pendingKey(prefix), to: `${pendingKey(prefix)}~` })).map(effectFromRow);
  }

  /** Pending and delivered effects whose id starts with `prefix` (an owner's callbacks). */
  async withPrefix(prefix: string): Promise<{ pending: Effect[]; delivered: Delivered[] }> {
    const [p, d] = await Promise.all([this.t.query(PARTITION, { from: pendingKey(prefix), to: `${pendingKey(prefix)}~` }), this.t.query(PARTITION, { from: doneKey(prefix), to: `${doneKey(prefix)}~` })]);
    return { pending: p.map(effectFromRow), delivered: d.map(deliveredFromRow) };
  }

  /** Conditional update of a pending effect (claim, backoff). Conflict when someone else changed it first. */
  async save(e: Effect): Promise<Effect> {
    return effectFromRow(await this.t.update(partitionOf(e.id), pendingKey(e.id), toProps(e), e.etag));
  }

  /** Remembers the delivery, then drops the pending row, and with it any secret (a crash between: `finish` again). */
  async finish(e: Effect, done: Delivered): Promise<void> {
    const record: Props = { at: done.at, outcome: done.outcome };
    if (done.attempts !== undefined) record.attempts = done.attempts;
    if (done.providerId) record.providerId = done.providerId;
    if (done.lastError) record.lastError = done.lastError;
    await this.t.insert(partitionOf(e.id), doneKey(e.id), record).catch(ignore(Conflict));
    await this.t.delete(partitionOf(e.id), pendingKey(e.id), e.etag).catch(ignore(Conflict, NotFound));
  }

  /** Drops delivery records older than `cutoffIso`, at most `limit` (retention). */
  async purgeDelivered(cutoffIso: string, limit: number): Promise<number> {
    let purged = 0;
    for (const pk of [PARTITION, WATCHES]) {
      const rows = (await this.t.query(pk, { from: 'd_', to: 'd`', limit: 1000 })).filter((r) => String(r.props.at) < cutoffIso).slice(0, limit);
      for (const r of rows) await this.t.delete(pk, r.rowKey, r.etag).catch(ignore(Conflict, NotFound));
      purged += rows.length;
    }
    return purged;
  }
}

type Unsaved = Omit<EmailEffect, 'etag'> | Omit<CallbackEffect, 'etag'>;

function toProps(e: Unsaved): Props {
  const props: Props = { kind: e.kind, about: e.about, recordedAt: e.recordedAt, attempts: e.attempts, nextAt: e.nextAt };
  if (e.firstAttemptAt) props.firstAttemptAt = e.firstAttemptAt;
  if (e.leaseUntil) props.leaseUntil = e.leaseUntil;
  if (e.lastError) props.lastError = e.lastError;
  if (e.kind === 'email') {
    if (e.owner) Object.assign(props, { ownerArea: e.owner.area, ownerId: e.owner.id });
    return e.message ? { ...props, ...chunks('message', e.message, e.about) } : props;
  }
  Object.assign(props, { uri: e.uri, ownerArea: e.owner.area, ownerId: e.owner.id, expiresAt: e.expiresAt });
  return e.body ? { ...props, ...chunks('body', e.body, e.about) } : props;
}

function chunks(name: string, value: unknown, about: string): Props {
  const out = splitChunks(name, JSON.stringify(value), MAX_CHUNKS);
  if (!out) throw new Error(`the ${name} of ${about} is too large for the outbox`);
  return out;
}

function effectFromRow(r: Row): Effect {
  const p = r.props;
  const common = {
    id: r.rowKey.slice(2),
    about: String(p.about ?? ''),
    recordedAt: String(p.recordedAt ?? ''),
    attempts: Number(p.attempts ?? 0),
    nextAt: String(p.nextAt ?? ''),
    ...(p.firstAttemptAt ? { firstAttemptAt: String(p.firstAttemptAt) } : {}),
    ...(p.leaseUntil ? { leaseUntil: String(p.leaseUntil) } : {}),
    ...(p.lastError ? { lastError: String(p.lastError) } : {}),
    etag: r.etag,
  };
  if (p.kind === 'callback') {
    const body = joinChunks('body', p);
    return {
      ...common,
      kind: 'callback',
      uri: String(p.uri ?? ''),
      owner: { area: String(p.ownerArea) as CallbackOwner['area'], id: String(p.ownerId ?? '') },
      expiresAt: String(p.expiresAt ?? ''),
      ...(body ? { body: parseJson<CallbackBody>(body, { StatusCode: '500' }) } : {}),
    };
  }
  const message = joinChunks('message', p);
  return {
    ...common,
    kind: 'email',
    ...(message ? { message: parseJson<MailMessage>(message, { to: [], subject: '', html: '', text: '' }) } : {}),
    ...(p.ownerArea ? { owner: { area: String(p.ownerArea) as CallbackOwner['area'], id: String(p.ownerId ?? '') } } : {}),
  };
}

function deliveredFromRow(r: Row): Delivered {
  const p = r.props;
  const outcome = p.outcome === 'failed' || p.outcome === 'expired' || p.outcome === 'skipped' ? p.outcome : 'sent';
  return {
    at: String(p.at),
    outcome,
    ...(p.attempts !== undefined ? { attempts: Number(p.attempts) } : {}),
    ...(p.providerId ? { providerId: String(p.providerId) } : {}),
    ...(p.lastError ? { lastError: String(p.lastError) } : {}),
  };
}
