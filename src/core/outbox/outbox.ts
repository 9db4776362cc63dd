/**
 * Side effects exactly once: alert emails and Webhook activity callbacks.
 * - An outcome's email is recorded here (idempotently, under an id derived from the outcome) before its owner
 *   lets go of it. A callback is recorded when the request that asks for it is accepted, and waits for its
 *   owner's outcome: the owner hands it over as soon as it decides (`armCallbacks`), and the sweep asks the
 *   owner itself (`CallbackOutcomes`), so a crash between deciding and delivering still delivers.
 * - Delivery: at once by the caller, else by the sweep, with backoff. Each email carries the effect's
 *   idempotency key (ACS repeatability, 5 minutes; past it the provider is asked first). A callback is POSTed
 *   until a 2xx or its expiry; its URI is a secret kept only in the pending row and gone once delivered.
 */
import { createHash } from 'node:crypto';
import { reach } from '../crash';
import type { Deps } from '../deps';
import { Conflict, NotFound, Rejected, validationFailed } from '../errors';
import type { MailMessage } from '../ports';
import { addSeconds, iso, mapLimit } from '../util';
import { ignore } from '../retry';
import { OutboxStore, WATCH_PREFIX, type CallbackBody, type CallbackEffect, type CallbackOwner, type Effect, type EmailEffect } from './store';

export type { CallbackBody, CallbackOwner } from './store';

/** Email attempts before an email is abandoned (logged as an error, remembered as failed). */
export const MAX_ATTEMPTS = 12;
/** A delivery in flight holds its effect this long. */
const LEASE_SECONDS = 120;
/** The provider dedupes a resend with the same key for this long after the first attempt (ACS: 5 min). */
export const REPEATABILITY_SECONDS = 300;
/** Effects delivered per sweep pass at most, per partition. */
const PER_PASS = 100;
/** Pending rows read per partition per pass. */
const SCAN = 400;
/** Where each process's sweep left off in each partition (the sweep is a singleton; a new process starts over). */
const scanCursors = new WeakMap<object, { main?: string; watch?: string }>();
/** ADF's Webhook activity waits 7 days at most. */
export const MAX_CALLBACK_SECONDS = 604_800;

/** Backoff after the n-th failed attempt: base, 2·base, 4·base … (10 s, 20 s, 40 s by default), capped at 30 minutes. */
export const backoffSeconds = (attempts: number, base = 10) => Math.min(1800, base * 2 ** Math.max(0, attempts - 1));

/** The idempotency key of an effect: a UUID-shaped digest of its id (ACS wants a UUID). */
export function idempotencyKey(effectId: string): string {
  const h = createHash('sha256').update(effectId).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const digest = (s: string, n: number) => createHash('sha256').update(s).digest('hex').slice(0, n);

/** An effect id from the parts of an outcome (`alert`, executionId, restarts, status). Safe as a table key. */
export const effectId = (...parts: Array<string | number>) => digest(parts.join('\u0000'), 40);

/** The callback part of a request (a Webhook activity's `callBackUri` and its timeout), as the domain takes it. */
export interface CallbackRequest {
  callBackUri?: string;
  callbackTimeoutSeconds?: number;
}

/** Refuses a callBackUri the settings do not allow (400 ValidationFailed, before anything is written). */
export function checkCallbackRequest(deps: Pick<Deps, 'settings'>, req: CallbackRequest): void {
  if (req.callBackUri === undefined) return;
  const problem = callbackUriProblem(req.callBackUri, deps.settings.allowInsecureCallbacks);
  if (problem) throw validationFailed([{ path: 'callBackUri', message: problem }]);
}

/** Records the request's callback, if it has one, on `owner`. */
export async function recordRequestCallback(deps: Deps, owner: CallbackOwner, req: CallbackRequest): Promise<void> {
  if (req.callBackUri) await recordCallback(deps, owner, req.callBackUri, req.callbackTimeoutSeconds ?? MAX_CALLBACK_SECONDS);
}

/** At most this long: a callBackUri is a URL, not a document. */
export const MAX_CALLBACK_URI_CHARS = 2048;

/** Why a callBackUri is refused, or undefined: https only; loopback http when the local stack allows it. */
export function callbackUriProblem(uri: string, allowInsecure: boolean): string | undefined {
  if (uri.length > MAX_CALLBACK_URI_CHARS) return `must be at most ${MAX_CALLBACK_URI_CHARS} characters`;
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'must be an absolute URL';
  }
  if (url.username || url.password) return 'must not carry credentials';
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:' && allowInsecure && (url.hostname === '127.0.0.1' || url.hostname === 'localhost')) return undefined;
  return allowInsecure ? 'must be https (or http://127.0.0.1 / http://localhost)' : 'must be https';
}

/** Callback ids start with their owner's, so an owner's callbacks are one range read (views). */
const callbackPrefix = (owner: CallbackOwner) => `cb_${owner.area}_${digest(owner.id, 24)}_`;
const callbackId = (owner: CallbackOwner, uri: string) => `${callbackPrefix(owner)}${digest(uri, 16)}`;

/** What the sweep asks an area: the callback body of an owner's outcome, or undefined while it is open. */
export type CallbackOutcomes = Record<CallbackOwner['area'], (deps: Deps, ownerId: string) => Promise<CallbackBody | undefined>>;

/** Records an email for delivery. Idempotent: the same `id` is one email, however often it is recorded. */
export async function recordEmail(deps: Deps, id: string, about: string, message: MailMessage): Promise<boolean> {
  const now = iso(deps.clock.now());
  return new OutboxStore(deps.tables).add({ id, kind: 'email', about, message, recordedAt: now, nextAt: now });
}

/**
 * Records that a Webhook activity waits on `owner`. The same caller (same URI) recorded twice is one callback.
 * Nothing is sent before the owner's outcome is known.
 */
export async function recordCallback(deps: Deps, owner: CallbackOwner, uri: string, timeoutSeconds: number): Promise<string> {
  const now = deps.clock.now();
  const id = callbackId(owner, uri);
  await new OutboxStore(deps.tables).add({
    id,
    kind: 'callback',
    about: `${owner.area} ${owner.id}`,
    uri,
    owner,
    recordedAt: iso(now),
    nextAt: iso(now),
    expiresAt: iso(addSeconds(now, Math.min(timeoutSeconds, MAX_CALLBACK_SECONDS))),
  });
  return id;
}

/** An owner decided: its waiting callbacks get the outcome and go now (the sweep retries what fails). */
export async function armCallbacks(deps: Deps, owner: CallbackOwner, body: CallbackBody): Promise<void> {
  const store = new OutboxStore(deps.tables);
  const pending = await store.pendingWithPrefix(callbackPrefix(owner));
  await mapLimit(pending, 4, async (e) => {
    if (e.kind !== 'callback') return;
    // A callback still waiting for this outcome goes now, whatever its next recheck; one backing off after a failed POST waits.
    const ready = e.body ? e : { ...e, nextAt: iso(deps.clock.now()) };
    await deliverEffect(deps, store, ready, async () => body).catch((err: unknown) => deps.log.warn('callback not delivered yet; the sweep retries', { about: e.about, error: (err as Error).name }));
  });
}

/** The callback status views show: the most recent of the owner's callbacks (never its URI). */
export interface CallbackStatus {
  status: 'pending' | 'delivered' | 'expired';
  attempts: number;
  lastError?: string;
}

export async function callbackStatus(deps: Deps, owner: CallbackOwner): Promise<CallbackStatus | undefined> {
  const { pending, delivered } = await new OutboxStore(deps.tables).withPrefix(callbackPrefix(owner));
  const open = pending[0];
  if (open) return { status: 'pending', attempts: open.attempts, ...(open.lastError ? { lastError: open.lastError } : {}) };
  const done = delivered.sort((a, b) => b.at.localeCompare(a.at))[0];
  if (!done) return undefined;
  return { status: done.outcome === 'sent' ? 'delivered' : 'expired', attempts: done.attempts ?? 0, ...(done.lastError ? { lastError: done.lastError } : {}) };
}

/** `{ callback }` for a view when a Webhook activity waits (or waited) on the owner; else nothing. */
export async function callbackField(deps: Deps, owner: CallbackOwner): Promise<{ callback?: CallbackStatus }> {
  const callback = await callbackStatus(deps, owner);
  return callback ? { callback } : {};
}

/** A pending effect as the dashboard shows it: never its URI, message or recipients. */
export interface PendingEffect {
  kind: 'email' | 'callback';
  about: string;
  owner?: CallbackOwner;
  /** A callback whose owner has no outcome yet: the Webhook activity is still waiting, as it should. */
  waitingForOutcome: boolean;
  attempts: number;
  recordedAt: string;
  nextAt: string;
  expiresAt?: string;
  lastError?: string;
}

/** The outbox's pending effects (at most `limit`, one range read): callbacks waiting or failing, emails retrying. */
export async function pendingEffects(deps: Deps, limit = 100): Promise<PendingEffect[]> {
  return (await new OutboxStore(deps.tables).pending(limit)).map((e) => ({
    kind: e.kind,
    about: e.about,
    waitingForOutcome: e.kind === 'callback' && !e.body,
    attempts: e.attempts,
    recordedAt: e.recordedAt,
    nextAt: e.nextAt,
    ...(e.kind === 'callback' ? { owner: e.owner, expiresAt: e.expiresAt } : {}),
    ...(e.lastError ? { lastError: e.lastError } : {}),
  }));
}

/**
 * What an area says of an alert watch's owner (a pause, a job): the email of its outcome; `null` when nobody
 * subscribes to that outcome (or the owner is gone); undefined while the owner is still open.
 */
export type AlertResolver = (deps: Deps, ownerId: string) => Promise<MailMessage | null | undefined>;
export type AlertOutcomes = Partial<Record<CallbackOwner['area'], AlertResolver>>;

/**
 * A callback or an alert watch whose owner is still open is looked at again after this long (four sweep
 * intervals, from 5 s to 2 minutes): a crash between an outcome and its delivery delays it at most this,
 * and open owners cost one read per owner per this long, not per pass.
 */
export const recheckSeconds = (deps: Pick<Deps, 'settings'>) => Math.min(120, Math.max(5, 4 * deps.settings.sweepIntervalSeconds));

const alertWatchId = (owner: CallbackOwner) => `${WATCH_PREFIX}${owner.area}_${digest(owner.id, 32)}`;

/**
 * Records, before an owner can reach an outcome, that its outcome may owe an email (the transactional-outbox
 * half of alerts for pauses and jobs). The owner's decision path arms it at once (`armAlert`); the sweep
 * looks at it every `recheckSeconds`, so a crash between the outcome and the email only delays it.
 */
export async function watchAlert(deps: Deps, owner: CallbackOwner): Promise<void> {
  const now = deps.clock.now();
  await new OutboxStore(deps.tables).add({ id: alertWatchId(owner), kind: 'email', about: `${owner.area} ${owner.id}`, owner, recordedAt: iso(now), nextAt: iso(addSeconds(now, recheckSeconds(deps))) });
}

/** An owner reached its outcome: its watch, if any, becomes its email (or nothing) and goes now. */
export async function armAlert(deps: Deps, owner: CallbackOwner, resolve: AlertResolver): Promise<void> {
  const store = new OutboxStore(deps.tables);
  const e = await store.get(alertWatchId(owner));
  if (!e || e.kind !== 'email') return;
  const ready = e.message ? e : await resolveWatch(deps, store, e, () => resolve(deps, owner.id));
  if (ready) await deliverEffect(deps, store, ready);
}

/** A watch whose owner decided becomes an email due now; undefined when there is nothing (yet) to send. */
async function resolveWatch(deps: Deps, store: OutboxStore, e: EmailEffect, resolve: () => Promise<MailMessage | null | undefined>): Promise<EmailEffect | undefined> {
  const message = await resolve();
  const now = deps.clock.now();
  if (message === undefined) {
    await store.save({ ...e, nextAt: iso(addSeconds(now, recheckSeconds(deps))) }).catch(ignore(Conflict));
    return undefined;
  }
  if (message === null) {
    await store.finish(e, { at: iso(now), outcome: 'skipped' });
    return undefined;
  }
  try {
    return (await store.save({ ...e, message, nextAt: iso(now) })) as EmailEffect;
  } catch (err) {
    if (err instanceof Conflict) return undefined; // another instance resolved it
    throw err;
  }
}

/** Delivers one effect now if it is due and free. True when it is delivered (now or before). */
export async function deliver(deps: Deps, id: string): Promise<boolean> {
  const store = new OutboxStore(deps.tables);
  const e = await store.get(id);
  if (!e) return !!(await store.delivered(id));
  return deliverEffect(deps, store, e);
}

/** Sweep step: every pending effect that is due, a bounded number per pass. */
export async function deliverOutbox(deps: Deps, outcomes?: CallbackOutcomes, alerts?: AlertOutcomes): Promise<void> {
  const store = new OutboxStore(deps.tables);
  const now = iso(deps.clock.now());
  const isDue = (e: Effect) => e.nextAt <= now && !(e.leaseUntil && e.leaseUntil > now);
  // Each pass reads the next SCAN rows of each partition, wrapping around: however many effects wait, every
  // one is looked at within (pending ÷ SCAN) passes, and no early rows can starve the later ones.
  let cursor = scanCursors.get(deps.tables);
  if (!cursor) scanCursors.set(deps.tables, (cursor = {}));
  const scan = async (part: 'main' | 'watch') => {
    const rows = part === 'main' ? await store.pending(SCAN, cursor.main) : await store.watches(SCAN, cursor.watch);
    cursor[part] = rows.length === SCAN ? rows[rows.length - 1]?.id : undefined;
    return rows.filter(isDue).slice(0, PER_PASS);
  };
  const due = [...(await scan('main')), ...(alerts ? await scan('watch') : [])];
  const results = await mapLimit(due, 4, (e) =>
    deliverEffect(deps, store, e, e.kind === 'callback' && outcomes ? () => outcomes[e.owner.area](deps, e.owner.id) : undefined, e.kind === 'email' && e.owner ? alerts?.[e.owner.area] : undefined).catch((err: unknown) => {
      deps.log.warn('outbox: delivery failed', { about: e.about, error: (err as Error).name });
      return false;
    }),
  );
  const failures = due.filter((e, i) => !results[i] && e.attempts > 0).length;
  // One line per pass, not one per effect.
  if (failures) deps.log.warn('outbox: some deliveries failed; they are retried with backoff', { failed: failures, due: due.length });
  if (now.slice(14, 16) === '00') await store.purgeDelivered(iso(addSeconds(deps.clock.now(), -7 * 86_400)), 100);
}

async function deliverEffect(deps: Deps, store: OutboxStore, pending: Effect, outcome?: () => Promise<CallbackBody | undefined>, alert?: AlertResolver): Promise<boolean> {
  const now = deps.clock.now();
  if (pending.nextAt > iso(now) || (pending.leaseUntil && pending.leaseUntil > iso(now))) return false;
  const done = await store.delivered(pending.id);
  if (done) {
    await store.finish(pending, done); // a crash came between remembering it and dropping the pending row
    return true;
  }
  if (pending.kind === 'callback') return deliverCallback(deps, store, pending, outcome);
  if (pending.message) return deliverEmail(deps, store, pending);
  const owner = pending.owner;
  const ready = alert && owner ? await resolveWatch(deps, store, pending, () => alert(deps, owner.id)) : undefined;
  return ready ? deliverEmail(deps, store, ready) : false;
}

/** Claims an effect for one attempt (lease, attempts + 1). Undefined when another instance has it. */
async function claim<E extends Effect>(store: OutboxStore, e: E, changes: Partial<E>): Promise<E | undefined> {
  try {
    return (await store.save({ ...e, ...changes, attempts: e.attempts + 1 })) as E;
  } catch (err) {
    if (err instanceof Conflict) return undefined;
    throw err;
  }
}

/** After a failed attempt: wait, then try again (the lease is dropped). */
async function backOff(deps: Deps, store: OutboxStore, e: Effect, error: string, seconds: number): Promise<void> {
  const { leaseUntil: _held, ...rest } = e;
  await store
    .save({ ...rest, nextAt: iso(addSeconds(deps.clock.now(), seconds)), lastError: error })
    .catch((saveErr: unknown) => deps.log.warn('outbox: could not record a failed attempt', { about: e.about, error: (saveErr as Error).name }));
}

async function deliverEmail(deps: Deps, store: OutboxStore, pending: EmailEffect): Promise<boolean> {
  const now = deps.clock.now();
  const key = idempotencyKey(pending.id);
  // Past the provider's repeatability window a resend would not be deduplicated: ask first.
  const windowOver = pending.firstAttemptAt !== undefined && addSeconds(new Date(pending.firstAttemptAt), REPEATABILITY_SECONDS - 30) < now;
  const e = await claim(store, pending, { firstAttemptAt: windowOver || !pending.firstAttemptAt ? iso(now) : pending.firstAttemptAt, leaseUntil: iso(addSeconds(now, LEASE_SECONDS)) });
  if (!e) return false;
  try {
    if (windowOver && deps.mailer.accepted && (await deps.mailer.accepted(key))) {
      await store.finish(e, { at: iso(now), outcome: 'sent', providerId: key, attempts: e.attempts });
      deps.log.info('outbox: already accepted by the provider', { about: e.about, effect: e.id });
      return true;
    }
    if (!e.message) throw new Error('an alert watch cannot be sent before its owner decided');
    const { id: providerId } = await deps.mailer.send(e.message, { idempotencyKey: key, firstAttemptAt: new Date(e.firstAttemptAt as string) });
    reach(deps, 'afterSend');
    await store.finish(e, { at: iso(deps.clock.now()), outcome: 'sent', providerId, attempts: e.attempts });
    deps.log.info('outbox: email sent', { about: e.about, effect: e.id, attempts: e.attempts });
    return true;
  } catch (err) {
    const name = (err as Error).name;
    if (err instanceof Rejected || e.attempts >= MAX_ATTEMPTS) {
      deps.log.error('outbox: email abandoned', { about: e.about, effect: e.id, attempts: e.attempts, error: name });
      await store.finish(e, { at: iso(deps.clock.now()), outcome: 'failed', attempts: e.attempts, lastError: name });
      return false;
    }
    await backOff(deps, store, e, name, backoffSeconds(e.attempts, deps.settings.outboxRetrySeconds));
    return false;
  }
}

async function deliverCallback(deps: Deps, store: OutboxStore, pending: CallbackEffect, outcome?: () => Promise<CallbackBody | undefined>): Promise<boolean> {
  const now = deps.clock.now();
  if (pending.expiresAt <= iso(now)) {
    deps.log.warn('callback expired before it could be delivered', { about: pending.about, attempts: pending.attempts });
    await store.finish(pending, { at: iso(now), outcome: 'expired', attempts: pending.attempts, ...(pending.lastError ? { lastError: pending.lastError } : {}) });
    return false;
  }
  const body = pending.body ?? (outcome ? await outcome() : undefined);
  if (!body) {
    // The owner has not decided: look again later (its decision arms the callback at once anyway).
    const next = addSeconds(now, recheckSeconds(deps));
    // Never later than its expiry, which must be seen when it comes.
    if (outcome) await store.save({ ...pending, nextAt: pending.expiresAt < iso(next) ? pending.expiresAt : iso(next) }).catch(ignore(Conflict, NotFound));
    return false;
  }
  const e = await claim(store, pending, { body, leaseUntil: iso(addSeconds(now, LEASE_SECONDS)) });
  if (!e) return false;
  let status: number;
  try {
    reach(deps, 'beforeCallback');
    status = await deps.callbacks.post(e.uri, body);
  } catch (err) {
    await backOff(deps, store, e, (err as Error).name, jittered(deps, e.attempts));
    return false;
  }
  if (status >= 200 && status < 300) {
    await store.finish(e, { at: iso(deps.clock.now()), outcome: 'sent', attempts: e.attempts });
    deps.log.info('callback delivered', { about: e.about, statusCode: body.StatusCode, attempts: e.attempts });
    return true;
  }
  await backOff(deps, store, e, `Http${status}`, jittered(deps, e.attempts));
  return false;
}

/** Exponential backoff with full jitter, so callbacks to one receiver do not retry in step. */
function jittered(deps: Deps, attempts: number): number {
  const cap = backoffSeconds(attempts, deps.settings.outboxRetrySeconds);
  const unit = deps.ids.randomBytes(2).readUInt16BE(0) / 0xffff;
  return Math.max(1, Math.round(cap * (0.5 + unit / 2)));
}
