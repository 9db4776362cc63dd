import {
  armCallbacks,
  backoffSeconds,
  callbackStatus,
  deliverOutbox,
  MAX_CALLBACK_SECONDS,
  recordCallback,
  recheckSeconds,
  type CallbackBody,
  type CallbackOutcomes,
  type CallbackOwner,
} from '../../../src/core/outbox/outbox';
import { OutboxStore, type CallbackEffect } from '../../../src/core/outbox/store';
import type { CrashStep } from '../../../src/core/crash';
import { unitDeps } from '../../support/fake-factory';
import { RecordingCallbacks } from '../../support/recorders';

const owner: CallbackOwner = { area: 'pause', id: 'p-1' };
/** A Webhook activity's callBackUri: a bearer secret (the signature is what ADF checks). */
const URI = 'https://adf.example.net/callbacks/run-1?sig=bearer-secret-0123456789';
const approved: CallbackBody = { StatusCode: '200', Output: { pauseId: 'p-1', decision: 'approve', data: { loadDate: '2026-02-28' } } };

function setup() {
  const callbacks = new RecordingCallbacks();
  const d = { ...unitDeps(), callbacks };
  return { d, callbacks, store: new OutboxStore(d.tables) };
}

/** Every Outbox row (pending and delivered), as text: what a reader of the table could see. */
const outboxText = async (d: ReturnType<typeof setup>['d']) => JSON.stringify(await d.tables.table('Outbox').scanAll());

/** The owner's outcome as the sweep asks for it: `decided[id]`, undefined while open. Counts the questions. */
function outcomesOf(decided: Record<string, CallbackBody | undefined>) {
  const asked: string[] = [];
  const ask = async (_d: unknown, id: string) => (asked.push(id), decided[id]);
  const outcomes: CallbackOutcomes = { pause: ask, execution: ask, job: ask, run: ask };
  return { outcomes, asked };
}

/** A process killed at `step`: the crash point throws there, so nothing after it happens. */
const crashingAt = (d: ReturnType<typeof setup>['d'], at: CrashStep) => ({
  ...d,
  crash: (step: CrashStep) => {
    if (step === at) throw new Error('killed');
  },
});

describe('the callback outbox (Webhook activities)', () => {
  it('when the receiver answers 503 to the first 5 attempts, then the sweep retries with jittered exponential backoff and the callback arrives once', async () => {
    const { d, callbacks, store } = setup();
    expect(d.settings.outboxRetrySeconds).toBe(10);
    const id = await recordCallback(d, owner, URI, 3600);
    callbacks.statuses = [503, 503, 503, 503, 503];

    await armCallbacks(d, owner, approved);
    expect(callbacks.posts).toHaveLength(1);
    for (let attempt = 1; attempt <= 5; attempt++) {
      const waiting = await store.get(id);
      expect(waiting).toMatchObject({ attempts: attempt, lastError: 'Http503' });
      expect(waiting?.leaseUntil).toBeUndefined();
      // Full jitter over the upper half: between half the cap and the cap (10 s, 20 s, 40 s, 80 s, 160 s).
      const cap = backoffSeconds(attempt, 10);
      const wait = (Date.parse(waiting!.nextAt) - d.clock.now().getTime()) / 1000;
      expect(wait).toBeGreaterThanOrEqual(Math.max(1, Math.round(cap / 2)));
      expect(wait).toBeLessThanOrEqual(cap);
      expect(await callbackStatus(d, owner)).toEqual({ status: 'pending', attempts: attempt, lastError: 'Http503' });

      // Not due yet: a pass before the backoff sends nothing.
      d.clock.advance(Math.max(1, Math.round(cap / 2)) * 1000 - 1);
      await deliverOutbox(d);
      expect(callbacks.posts).toHaveLength(attempt);
      d.clock.advance((cap - Math.max(1, Math.round(cap / 2))) * 1000 + 1);
      await deliverOutbox(d);
      expect(callbacks.posts).toHaveLength(attempt + 1);
    }

    expect(callbacks.posts.map((p) => p.status)).toEqual([503, 503, 503, 503, 503, 200]);
    expect(callbacks.posts.every((p) => p.uri === URI)).toBe(true);
    expect(callbacks.accepted()).toEqual([{ uri: URI, body: approved, status: 200 }]);
    for (let i = 0; i < 3; i++) {
      d.clock.advance(3600_000);
      await deliverOutbox(d);
    }
    expect(callbacks.posts).toHaveLength(6);
    // Delivered: the count stays, the last failure does not (it no longer explains anything).
    expect(await callbackStatus(d, owner)).toEqual({ status: 'delivered', attempts: 6 });
    expect(await store.get(id)).toBeUndefined();
  });

  it('when the random draw is lowest or highest, then the backoff is half the cap or the cap (10 s, 20 s, 40 s …)', async () => {
    for (const [byte, expected] of [[0x00, [5, 10, 20]], [0xff, [10, 20, 40]]] as const) {
      const { d, callbacks, store } = setup();
      const drawn = { ...d, ids: { newId: () => d.ids.newId(), randomBytes: (n: number) => Buffer.alloc(n, byte) } };
      const id = await recordCallback(drawn, owner, URI, 3600);
      callbacks.statuses = [503, 503, 503];
      const waits: number[] = [];
      await armCallbacks(drawn, owner, approved);
      for (let i = 0; i < 3; i++) {
        const wait = (Date.parse((await store.get(id))!.nextAt) - d.clock.now().getTime()) / 1000;
        waits.push(wait);
        d.clock.advance(wait * 1000);
        await deliverOutbox(drawn);
      }
      expect(waits).toEqual(expected);
      expect(callbacks.accepted()).toHaveLength(1);
    }
  });

  it('when the receiver cannot be reached, then the network error\'s name is the lastError and the callback still arrives once', async () => {
    const { d, callbacks } = setup();
    await recordCallback(d, owner, URI, 3600);
    callbacks.unreachable = 2;
    await armCallbacks(d, owner, approved);
    expect(await callbackStatus(d, owner)).toEqual({ status: 'pending', attempts: 1, lastError: 'Unavailable' });
    expect(JSON.stringify(await callbackStatus(d, owner))).not.toContain('adf.example.net');
    for (let i = 0; i < 4; i++) {
      d.clock.advance(60_000);
      await deliverOutbox(d);
    }
    expect(callbacks.accepted()).toHaveLength(1);
    expect(await callbackStatus(d, owner)).toMatchObject({ status: 'delivered', attempts: 3 });
  });

  it('when a callback is still undelivered at its expiry, then it is dropped as expired, never sent again, and its URI is gone from the table', async () => {
    const { d, callbacks, store } = setup();
    const id = await recordCallback(d, owner, URI, 60);
    callbacks.statuses = Array.from({ length: 100 }, () => 503);
    await armCallbacks(d, owner, approved);
    expect(await outboxText(d)).toContain(URI);
    d.clock.advance(25_000);
    await deliverOutbox(d);
    expect(callbacks.posts).toHaveLength(2);

    d.clock.advance(36_000); // 61 s after it was recorded
    await deliverOutbox(d);
    expect(callbacks.posts).toHaveLength(2);
    expect(await store.get(id)).toBeUndefined();
    expect(await store.delivered(id)).toMatchObject({ outcome: 'expired', attempts: 2, lastError: 'Http503' });
    expect(await callbackStatus(d, owner)).toEqual({ status: 'expired', attempts: 2, lastError: 'Http503' });
    expect(await outboxText(d)).not.toContain(URI);
    expect(await outboxText(d)).not.toContain('bearer-secret');

    // Recorded again (a retried request with the same callBackUri), armed again, swept again: nothing leaves.
    await recordCallback(d, owner, URI, 60);
    await armCallbacks(d, owner, approved);
    d.clock.advance(3600_000);
    await deliverOutbox(d);
    expect(callbacks.posts).toHaveLength(2);
    expect(await outboxText(d)).not.toContain(URI);
  });

  it('when the owner never decides, then nothing is sent, and the callback expires at the timeout (capped at 7 days)', async () => {
    const { d, callbacks, store } = setup();
    const { outcomes, asked } = outcomesOf({});
    const id = await recordCallback(d, owner, URI, 30 * 86_400);
    expect(Date.parse(((await store.get(id)) as CallbackEffect).expiresAt) - d.clock.now().getTime()).toBe(MAX_CALLBACK_SECONDS * 1000);
    d.clock.advance((MAX_CALLBACK_SECONDS - 1) * 1000);
    await deliverOutbox(d, outcomes);
    expect(asked).toEqual(['p-1']);
    d.clock.advance(1000);
    await deliverOutbox(d, outcomes);
    expect(callbacks.posts).toEqual([]);
    expect(await store.delivered(id)).toMatchObject({ outcome: 'expired', attempts: 0 });
    expect(await outboxText(d)).not.toContain(URI);
  });

  it('when the outcome is not decided yet, then the sweep sends nothing; once the owner decides, the next sweep sends it, once', async () => {
    const { d, callbacks, store } = setup();
    const decided: Record<string, CallbackBody | undefined> = {};
    const { outcomes, asked } = outcomesOf(decided);
    const id = await recordCallback(d, owner, URI, 3600);

    await deliverOutbox(d); // without the owners to ask: nothing to send
    await deliverOutbox(d, outcomes);
    d.clock.advance(30_000);
    await deliverOutbox(d, outcomes); // asked again only after the recheck time, not every pass
    expect(asked).toEqual(['p-1']);
    d.clock.advance(recheckSeconds(d) * 1000);
    await deliverOutbox(d, outcomes);
    expect(asked).toEqual(['p-1', 'p-1']);
    expect(callbacks.posts).toEqual([]);
    expect(await store.get(id)).toMatchObject({ attempts: 0 });
    expect((await store.get(id))?.lastError).toBeUndefined();
    expect(await callbackStatus(d, owner)).toEqual({ status: 'pending', attempts: 0 });

    decided['p-1'] = approved;
    d.clock.advance(recheckSeconds(d) * 1000);
    await deliverOutbox(d, outcomes);
    expect(callbacks.posts).toEqual([{ uri: URI, body: approved, status: 200 }]);
    d.clock.advance(30_000);
    await deliverOutbox(d, outcomes);
    expect(callbacks.posts).toHaveLength(1);
    expect(asked).toHaveLength(3);
    expect(await callbackStatus(d, owner)).toEqual({ status: 'delivered', attempts: 1 });
  });

  it('when the sweep asks one owner, then another owner\'s callback is not sent with its outcome', async () => {
    const { d, callbacks } = setup();
    const other: CallbackOwner = { area: 'run', id: 'r-9' };
    const otherUri = 'https://adf.example.net/callbacks/run-9?sig=other';
    await recordCallback(d, owner, URI, 3600);
    await recordCallback(d, other, otherUri, 3600);
    const { outcomes } = outcomesOf({ 'p-1': approved });
    await deliverOutbox(d, outcomes);
    expect(callbacks.posts).toEqual([{ uri: URI, body: approved, status: 200 }]);
    expect(await callbackStatus(d, other)).toEqual({ status: 'pending', attempts: 0 });
  });

  it('when the process dies after the outcome is decided and before the POST, then the next sweep delivers it, once', async () => {
    const { d, callbacks, store } = setup();
    const id = await recordCallback(d, owner, URI, 3600);
    await armCallbacks(crashingAt(d, 'beforeCallback'), owner, approved);
    expect(callbacks.posts).toEqual([]);
    // The outcome is kept with the callback, so the sweep needs nobody to ask.
    expect(((await store.get(id)) as CallbackEffect | undefined)?.body).toEqual(approved);

    d.clock.advance(121_000); // past any lease a killed instance held
    await deliverOutbox(d);
    await deliverOutbox(d);
    expect(callbacks.posts).toEqual([{ uri: URI, body: approved, status: 200 }]);
    d.clock.advance(3600_000);
    await deliverOutbox(d);
    expect(callbacks.posts).toHaveLength(1);
    expect(await callbackStatus(d, owner)).toMatchObject({ status: 'delivered' });
  });

  it('when the process dies after deciding and before handing the outcome over, then the sweep asks the owner and delivers it, once', async () => {
    const { d, callbacks } = setup();
    await recordCallback(d, owner, URI, 3600);
    // The decision is written; armCallbacks never ran.
    const { outcomes, asked } = outcomesOf({ 'p-1': approved });
    await deliverOutbox(crashingAt(d, 'beforeCallback'), outcomes);
    expect(callbacks.posts).toEqual([]);
    d.clock.advance(121_000);
    await deliverOutbox(d, outcomes);
    await deliverOutbox(d, outcomes);
    expect(asked).toEqual(['p-1']);
    expect(callbacks.posts).toEqual([{ uri: URI, body: approved, status: 200 }]);
  });

  it('when two deliverers race (the decider and two sweeps), then one POST is made', async () => {
    const { d, callbacks } = setup();
    await recordCallback(d, owner, URI, 3600);
    const { outcomes } = outcomesOf({ 'p-1': approved });
    await Promise.all([armCallbacks(d, owner, approved), deliverOutbox(d, outcomes), deliverOutbox(d, outcomes), armCallbacks(d, owner, approved)]);
    expect(callbacks.posts).toHaveLength(1);
    await Promise.all([deliverOutbox(d, outcomes), armCallbacks(d, owner, approved)]);
    d.clock.advance(3600_000);
    await deliverOutbox(d, outcomes);
    expect(callbacks.posts).toHaveLength(1);
  });

  it('when a POST is slow and another deliverer comes during it, then the lease keeps it to one POST', async () => {
    const { d, callbacks } = setup();
    await recordCallback(d, owner, URI, 3600);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const slow = { ...d, callbacks: { post: async (uri: string, body: unknown) => (await held, callbacks.post(uri, body)) } };
    const first = armCallbacks(slow, owner, approved);
    await new Promise((r) => setImmediate(r));
    d.clock.advance(60_000); // within the 120 s lease
    await deliverOutbox(d, outcomesOf({ 'p-1': approved }).outcomes);
    await armCallbacks(d, owner, approved);
    expect(callbacks.posts).toEqual([]);
    release();
    await first;
    expect(callbacks.posts).toHaveLength(1);
  });

  it('when one caller is recorded twice, then it is one callback; two callers on one owner each get theirs', async () => {
    const { d, callbacks, store } = setup();
    const a = await recordCallback(d, owner, URI, 3600);
    expect(await recordCallback(d, owner, URI, 3600)).toBe(a);
    const otherUri = `${URI}-second-activity`;
    await recordCallback(d, owner, otherUri, 3600);
    expect(await store.pending(10)).toHaveLength(2);
    await armCallbacks(d, owner, approved);
    expect(callbacks.posts.map((p) => p.uri).sort()).toEqual([URI, otherUri].sort());
  });

  it('when a callback is delivered, then its URI is in no Outbox row, and the delivery record holds only when, how and how often', async () => {
    const { d, callbacks, store } = setup();
    const id = await recordCallback(d, owner, URI, 3600);
    const rows = async () => d.tables.table('Outbox').scanAll();
    expect((await rows()).filter((r) => JSON.stringify(r).includes(URI))).toHaveLength(1); // kept while it waits
    callbacks.statuses = [500];
    await armCallbacks(d, owner, approved);
    expect((await rows()).filter((r) => JSON.stringify(r).includes(URI))).toHaveLength(1);
    d.clock.advance(20_000);
    await deliverOutbox(d);
    expect(callbacks.accepted()).toHaveLength(1);

    const all = await rows();
    expect(all.filter((r) => JSON.stringify(r).includes(URI))).toEqual([]);
    expect(all.filter((r) => JSON.stringify(r).includes('bearer-secret'))).toEqual([]);
    expect(all.filter((r) => JSON.stringify(r).includes('adf.example.net'))).toEqual([]);
    expect(all.map((r) => r.rowKey)).toEqual([`d_${id}`]);
    expect(Object.keys(all[0]!.props).sort()).toEqual(['at', 'attempts', 'outcome']);
    expect(all[0]!.props).toEqual({ at: d.clock.now().toISOString(), outcome: 'sent', attempts: 2 });
    expect(await store.get(id)).toBeUndefined();
  });
});
