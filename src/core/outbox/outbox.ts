/**
 * Side effects exactly once. An outcome's email is recorded here (idempotently, under an id derived from
 * the outcome) before its owner lets go of it, then delivered: at once by the caller, else by the sweep,
 * with backoff. Each send carries the effect's idempotency key; a crash between the send and its record
 * is covered by the provider's repeatability window (ACS: 5 minutes), and past it by asking the provider
 * whether that key was accepted before sending again.
 */
import { createHash } from 'node:crypto';
import { reach } from '../crash';
import type { Deps } from '../deps';
import { Conflict, Rejected } from '../errors';
import type { MailMessage } from '../ports';
import { addSeconds, iso, mapLimit } from '../util';
import { OutboxStore, type Effect } from './store';

/** Attempts before an effect is abandoned (logged as an error, remembered as failed). */
export const MAX_ATTEMPTS = 12;
/** A delivery in flight holds its effect this long. */
const LEASE_SECONDS = 120;
/** The provider dedupes a resend with the same key for this long after the first attempt (ACS: 5 min). */
export const REPEATABILITY_SECONDS = 300;
/** Effects delivered per sweep pass at most. */
const PER_PASS = 100;

/** Backoff after the n-th failed attempt: base, 2·base, 4·base … (10 s, 20 s, 40 s by default), capped at 30 minutes. */
export const backoffSeconds = (attempts: number, base = 10) => Math.min(1800, base * 2 ** Math.max(0, attempts - 1));

/** The idempotency key of an effect: a UUID-shaped digest of its id (ACS wants a UUID). */
export function idempotencyKey(effectId: string): string {
  const h = createHash('sha256').update(effectId).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** An effect id from the parts of an outcome (`alert`, executionId, restarts, status). Safe as a table key. */
export const effectId = (...parts: Array<string | number>) => createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 40);

/** Records an email for delivery. Idempotent: the same `id` is one email, however often it is recorded. */
export async function recordEmail(deps: Deps, id: string, about: string, message: MailMessage): Promise<boolean> {
  const now = iso(deps.clock.now());
  return new OutboxStore(deps.tables).add({ id, kind: 'email', about, message, recordedAt: now, nextAt: now });
}

/** Delivers one effect now if it is due and free. True when it is delivered (now or before). */
export async function deliver(deps: Deps, id: string): Promise<boolean> {
  const store = new OutboxStore(deps.tables);
  const e = await store.get(id);
  if (!e) return !!(await store.delivered(id));
  return deliverEffect(deps, store, e);
}

/** Sweep step: every pending effect that is due, a bounded number per pass. */
export async function deliverOutbox(deps: Deps): Promise<void> {
  const store = new OutboxStore(deps.tables);
  const now = iso(deps.clock.now());
  const due = (await store.pending(PER_PASS * 4)).filter((e) => e.nextAt <= now && !(e.leaseUntil && e.leaseUntil > now)).slice(0, PER_PASS);
  const failures = (await mapLimit(due, 4, (e) => deliverEffect(deps, store, e))).filter((ok) => !ok).length;
  // One line per pass, not one per effect.
  if (failures) deps.log.warn('outbox: some deliveries failed; they are retried with backoff', { failed: failures, due: due.length });
  if (now.slice(14, 16) === '00') await store.purgeDelivered(iso(addSeconds(deps.clock.now(), -7 * 86_400)), 100);
}

async function deliverEffect(deps: Deps, store: OutboxStore, pending: Effect): Promise<boolean> {
  const now = deps.clock.now();
  if (pending.nextAt > iso(now) || (pending.leaseUntil && pending.leaseUntil > iso(now))) return false;
  const done = await store.delivered(pending.id);
  if (done) {
    await store.finish(pending, done); // a crash came between remembering it and dropping the pending row
    return true;
  }
  const key = idempotencyKey(pending.id);
  // Past the provider's repeatability window a resend would not be deduplicated: ask first.
  const windowOver = pending.firstAttemptAt !== undefined && addSeconds(new Date(pending.firstAttemptAt), REPEATABILITY_SECONDS - 30) < now;
  let e: Effect;
  try {
    e = await store.save({
      ...pending,
      attempts: pending.attempts + 1,
      firstAttemptAt: windowOver || !pending.firstAttemptAt ? iso(now) : pending.firstAttemptAt,
      leaseUntil: iso(addSeconds(now, LEASE_SECONDS)),
    });
  } catch (err) {
    if (err instanceof Conflict) return false; // another instance is delivering it
    throw err;
  }
  try {
    if (windowOver && deps.mailer.accepted && (await deps.mailer.accepted(key))) {
      await store.finish(e, { at: iso(now), outcome: 'sent', providerId: key });
      deps.log.info('outbox: already accepted by the provider', { about: e.about, effect: e.id });
      return true;
    }
    const { id: providerId } = await deps.mailer.send(e.message, { idempotencyKey: key, firstAttemptAt: new Date(e.firstAttemptAt as string) });
    reach(deps, 'afterSend');
    await store.finish(e, { at: iso(deps.clock.now()), outcome: 'sent', providerId });
    deps.log.info('outbox: email sent', { about: e.about, effect: e.id, attempts: e.attempts });
    return true;
  } catch (err) {
    const name = (err as Error).name;
    if (err instanceof Rejected || e.attempts >= MAX_ATTEMPTS) {
      deps.log.error('outbox: email abandoned', { about: e.about, effect: e.id, attempts: e.attempts, error: name });
      await store.finish(e, { at: iso(deps.clock.now()), outcome: 'failed' });
      return false;
    }
    const { leaseUntil: _held, ...rest } = e;
    await store
      .save({ ...rest, nextAt: iso(addSeconds(deps.clock.now(), backoffSeconds(e.attempts, deps.settings.outboxRetrySeconds))), lastError: name })
      .catch((saveErr: unknown) => deps.log.warn('outbox: could not record a failed attempt', { effect: e.id, error: (saveErr as Error).name }));
    return false;
  }
}
