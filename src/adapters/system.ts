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

/**
 * The crash points of `CONDUCTOR_CRASH_AT` (`step:N`, several separated by commas): SIGKILL this process the
 * N-th time `step` is reached. Undefined (no hook at all) when the setting is absent.
 */
export function crashPoints(setting: string | undefined, kill: () => void = () => process.kill(process.pid, 'SIGKILL')): ((step: string) => void) | undefined {
  if (!setting) return undefined;
  const targets = new Map<string, number>();
  for (const part of setting.split(',')) {
    const m = /^\s*(\w+)(?::(\d+))?\s*$/.exec(part);
    if (!m) throw new Error(`CONDUCTOR_CRASH_AT: '${part}' is not step or step:N`);
    targets.set(m[1] as string, Number(m[2] ?? 1));
  }
  const seen = new Map<string, number>();
  return (step) => {
    const n = (seen.get(step) ?? 0) + 1;
    seen.set(step, n);
    if (targets.get(step) === n) {
      process.stderr.write(`CONDUCTOR_CRASH_AT: crashing at ${step}:${n}\n`);
      kill();
    }
  };
}
