import { Unavailable } from '../../src/core/errors';
import type { Callbacks, Logger, MailMessage, Mailer, SendOptions } from '../../src/core/ports';

/**
 * Keeps every message; `failNext` makes the next send fail as a provider outage, `failures` the next n.
 * Like ACS within its repeatability window, a resend with an idempotency key already accepted is not kept twice.
 */
export class RecordingMailer implements Mailer {
  readonly sent: MailMessage[] = [];
  readonly keys = new Set<string>();
  attempts = 0;
  failNext = false;
  failures = 0;
  async send(m: MailMessage, options?: SendOptions): Promise<{ id: string }> {
    this.attempts++;
    if (this.failNext || this.failures > 0) {
      this.failNext = false;
      this.failures = Math.max(0, this.failures - 1);
      throw new Unavailable('mail provider down');
    }
    if (options && this.keys.has(options.idempotencyKey)) return { id: options.idempotencyKey };
    if (options) this.keys.add(options.idempotencyKey);
    this.sent.push(m);
    return { id: options?.idempotencyKey ?? `mail-${this.sent.length}` };
  }
  async accepted(key: string): Promise<boolean> {
    return this.keys.has(key);
  }
}

/** Keeps every log line as `<level> <message> <fields as JSON>`. */
export class RecordingLogger implements Logger {
  readonly lines: string[] = [];
  info(m: string, f?: Record<string, unknown>): void {
    this.lines.push(`info ${m} ${JSON.stringify(f ?? {})}`);
  }
  warn(m: string, f?: Record<string, unknown>): void {
    this.lines.push(`warn ${m} ${JSON.stringify(f ?? {})}`);
  }
  error(m: string, f?: Record<string, unknown>): void {
    this.lines.push(`error ${m} ${JSON.stringify(f ?? {})}`);
  }
}

/** Keeps every callback POST; `statuses` scripts the next answers (200 once exhausted), `unreachable` the next failures. */
export class RecordingCallbacks implements Callbacks {
  readonly posts: Array<{ uri: string; body: any; status: number }> = [];
  statuses: number[] = [];
  unreachable = 0;
  async post(uri: string, body: unknown): Promise<number> {
    if (this.unreachable > 0) {
      this.unreachable--;
      throw new Unavailable('receiver unreachable');
    }
    const status = this.statuses.shift() ?? 200;
    this.posts.push({ uri, body, status });
    return status;
  }
  /** The callbacks the receiver accepted (2xx). */
  accepted(): Array<{ uri: string; body: any }> {
    return this.posts.filter((p) => p.status >= 200 && p.status < 300);
  }
}
