/**
 * OutboxMailer: the Mailer of the local stack and of tests. Each message becomes three files in
 * one folder, named `<ISO timestamp with ':' → '-'>_<id>.<ext>` so a listing sorts by time:
 * - `.eml`: RFC 5322 / MIME, multipart/alternative (text/plain + text/html, UTF-8, base64), opens in any mail client;
 * - `.html`: the HTML body alone, to open in a browser;
 * - `.json`: `{id, to, cc, subject, html, text, createdAt}`, what tests and the demo read.
 * The `.json` is written last and atomically (rename), so a reader never sees half a message.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock, MailMessage, Mailer } from '../core/ports';

export interface OutboxEntry {
  id: string;
  to: string[];
  cc: string[];
  subject: string;
  html: string;
  text: string;
  /** ISO 8601 */
  createdAt: string;
}

export interface OutboxMailerOptions {
  /** The From header of the `.eml`. */
  from?: string;
}

const systemClock: Clock = { now: () => new Date() };

export class OutboxMailer implements Mailer {
  private readonly from: string;

  constructor(
    private readonly dir: string,
    private readonly clock: Clock = systemClock,
    options: OutboxMailerOptions = {},
  ) {
    this.from = options.from ?? 'adf-conductor <no-reply@adf-conductor.local>';
  }

  async send(message: MailMessage): Promise<{ id: string }> {
    const id = randomUUID();
    const now = this.clock.now();
    const entry: OutboxEntry = {
      id,
      to: [...message.to],
      cc: [...(message.cc ?? [])],
      subject: message.subject,
      html: message.html,
      text: message.text,
      createdAt: now.toISOString(),
    };
    const base = join(this.dir, `${entry.createdAt.replace(/:/g, '-')}_${id}`);
    await mkdir(this.dir, { recursive: true });
    await writeFile(`${base}.eml`, toEml(entry, this.from, now), 'utf8');
    await writeFile(`${base}.html`, entry.html, 'utf8');
    await writeFile(`${base}.json.tmp`, JSON.stringify(entry, null, 2), 'utf8');
    await rename(`${base}.json.tmp`, `${base}.json`);
    return { id };
  }
}

/** Every message in the outbox, oldest first. A missing folder is an empty outbox. */
export async function readOutbox(dir: string): Promise<OutboxEntry[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const loaded = await Promise.all(
    names
      .filter((n) => n.endsWith('.json'))
      .map(async (name) => {
        const path = join(dir, name);
        const [raw, info] = await Promise.all([readFile(path, 'utf8'), stat(path, { bigint: true })]);
        return { name, entry: JSON.parse(raw) as OutboxEntry, mtime: info.mtimeNs };
      }),
  );
  // Same-millisecond messages (a fixed test clock) keep their write order through the mtime.
  loaded.sort(
    (a, b) =>
      compare(a.entry.createdAt, b.entry.createdAt) ||
      (a.mtime < b.mtime ? -1 : a.mtime > b.mtime ? 1 : 0) ||
      compare(a.name, b.name),
  );
  return loaded.map((l) => l.entry);
}

// ---- MIME ------------------------------------------------------------------------------

const CRLF = '\r\n';

/** Builds the RFC 5322 message. Exported for tests. */
export function toEml(entry: OutboxEntry, from: string, date: Date): string {
  const boundary = `=_conductor_${entry.id.replace(/-/g, '')}`;
  const headers = [
    `From: ${headerValue(from)}`,
    `To: ${addressList(entry.to)}`,
    ...(entry.cc.length > 0 ? [`Cc: ${addressList(entry.cc)}`] : []),
    `Subject: ${encodeSubject(entry.subject)}`,
    `Date: ${rfc5322Date(date)}`,
    `Message-ID: <${entry.id}@adf-conductor.local>`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/alternative; boundary="${boundary}"`,
  ];
  const part = (type: string, body: string) =>
    [
      `--${boundary}`,
      `Content-Type: ${type}; charset=UTF-8`,
      'Content-Transfer-Encoding: base64',
      '',
      base64Lines(body),
    ].join(CRLF);
  return [
    headers.join(CRLF),
    '',
    'This is a multi-part message in MIME format.',
    part('text/plain', entry.text),
    part('text/html', entry.html),
    `--${boundary}--`,
    '',
  ].join(CRLF);
}

/** Header injection guard: a value never spans lines. */
function headerValue(value: string): string {
  return value.replace(/[\r\n]+/g, ' ');
}

function addressList(addresses: string[]): string {
  return addresses.map(headerValue).join(`,${CRLF} `);
}

/** RFC 2047 `B` encoded-words of at most 75 characters, split on whole characters, when needed. */
export function encodeSubject(subject: string): string {
  const flat = headerValue(subject);
  if (/^[\x20-\x7e]*$/.test(flat) && flat.length <= 900) return flat;
  const words: string[] = [];
  let chunk = '';
  for (const ch of flat) {
    // 45 bytes → 60 base64 characters → 72-character encoded word.
    if (Buffer.byteLength(chunk + ch, 'utf8') > 45) {
      words.push(chunk);
      chunk = '';
    }
    chunk += ch;
  }
  if (chunk !== '') words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w, 'utf8').toString('base64')}?=`).join(`${CRLF} `);
}

function base64Lines(body: string): string {
  const b64 = Buffer.from(body, 'utf8').toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 76) lines.push(b64.slice(i, i + 76));
  return lines.join(CRLF);
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function rfc5322Date(d: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    `${DAYS[d.getUTCDay()] ?? 'Sun'}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()] ?? 'Jan'} ${d.getUTCFullYear()} ` +
    `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`
  );
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
