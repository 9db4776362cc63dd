import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OutboxMailer, readOutbox } from '../../src/adapters/outbox-mailer';
import { FixedClock } from '../support/fixed-clock';

/** Minimal MIME reader: the decoded body of the part with the given content type. */
function part(eml: string, type: string): { headers: string; body: string } {
  const boundary = /boundary="([^"]+)"/.exec(eml)?.[1];
  if (!boundary) throw new Error('no boundary');
  const parts = eml.split(`--${boundary}`).slice(1, -1);
  const found = parts.find((p) => p.includes(`Content-Type: ${type};`));
  if (!found) throw new Error(`no ${type} part`);
  const [headers = '', encoded = ''] = found.replace(/^\r\n/, '').split('\r\n\r\n');
  expect(headers).toContain('Content-Transfer-Encoding: base64');
  return { headers, body: Buffer.from(encoded.replace(/\r\n/g, ''), 'base64').toString('utf8') };
}

describe('OutboxMailer', () => {
  let dir: string;
  beforeEach(async () => {
    dir = join(await mkdtemp(join(tmpdir(), 'outbox-')), 'nested', 'outbox');
  });
  afterEach(async () => {
    await rm(join(dir, '..', '..'), { recursive: true, force: true });
  });

  const message = {
    to: ['approver@example.com', 'second@example.com'],
    cc: ['ops@example.com'],
    subject: 'Approve: Zürich load ✓ — month end',
    html: '<p>Review <a href="https://x/api/restart?token=t0k">here</a> ünïcödé</p>',
    text: 'Review: https://x/api/restart?token=t0k ünïcödé',
  };

  it('when a message is sent, then the folder is created with .eml, .html and .json files named by time and id', async () => {
    const clock = new FixedClock(Date.parse('2030-01-02T03:04:05.678Z'));
    const { id } = await new OutboxMailer(dir, clock).send(message);

    const files = (await readdir(dir)).sort();
    const base = `2030-01-02T03-04-05.678Z_${id}`;
    expect(files).toEqual([`${base}.eml`, `${base}.html`, `${base}.json`]);
    expect(await readFile(join(dir, `${base}.html`), 'utf8')).toBe(message.html);
    expect(JSON.parse(await readFile(join(dir, `${base}.json`), 'utf8'))).toEqual({
      id,
      ...message,
      createdAt: '2030-01-02T03:04:05.678Z',
    });
  });

  it('when a message is sent, then the .eml is multipart/alternative with a text and an html part and encoded headers', async () => {
    const clock = new FixedClock(Date.parse('2030-01-02T03:04:05.678Z'));
    const { id } = await new OutboxMailer(dir, clock).send(message);
    const name = (await readdir(dir)).find((f) => f.endsWith('.eml'));
    const eml = await readFile(join(dir, name ?? 'missing'), 'utf8');

    // Headers as a mail client reads them: RFC 5322 unfolding (a CRLF before white space is removed).
    const head = eml.slice(0, eml.indexOf('\r\n\r\n')).replace(/\r\n(?=[ \t])/g, '');
    expect(head).toMatch(/^To: approver@example\.com, second@example\.com$/m);
    expect(head).toMatch(/^Cc: ops@example\.com$/m);
    expect(head).toMatch(/^Date: Wed, 0?2 Jan 2030 03:04:05 \+0000$/m);
    expect(head).toContain(`Message-ID: <${id}@adf-conductor.local>`);
    expect(head).toMatch(/^MIME-Version: 1\.0$/m);
    expect(head).toMatch(/^Content-Type: multipart\/alternative; boundary="/m);
    // RFC 2047: non-ASCII subject as encoded words, which decode back to the subject.
    const subject = /^Subject: ([\s\S]*?)\r\n(?=\S)/m.exec(head)?.[1] ?? '';
    expect(subject).toMatch(/^=\?UTF-8\?B\?/);
    const decoded = [...subject.matchAll(/=\?UTF-8\?B\?([^?]*)\?=/g)]
      .map((m) => Buffer.from(m[1] ?? '', 'base64').toString('utf8'))
      .join('');
    expect(decoded).toBe(message.subject);
    expect(eml.split('\r\n').every((line) => line.length <= 998)).toBe(true);

    expect(part(eml, 'text/plain').body).toBe(message.text);
    expect(part(eml, 'text/plain').headers).toMatch(/charset=UTF-8/i); // MIME parameter values are case-insensitive
    expect(part(eml, 'text/html').body).toBe(message.html);
  });

  it('when a subject or address carries a line break, then no header is injected', async () => {
    await new OutboxMailer(dir).send({ ...message, cc: undefined, subject: 'hi\r\nBcc: evil@example.com', to: ['a@example.com\r\nX-Evil: 1'] });
    const name = (await readdir(dir)).find((f) => f.endsWith('.eml'));
    const eml = await readFile(join(dir, name ?? 'missing'), 'utf8');
    expect(eml).not.toMatch(/^Bcc:/m);
    expect(eml).not.toMatch(/^X-Evil:/m);
    expect(eml).not.toMatch(/^Cc:/m);
  });

  it('when several messages are sent, then readOutbox returns them oldest first, including same-millisecond ones', async () => {
    const clock = new FixedClock(Date.parse('2030-01-02T03:04:05.000Z'));
    const mailer = new OutboxMailer(dir, clock);
    const a = await mailer.send({ ...message, subject: 'a' });
    clock.advance(1000);
    const b = await mailer.send({ ...message, subject: 'b', cc: undefined });
    const c = await mailer.send({ ...message, subject: 'c' });
    const d = await mailer.send({ ...message, subject: 'd' });

    const all = await readOutbox(dir);
    expect(all.map((m) => m.id)).toEqual([a.id, b.id, c.id, d.id]);
    expect(all.map((m) => m.subject)).toEqual(['a', 'b', 'c', 'd']);
    expect(all[1]).toEqual({ id: b.id, ...message, subject: 'b', cc: [], createdAt: '2030-01-02T03:04:06.000Z' });
  });

  it('when the folder does not exist, then readOutbox returns an empty list', async () => {
    await expect(readOutbox(join(dir, 'missing'))).resolves.toEqual([]);
  });
});
