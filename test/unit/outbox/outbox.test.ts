import { deliver, deliverOutbox, effectId, idempotencyKey, MAX_ATTEMPTS, recordEmail, REPEATABILITY_SECONDS } from '../../../src/core/outbox/outbox';
import { OutboxStore } from '../../../src/core/outbox/store';
import { unitDeps } from '../../support/fake-factory';
import { RecordingMailer } from '../../support/recorders';
import { Rejected } from '../../../src/core/errors';

const message = { to: ['ops@example.com'], subject: 'nightly: Stopped', html: '<p>x</p>', text: 'x' };

function setup() {
  const mailer = new RecordingMailer();
  const d = { ...unitDeps(), mailer };
  return { d, mailer, store: new OutboxStore(d.tables) };
}

describe('the durable outbox', () => {
  it('when one outcome is recorded twice, then one email is sent, once, and a later recording sends nothing', async () => {
    const { d, mailer, store } = setup();
    const id = effectId('execution-alert', 'e1', 0, 'Stopped');
    expect(await recordEmail(d, id, 'execution e1', message)).toBe(true);
    expect(await recordEmail(d, id, 'execution e1', message)).toBe(false);
    expect(await deliver(d, id)).toBe(true);
    expect(await deliver(d, id)).toBe(true);
    await deliverOutbox(d);
    expect(await recordEmail(d, id, 'execution e1', message)).toBe(false);
    await deliverOutbox(d);
    expect(mailer.sent).toEqual([message]);
    expect(await store.pending(10)).toEqual([]);
    expect(await store.delivered(id)).toMatchObject({ outcome: 'sent', providerId: idempotencyKey(id) });
  });

  it('when more effects wait than a pass reads, then the sweep goes on where it left off, so the later ones are delivered too', async () => {
    const { d, mailer, store } = setup();
    // 450 emails, each failed once (backing off): the 400 first keys wait 30 min, the last 50 are due in 10 s.
    const ids = Array.from({ length: 450 }, (_, i) => `m${String(i).padStart(3, '0')}`);
    for (const [i, id] of ids.entries()) {
      await recordEmail(d, id, 'test', message);
      const e = (await store.get(id))!;
      await store.save({ ...e, attempts: 1, nextAt: new Date(d.clock.now().getTime() + (i < 400 ? 1_800_000 : 10_000)).toISOString() });
    }
    d.clock.advance(11_000);
    await deliverOutbox(d); // reads keys 0-399: none due
    expect(mailer.sent).toHaveLength(0);
    await deliverOutbox(d); // goes on from key 400: the 50 due ones
    expect(mailer.sent).toHaveLength(50);
    expect((await store.pending(500)).length).toBe(400);
  });

  it('when the mailer fails twice, then the sweep retries with backoff (10 s, 20 s) and the email goes once', async () => {
    const { d, mailer, store } = setup();
    const id = effectId('x', 1);
    await recordEmail(d, id, 'test', message);
    mailer.failures = 2;
    expect(await deliver(d, id)).toBe(false);
    expect((await store.get(id))?.lastError).toBe('Unavailable');
    await deliverOutbox(d); // not due yet
    expect(mailer.attempts).toBe(1);
    d.clock.advance(10_000);
    await deliverOutbox(d);
    expect(mailer.attempts).toBe(2);
    d.clock.advance(10_000);
    await deliverOutbox(d); // the second backoff is 20 s
    expect(mailer.attempts).toBe(2);
    d.clock.advance(10_000);
    await deliverOutbox(d);
    expect(mailer.attempts).toBe(3);
    expect(mailer.sent).toHaveLength(1);
    expect(await store.pending(10)).toEqual([]);
  });

  it('when the process dies after the provider accepted but before the delivery is recorded, then the resend carries the same key and is not a second email', async () => {
    const { d, mailer } = setup();
    const id = effectId('x', 2);
    await recordEmail(d, id, 'test', message);
    // The crash point throws here instead of killing: the delivery is not recorded, as after a kill.
    const crashing = { ...d, crash: (step: string) => { if (step === 'afterSend') throw new Error('killed'); } };
    expect(await deliver(crashing, id)).toBe(false);
    d.clock.advance(60_000);
    await deliverOutbox(d);
    expect(mailer.attempts).toBe(2);
    expect(mailer.sent).toHaveLength(1);
  });

  it('when a retry comes after the provider\'s repeatability window, then it asks the provider first and does not send again if the key was accepted', async () => {
    const { d, mailer } = setup();
    const id = effectId('x', 3);
    await recordEmail(d, id, 'test', message);
    const crashing = { ...d, crash: (step: string) => { if (step === 'afterSend') throw new Error('killed'); } };
    await deliver(crashing, id);
    mailer.keys.clear(); // the provider forgot the repeatability key after its window...
    mailer.keys.add(idempotencyKey(id)); // ...but still knows the operation by its id
    const seen: string[] = [];
    const asking = { ...d, mailer: Object.assign(mailer, { accepted: async (k: string) => (seen.push(k), true) }) };
    d.clock.advance((REPEATABILITY_SECONDS + 60) * 1000);
    await deliverOutbox(asking);
    expect(seen).toEqual([idempotencyKey(id)]);
    expect(mailer.attempts).toBe(1);
  });

  it('when the provider refuses the message, or it fails every attempt, then it is abandoned, logged as an error, and never retried', async () => {
    const { d, mailer, store } = setup();
    const refused = effectId('x', 4);
    await recordEmail(d, refused, 'test', message);
    const refusing = { ...d, mailer: { send: async () => Promise.reject(new Rejected('InvalidRecipient', 'no')) } };
    expect(await deliver(refusing, refused)).toBe(false);
    expect(await store.delivered(refused)).toMatchObject({ outcome: 'failed' });

    const flaky = effectId('x', 5);
    await recordEmail(d, flaky, 'test', message);
    mailer.failures = 1000;
    for (let i = 0; i < MAX_ATTEMPTS + 3; i++) {
      await deliverOutbox(d);
      d.clock.advance(1_800_000);
    }
    expect(mailer.attempts).toBe(MAX_ATTEMPTS);
    expect(await store.delivered(flaky)).toMatchObject({ outcome: 'failed' });
    expect(await store.pending(10)).toEqual([]);
  });

  it('when two instances deliver the same effect at once, then one sends it', async () => {
    const { d, mailer } = setup();
    const id = effectId('x', 6);
    await recordEmail(d, id, 'test', message);
    await Promise.all([deliver(d, id), deliver(d, id), deliverOutbox(d)]);
    expect(mailer.attempts).toBe(1);
  });
});
