/**
 * OutboxMailer: the Mailer of the local stack and of tests. Each message becomes three files in
 * one folder, named `<ISO timestamp with ':' → '-'>_<id>.<ext>` so a listing sorts by time:
 * - `.eml`: RFC 5322 / MIME, multipart/alternative (text/plain + text/html, UTF-8, base64), opens in any mail client;
 *   composed by nodemailer's MailComposer (header encoding and folding, RFC 2047 subjects, no header injection);
 * - `.html`: the HTML body alone, to open in a browser;
 * - `.json`: `{id, to, cc, subject, html, text, createdAt}`, what tests and the demo read.
 * The `.json` is written last and atomically (rename), so a reader never sees half a message.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import MailComposer from 'nodemailer/lib/mail-composer';
import type { Clock, InlineImage, MailMessage, Mailer, SendOptions } from '../core/ports';

export interface OutboxEntry {
  id: string;
  to: string[];
  cc: string[];
  subject: string;
  html: string;
  text: string;
  /** Inline images (`cid:` in the HTML), as sent. */
  inline?: InlineImage[];
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

  /**
   * With an idempotency key the files are named after it, and a resend of the same key writes nothing
   * (as ACS dedupes a repeated request): the durable outbox may send again after a crash.
   */
  async send(message: MailMessage, options?: SendOptions): Promise<{ id: string }> {
    const id = options?.idempotencyKey ?? randomUUID();
    if (options && (await this.accepted(id))) return { id };
    const now = this.clock.now();
    const entry: OutboxEntry = {
      id,
      to: [...message.to],
      cc: [...(message.cc ?? [])],
      subject: message.subject,
      html: message.html,
      text: message.text,
      ...(message.inline?.length ? { inline: message.inline } : {}),
      createdAt: now.toISOString(),
    };
    const base = join(this.dir, `${entry.createdAt.replace(/:/g, '-')}_${id}`);
    await mkdir(this.dir, { recursive: true });
    await writeFile(`${base}.eml`, await toEml(entry, this.from, now));
    await writeFile(`${base}.html`, entry.html, 'utf8');
    await writeFile(`${base}.json.tmp`, JSON.stringify(entry, null, 2), 'utf8');
    await rename(`${base}.json.tmp`, `${base}.json`);
    return { id };
  }

  async accepted(idempotencyKey: string): Promise<boolean> {
    try {
      return (await readdir(this.dir)).some((n) => n.endsWith(`_${idempotencyKey}.json`));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
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

/** The RFC 5322 message of an entry. */
function toEml(entry: OutboxEntry, from: string, date: Date): Promise<Buffer> {
  return new MailComposer({
    from,
    to: entry.to,
    cc: entry.cc,
    subject: entry.subject,
    text: entry.text,
    html: entry.html,
    attachments: (entry.inline ?? []).map((i) => ({ cid: i.contentId, filename: i.name, contentType: i.contentType, content: i.contentBase64, encoding: 'base64' })),
    date,
    messageId: `<${entry.id}@adf-conductor.local>`,
    textEncoding: 'base64',
  })
    .compile()
    .build();
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
