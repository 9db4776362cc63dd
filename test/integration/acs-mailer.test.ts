import { createHash, createHmac, randomBytes } from 'node:crypto';
import { request } from 'node:https';
import { startFakeAcs, type FakeAcs } from '../../local/fake-acs/server';
import { AcsMailer, type AcsMailerOptions } from '../../src/adapters/acs-mailer';
import { Rejected, Unavailable } from '../../src/core/errors';
import type { MailMessage } from '../../src/core/ports';
import { RecordingLogger } from '../support/recorders';

const message: MailMessage = {
  to: ['approver@example.com', 'second@example.com'],
  cc: ['ops@example.com'],
  subject: 'Approve: month-end load ✓',
  html: '<p>Review <a href="https://x/api/restart?token=t0k">here</a></p>',
  text: 'Review: https://x/api/restart?token=t0k',
};
const sender = 'DoNotReply@conductor.example.com';

describe('AcsMailer against the fake ACS over HTTPS', () => {
  let acs: FakeAcs;
  // Delivery never completes unless a test says so: send must not wait for it.
  beforeEach(async () => {
    acs = await startFakeAcs({ deliveryDelayMs: null });
  });
  afterEach(async () => {
    await acs.close();
  });

  const mailer = (over: Partial<AcsMailerOptions> = {}) =>
    new AcsMailer({
      connectionString: acs.connectionString,
      sender,
      tlsCa: acs.ca,
      retryOptions: { maxRetries: 0 },
      ...over,
    });

  it('when a message is sent, then exactly one signed POST /emails:send carries sender, recipients, subject and both bodies', async () => {
    const logger = new RecordingLogger();
    const { id } = await mailer({ logger }).send(message);

    const posts = acs.requests.filter((r) => r.method === 'POST');
    expect(posts).toHaveLength(1);
    const post = posts[0]!;
    expect(post.path).toBe('/emails:send');
    expect(post.query['api-version']).toMatch(/^\d{4}-\d{2}-\d{2}/);
    expect(post.signatureValid).toBe(true);
    expect(post.contentHashValid).toBe(true);
    expect(post.headers['authorization']).toMatch(/^HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=/);
    expect(post.status).toBe(202);
    expect(post.body).toEqual({
      senderAddress: sender,
      recipients: {
        to: [{ address: 'approver@example.com' }, { address: 'second@example.com' }],
        cc: [{ address: 'ops@example.com' }],
      },
      content: { subject: message.subject, html: message.html, plainText: message.text },
    });
    // The id is the ACS operation id, chosen by us and sent as Operation-Id so retries are idempotent.
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(post.headers['operation-id']).toBe(id);
    expect(acs.operations.get(id)?.status).toBe('Running');
    // Recipients and bodies never reach the log.
    const log = logger.lines.join('\n');
    expect(log).toContain(id);
    expect(log).not.toMatch(/example\.com|Review|t0k/);
  });

  it('when delivery never completes, then send still resolves at once and the status can be read later', async () => {
    const m = mailer();
    const started = Date.now();
    const { id } = await m.send(message);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(acs.requests.filter((r) => r.method === 'GET').length).toBeLessThanOrEqual(1);

    await expect(m.deliveryStatus(id)).resolves.toBe('Running');
    acs.setStatus(id, 'Succeeded');
    await expect(m.deliveryStatus(id)).resolves.toBe('Succeeded');
    acs.setStatus(id, 'Failed');
    await expect(m.deliveryStatus(id)).resolves.toBe('Failed');
    expect(acs.requests.every((r) => r.signatureValid)).toBe(true);
  });

  it('when the access key is wrong, then the fake answers 401 and send fails with Rejected', async () => {
    const wrongKey = randomBytes(64).toString('base64');
    const m = mailer({ connectionString: `endpoint=${acs.url}/;accesskey=${wrongKey}` });

    const error: unknown = await m.send(message).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Rejected);
    expect((error as Rejected).upstreamCode).toBe('Denied');
    expect(acs.requests).toHaveLength(1);
    expect(acs.requests[0]).toMatchObject({ method: 'POST', signatureValid: false, status: 401 });
    expect(acs.operations.size).toBe(0);
  });

  it('when the service throttles, then send fails with Throttled carrying Retry-After', async () => {
    acs.failNext({ status: 429, retryAfter: 7 });
    await expect(mailer().send(message)).rejects.toEqual(expect.objectContaining({ name: 'Throttled', retryAfter: 7 }));
    await expect(mailer().send(message)).resolves.toEqual({ id: expect.any(String) });
  });

  it('when the service fails with 5xx, then send fails with Unavailable', async () => {
    acs.failNext({ status: 503 });
    await expect(mailer().send(message)).rejects.toBeInstanceOf(Unavailable);
    expect(acs.operations.size).toBe(0);
  });

  it('when the message is invalid, then the 400 becomes Rejected', async () => {
    const e: unknown = await mailer()
      .send({ ...message, to: ['not-an-address'], cc: [] })
      .catch((err: unknown) => err);
    expect(e).toBeInstanceOf(Rejected);
    expect((e as Rejected).upstreamCode).toBe('BadRequest');
  });

  it('when the response to an accepted send is lost and the SDK retries, then one email is queued and the same id returned', async () => {
    acs.failNext({ status: 500, afterAccept: true });
    const { id } = await mailer({ retryOptions: { maxRetries: 2, retryDelayInMs: 10, maxRetryDelayInMs: 20 } }).send(message);

    const posts = acs.requests.filter((r) => r.method === 'POST');
    expect(posts.map((p) => p.status)).toEqual([500, 202]);
    expect(posts[1]?.duplicate).toBe(true);
    expect(posts.every((p) => p.operationId === id && p.signatureValid)).toBe(true);
    expect(acs.operations.size).toBe(1);
  });

  it('when the service is unreachable, then send fails with Unavailable', async () => {
    const m = mailer();
    await acs.close();
    await expect(m.send(message)).rejects.toBeInstanceOf(Unavailable);
    acs = await startFakeAcs(); // for afterEach
  });

  it('when the CA is not trusted, then send fails and nothing is accepted', async () => {
    const m = new AcsMailer({ connectionString: acs.connectionString, sender, retryOptions: { maxRetries: 0 } });
    await expect(m.send(message)).rejects.toBeInstanceOf(Unavailable);
    expect(acs.requests).toHaveLength(0);
  });
});

describe('AcsMailer construction', () => {
  it('when neither a connection string nor an endpoint and credential are given, then it refuses to build', () => {
    expect(() => new AcsMailer({ sender })).toThrow(/connectionString/);
  });
});

describe('the fake ACS itself', () => {
  let acs: FakeAcs;
  beforeAll(async () => {
    acs = await startFakeAcs();
  });
  afterAll(async () => {
    await acs.close();
  });

  /** Signs like communicationAccessKeyCredentialPolicy, then optionally swaps the body. */
  const post = (body: string, sentBody = body) =>
    new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
      const url = new URL(`${acs.url}/emails:send?api-version=2025-09-01`);
      const date = new Date().toUTCString();
      const hash = createHash('sha256').update(body).digest('base64');
      const toSign = `POST\n${url.pathname}?${url.searchParams.toString()}\n${date};${url.host};${hash}`;
      const signature = createHmac('sha256', Buffer.from(acs.accessKey, 'base64')).update(toSign).digest('base64');
      const req = request(
        url,
        {
          method: 'POST',
          ca: acs.ca,
          headers: {
            'content-type': 'application/json',
            'x-ms-date': date,
            'x-ms-content-sha256': hash,
            authorization: `HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=${signature}`,
            'repeatability-request-id': 'rr-1',
            'repeatability-first-sent': date,
          },
        },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
        },
      );
      req.on('error', reject);
      req.end(sentBody);
    });

  const email = JSON.stringify({
    senderAddress: sender,
    recipients: { to: [{ address: 'a@example.com', displayName: 'A' }] },
    content: { subject: 's', plainText: 't' },
  });

  it('when the body does not match x-ms-content-sha256, then it answers 401', async () => {
    const res = await post(email, email.replace('"s"', '"S"'));
    expect(res.status).toBe(401);
    expect(acs.requests.at(-1)).toMatchObject({ contentHashValid: false, status: 401 });
  });

  it('when a request is signed per the ACS scheme, then it answers 202 with Operation-Location and records repeatability headers', async () => {
    const res = await post(email);
    expect(res.status).toBe(202);
    const { id, status } = JSON.parse(res.body) as { id: string; status: string };
    expect(status).toBe('Running');
    expect(res.headers['operation-id']).toBe(id);
    expect(res.headers['operation-location']).toBe(`${acs.url}/emails/operations/${id}?api-version=2025-09-01`);
    expect(acs.requests.at(-1)).toMatchObject({ signatureValid: true, repeatabilityRequestId: 'rr-1' });
    // The same Repeatability-Request-ID is the same operation, not a second email.
    const again = await post(email);
    expect((JSON.parse(again.body) as { id: string }).id).toBe(id);
    expect(acs.requests.at(-1)?.duplicate).toBe(true);
  });

  it('when ACS refuses the inline image, then the email goes again without it, once, and is accepted', async () => {
    const refusing = await startFakeAcs({ deliveryDelayMs: null, refusedAttachmentTypes: ['image/svg+xml'] });
    try {
      const logger = new RecordingLogger();
      const mailer = new AcsMailer({ connectionString: refusing.connectionString, sender, tlsCa: refusing.ca, retryOptions: { maxRetries: 0 }, logger });
      const withImage: MailMessage = { ...message, inline: [{ contentId: 'timeline', name: 'timeline.svg', contentType: 'image/svg+xml', contentBase64: Buffer.from('<svg/>').toString('base64') }] };
      const { id } = await mailer.send(withImage, { idempotencyKey: '6a1f1b43-59c5-4b57-a2f4-0c5a4b9f4c11', firstAttemptAt: new Date() });

      const posts = refusing.requests.filter((r) => r.method === 'POST');
      expect(posts.map((p) => p.status)).toEqual([400, 202]);
      expect((posts[0]!.body as { attachments?: unknown[] }).attachments).toHaveLength(1);
      expect((posts[1]!.body as { attachments?: unknown[] }).attachments).toBeUndefined();
      expect(refusing.operations.get(id)).toBeDefined();
      expect(logger.lines.some((l) => l.includes('sending it without them'))).toBe(true);
    } finally {
      await refusing.close();
    }
  });
});
