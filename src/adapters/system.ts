import { randomBytes, randomUUID } from 'node:crypto';
import type { Clock, Ids, Logger } from '../core/ports';

export class SystemClock implements Clock {
  now(): Date {
    return new Date();
  }
}

export class CryptoIds implements Ids {
  newId(): string {
    return randomUUID();
  }
  randomBytes(n: number): Buffer {
    return randomBytes(n);
  }
}

type Sink = (level: 'info' | 'warn' | 'error', line: string) => void;

/** Structured one-line logs. Callers pass ids only: never tokens, keys or email addresses. */
export class LineLogger implements Logger {
  constructor(private readonly sink: Sink) {}
  private write(level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) {
    this.sink(level, fields && Object.keys(fields).length ? `${message} ${JSON.stringify(fields)}` : message);
  }
  info(m: string, f?: Record<string, unknown>) {
    this.write('info', m, f);
  }
  warn(m: string, f?: Record<string, unknown>) {
    this.write('warn', m, f);
  }
  error(m: string, f?: Record<string, unknown>) {
    this.write('error', m, f);
  }
}

export const consoleLogger = (quiet = false) =>
  new LineLogger((level, line) => {
    if (quiet && level === 'info') return;
    (level === 'info' ? console.log : level === 'warn' ? console.warn : console.error)(`[${level}] ${line}`);
  });

/** Logs through a Functions InvocationContext (so the host correlates them with the invocation). */
export const contextLogger = (ctx: { log(...a: unknown[]): void; warn(...a: unknown[]): void; error(...a: unknown[]): void }) =>
  new LineLogger((level, line) => (level === 'info' ? ctx.log(line) : level === 'warn' ? ctx.warn(line) : ctx.error(line)));
