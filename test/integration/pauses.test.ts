import { readOutbox } from '../../src/adapters/outbox-mailer';
import { startTestStack, type TestStack } from '../support/test-stack';
import { everyEntity, newPause } from './pauses-support';

const scenario = { pipelines: { pl_continue: { durationMs: 100 }, pl_on_reject: { durationMs: 100 } }, unknownPipelines: 'notFound' as const };

describe('PausePipeline and GetPause on the local stack', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ scenario });
  });
  afterAll(() => stack.close());

  it('when a pause is created, then the token is 86 base64url characters and no entity of any table holds it or any 16-character piece of it', async () => {
    const res = await stack.call('POST', '/pauses', { continuation: { pipeline: 'pl_continue' }, data: { k: 'v' }, notify: { to: ['approver@example.com'] } });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ status: 'Waiting', pauseId: expect.any(String), expiresAt: expect.any(String), notified: true });
    const token = res.json.token as string;
    expect(token).toMatch(/^[A-Za-z0-9_-]{86}$/);
    expect(Buffer.from(token, 'base64url')).toHaveLength(64);
    expect(res.json.restartUrl).toBe(`${stack.host.url}/api/restart#token=${token}`);
    const entities = await everyEntity(stack);
    expect(entities.length).toBeGreaterThanOrEqual(4); // the pause, its token lookup, its expiry index row, the cursor
    const all = entities.join('\n');
    expect(all).toContain(res.json.pauseId);
    for (let i = 0; i + 16 <= token.length; i++) expect(all).not.toContain(token.slice(i, i + 16));
  });

  it('when data of any JSON shape is given, then GetPause returns it exactly, including data far larger than one property', async () => {
    const shapes: unknown[] = [
      { nested: { list: [1, 2.5, -3e-7, null, true, false, ''], text: 'Zoë 東京 🎉 "quoted" \\ back' }, empty: {} },
      'a bare string',
      42,
      null,
      [[], {}, [{}]],
      { big: '0123456789'.repeat(20_000), rows: Array.from({ length: 3000 }, (_, i) => ({ id: i, name: `row ${i} ✓` })) },
    ];
    for (const data of shapes) {
      const { pauseId } = await newPause(stack, { continuation: { pipeline: 'pl_continue' }, data });
      const got = await stack.call('GET', `/pauses/${pauseId}`);
      expect(got.status).toBe(200);
      expect(got.json.data).toEqual(data);
    }
  });

  it('when GetPause is read, then it shows the contract view: status, continuation, data and times', async () => {
    const { pauseId, expiresAt } = await newPause(stack, { continuation: { pipeline: 'pl_continue', parameters: { region: 'EU' } }, data: [1], expiresInSeconds: 600 });
    const got = await stack.call('GET', `/pauses/${pauseId}`);
    expect(got.json).toEqual({
      pauseId,
      status: 'Waiting',
      continuation: { pipeline: 'pl_continue', factory: 'adf-test', resourceGroup: 'rg-test', subscriptionId: '00000000-0000-0000-0000-000000000000', parameters: { region: 'EU' }, pauseIdParameter: 'pauseId' },
      data: [1],
      createdAt: expect.any(String),
      expiresAt,
    });
    expect(Date.parse(expiresAt) - Date.parse(got.json.createdAt)).toBe(600_000);
    expect((await stack.call('GET', '/pauses/no-such-pause')).json.code).toBe('PauseNotFound');
  });

  describe('bad input gives a 4xx problem+json and stores nothing', () => {
    const cases: Array<[string, unknown, number, string, string[]]> = [
      ['a missing continuation', { data: { a: 1 } }, 400, 'ValidationFailed', ['continuation']],
      ['an unknown continuation pipeline', { continuation: { pipeline: 'pl_nope' } }, 404, 'PipelineNotFound', []],
      ['an unknown onReject pipeline', { continuation: { pipeline: 'pl_continue' }, onReject: { pipeline: 'pl_nope' } }, 404, 'PipelineNotFound', []],
      ['an expiry of 0', { continuation: { pipeline: 'pl_continue' }, expiresInSeconds: 0 }, 400, 'ValidationFailed', ['expiresInSeconds']],
      ['an expiry over the maximum', { continuation: { pipeline: 'pl_continue' }, expiresInSeconds: 2_592_001 }, 400, 'ValidationFailed', ['expiresInSeconds']],
      ['a fractional expiry', { continuation: { pipeline: 'pl_continue' }, expiresInSeconds: 1.5 }, 400, 'ValidationFailed', ['expiresInSeconds']],
      ['an expiry given as a string', { continuation: { pipeline: 'pl_continue' }, expiresInSeconds: '60' }, 400, 'ValidationFailed', ['expiresInSeconds']],
      ['a non-JSON body', '{"continuation": ', 400, 'MalformedJson', []],
      ['data over the documented limit', { continuation: { pipeline: 'pl_continue' }, data: 'x'.repeat(450_001) }, 413, 'PayloadTooLarge', []],
      ['a body over 1 MiB', { continuation: { pipeline: 'pl_continue' }, data: 'x'.repeat(1_100_000) }, 413, 'PayloadTooLarge', []],
      ['an unknown email template', { continuation: { pipeline: 'pl_continue' }, notify: { to: ['a@example.com'], template: 'nope' } }, 400, 'ValidationFailed', ['notify.template']],
      [
        'many mistakes at once',
        { continuation: { pipeline: 'bad/name', parameters: { 'not-an-identifier': 1 }, extra: true }, expiresInSeconds: -1, notify: { to: ['not-an-email'], subject: 'two\nlines' } },
        400,
        'ValidationFailed',
        ['continuation.pipeline', 'continuation.parameters.not-an-identifier', 'continuation.extra', 'expiresInSeconds', 'notify.to[0]', 'notify.subject'],
      ],
    ];
    it.each(cases)('when the request has %s, then it is refused as such', async (_what, body, status, code, paths) => {
      const before = await everyEntity(stack);
      const res = await stack.call('POST', '/pauses', body, typeof body === 'string' ? { 'content-type': 'application/json' } : {});
      expect([res.status, res.json?.code]).toEqual([status, code]);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      if (paths.length) expect(res.json.errors.map((e: { path: string }) => e.path)).toEqual(expect.arrayContaining(paths));
      expect(await everyEntity(stack)).toEqual(before);
    });
  });

  it('when notify is given, then the outbox email holds the link, the message, the pipeline and the expiry, as HTML and text', async () => {
    const before = (await readOutbox(stack.outbox)).length;
    const { restartUrl, pauseId } = await newPause(stack, {
      continuation: { pipeline: 'pl_continue' },
      data: { month: '2026-02' },
      expiresInSeconds: 7200,
      notify: { to: ['approver@example.com'], cc: ['ops@example.com'], subject: 'Approve the February load', message: 'Row counts are 3% lower than January.' },
    });
    const mails = await readOutbox(stack.outbox);
    expect(mails).toHaveLength(before + 1);
    const mail = mails[mails.length - 1]!;
    expect([mail.to, mail.cc, mail.subject]).toEqual([['approver@example.com'], ['ops@example.com'], 'Approve the February load']);
    const expiry = (await stack.call('GET', `/pauses/${pauseId}`)).json.expiresAt as string;
    const readable = `${expiry.slice(0, 10)} ${expiry.slice(11, 16)} UTC`;
    const html = mail.html.replace(/&#x2F;/g, '/').replace(/&#x3D;/g, '=');
    for (const body of [mail.text, html]) {
      expect(body).toContain(restartUrl);
      expect(body).toContain('Row counts are 3% lower than January.');
      expect(body).toContain('pl_continue');
      expect(body).toContain(readable);
    }
    expect(mail.html).toMatch(/<a href="[^"]*restart#token&#x3D;/);
  });
});
