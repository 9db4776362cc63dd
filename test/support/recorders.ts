import { Unavailable } from '../../src/core/errors';
import type { Logger, MailMessage, Mailer } from '../../src/core/ports';

/** Keeps every message; `failNext` makes the next send fail as a provider outage. */
export class RecordingMailer implements Mailer {
  readonly sent: MailMessage[] = [];
  failNext = false;
  async send(m: MailMessage): Promise<{ id: string }> {
    if (this.failNext) {
      this.failNext = false;
      throw new Unavailable('mail provider down');
    }
    this.sent.push(m);
    return { id: `mail-${this.sent.length}` };
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
