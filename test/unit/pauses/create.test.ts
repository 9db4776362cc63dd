import { createPause, type PauseInput } from '../../../src/core/pauses/create';
import { PauseStore } from '../../../src/core/pauses/store';
import { DomainError } from '../../../src/core/errors';
import { PAUSE_LIMITS } from '../../../src/core/pauses/model';
import { BASE, everyRow, rejection, unescapeHtml, unitWorld } from './fakes';

const valid: PauseInput = { continuation: { pipeline: 'pl_continue', parameters: { region: 'EU' } }, data: { rows: 3 } };

const refusal = (p: Promise<unknown>) => rejection(p, DomainError);

describe('createPause', () => {
  it('when a pause is created, then it is Waiting, expires after the default TTL and its link carries the token', async () => {
    const w = unitWorld();
    const created = await createPause(w.deps, valid, BASE);
    expect(created.pause.status).toBe('Waiting');
    expect(created.pause.expiresAt).toBe('2026-03-02T10:15:00.000Z');
    expect(created.restartUrl).toBe(`${BASE}/api/restart#token=${created.token}`);
    expect(created.notified).toBeUndefined();
    expect(await new PauseStore(w.deps.tables).byToken(created.token)).toMatchObject({ pauseId: created.pause.pauseId });
  });

  it('when a pause is created, then no row holds the token or any 16-character piece of it', async () => {
    const w = unitWorld();
    const { token } = await createPause(w.deps, { ...valid, notify: { to: ['a@example.com'] } }, BASE);
    const stored = JSON.stringify([...(await everyRow(w.tables)).entries()]);
    expect(stored).toContain('tok_');
    for (let i = 0; i + 16 <= token.length; i++) expect(stored).not.toContain(token.slice(i, i + 16));
    expect(w.log.lines.join('\n')).not.toContain(token.slice(0, 16));
    expect(w.log.lines.join('\n')).not.toContain('a@example.com');
  });

  it.each([
    ['an object with text in many scripts', { name: 'Zoë', city: '東京', emoji: '🎉🚀', quote: '"\'<>&', nested: [1.5, null, true, { deep: [[]] }] }],
    ['a lone surrogate', { odd: '\ud800x\udfff' }],
    ['a bare string', 'just text'],
    ['a number', 0],
    ['null', null],
    ['an empty array', []],
  ])('when data is %s, then it is stored and read back exactly', async (_what, data) => {
    const w = unitWorld();
    const { pause } = await createPause(w.deps, { ...valid, data }, BASE);
    expect((await new PauseStore(w.deps.tables).get(pause.pauseId))?.data).toEqual(data);
  });

  it('when data is larger than one property, then it is split over properties with emoji on every cut and comes back exactly', async () => {
    const w = unitWorld();
    // 🎉 is a surrogate pair; with odd offsets every 30,000-character cut would land inside a pair if stored raw.
    const data = { blob: 'x'.repeat(8) + '🎉'.repeat(20_000), list: Array.from({ length: 2000 }, (_, i) => ({ i, v: `välue-${i}` })) };
    const { pause } = await createPause(w.deps, { ...valid, data }, BASE);
    const row = await w.deps.tables.table('Pauses').get(pause.pauseId, pause.pauseId);
    expect(Number(row?.props.dataChunks)).toBeGreaterThan(3);
    const lengths = Object.values(row?.props ?? {}).flatMap((v) => (typeof v === 'string' ? [v.length] : []));
    expect(Math.max(...lengths)).toBeLessThanOrEqual(30_000);
    expect((await new PauseStore(w.deps.tables).get(pause.pauseId))?.data).toEqual(data);
  });

  it('when data is just over the documented limit, then 413 PayloadTooLarge and nothing is stored; at the limit it is accepted', async () => {
    const w = unitWorld();
    const atLimit = 'a'.repeat(PAUSE_LIMITS.dataChars - 2); // the JSON quotes make it exactly the limit
    await expect(createPause(w.deps, { ...valid, data: atLimit }, BASE)).resolves.toBeDefined();
    const before = await everyRow(w.tables);
    const e = await refusal(createPause(w.deps, { ...valid, data: `${atLimit}a` }, BASE));
    expect([e.status, e.code]).toEqual([413, 'PayloadTooLarge']);
    expect(await everyRow(w.tables)).toEqual(before);
  });

  it('when the continuation parameters are too large, then 413 and nothing is stored', async () => {
    const w = unitWorld();
    const e = await refusal(createPause(w.deps, { continuation: { pipeline: 'pl_continue', parameters: { big: 'p'.repeat(PAUSE_LIMITS.parametersChars) } } }, BASE));
    expect([e.status, e.code]).toEqual([413, 'PayloadTooLarge']);
    expect((await everyRow(w.tables)).size).toBe(0);
  });

  it('when several things are wrong, then one 400 lists every path and nothing is stored', async () => {
    const w = unitWorld();
    w.deps.settings.defaultFactory = {};
    const e = await refusal(
      createPause(
        w.deps,
        {
          continuation: { pipeline: 'pl_continue', parameters: { pauseId: 'mine' } },
          onReject: { pipeline: 'pl_on_reject' },
          expiresInSeconds: w.deps.settings.pauseMaxTtlSeconds + 1,
          notify: { to: ['a@example.com'], template: 'no-such-template' },
        },
        BASE,
      ),
    );
    expect(e.status).toBe(400);
    expect(e.errors?.map((p) => p.path).sort()).toEqual(
      [
        'continuation.factory',
        'continuation.parameters.pauseId',
        'continuation.resourceGroup',
        'continuation.subscriptionId',
        'expiresInSeconds',
        'notify.template',
        'onReject.factory',
        'onReject.resourceGroup',
        'onReject.subscriptionId',
      ].sort(),
    );
    expect((await everyRow(w.tables)).size).toBe(0);
  });

  it.each([0, -5, 1.5, 2_592_001])('when expiresInSeconds is %p, then 400 on expiresInSeconds and nothing is stored', async (ttl) => {
    const w = unitWorld();
    const e = await refusal(createPause(w.deps, { ...valid, expiresInSeconds: ttl }, BASE));
    expect([e.status, e.errors?.[0]?.path]).toEqual([400, 'expiresInSeconds']);
    expect((await everyRow(w.tables)).size).toBe(0);
  });

  it('when expiresInSeconds is the maximum, then the pause expires exactly then', async () => {
    const w = unitWorld();
    const { pause } = await createPause(w.deps, { ...valid, expiresInSeconds: w.deps.settings.pauseMaxTtlSeconds }, BASE);
    expect(pause.expiresAt).toBe('2026-03-31T10:15:00.000Z');
  });

  it.each([
    ['continuation', { continuation: { pipeline: 'pl_missing' } }],
    ['onReject', { ...valid, onReject: { pipeline: 'pl_missing' } }],
  ])('when the %s pipeline does not exist, then 404 PipelineNotFound and nothing is stored', async (path, input) => {
    const w = unitWorld();
    const e = await refusal(createPause(w.deps, input, BASE));
    expect([e.status, e.code]).toEqual([404, 'PipelineNotFound']);
    expect(e.message).toContain(path);
    expect((await everyRow(w.tables)).size).toBe(0);
  });

  it('when notify is given, then one email with the link, message, pipeline and expiry goes through the mailer', async () => {
    const w = unitWorld();
    const created = await createPause(w.deps, { ...valid, notify: { to: ['a@example.com', 'b@example.com'], cc: ['c@example.com'], subject: 'Load EU?', message: 'Rows look odd' } }, BASE);
    expect(created.notified).toBe(true);
    expect(w.mailer.sent).toHaveLength(1);
    const mail = w.mailer.sent[0]!;
    expect([mail.to, mail.cc, mail.subject]).toEqual([['a@example.com', 'b@example.com'], ['c@example.com'], 'Load EU?']);
    for (const part of [mail.text, unescapeHtml(mail.html)]) {
      expect(part).toContain(created.restartUrl);
      expect(part).toContain('Rows look odd');
      expect(part).toContain('pl_continue');
      expect(part).toContain('2026-03-02 10:15 UTC');
    }
  });

  it('when the mail provider fails, then the pause still stands, the answer says notified: false and the log names no address', async () => {
    const w = unitWorld();
    w.mailer.failNext = true;
    const created = await createPause(w.deps, { ...valid, notify: { to: ['secret@example.com'] } }, BASE);
    expect(created.notified).toBe(false);
    expect(await new PauseStore(w.deps.tables).get(created.pause.pauseId)).toBeDefined();
    expect(w.log.lines.some((l) => l.startsWith('warn approval email not sent'))).toBe(true);
    expect(w.log.lines.join('\n')).not.toContain('secret@example.com');
  });

  it('when pauseIdParameter is false, then the continuation may use a parameter called pauseId itself', async () => {
    const w = unitWorld();
    const { pause } = await createPause(w.deps, { continuation: { pipeline: 'pl_continue', parameters: { pauseId: 'mine' }, pauseIdParameter: false } }, BASE);
    expect(pause.continuation?.pauseIdParameter).toBe(false);
  });
});
