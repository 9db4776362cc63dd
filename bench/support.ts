/**
 * Small helpers for the benchmark: timing, percentiles, RSS sampling, bounded concurrency, deadlines,
 * and a plain-text table. Nothing here knows the app.
 */
import fs from 'node:fs';
import os from 'node:os';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs `fn` over `items` with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** The p-th percentile (0..100) by nearest rank; NaN for no samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

export const round = (n: number, digits = 1) => (Number.isFinite(n) ? Math.round(n * 10 ** digits) / 10 ** digits : n);
export const mib = (bytes: number) => round(bytes / 1024 / 1024, 1);

/** Samples process RSS every `everyMs` while running; `stop()` gives the peak and the RSS at start. */
export class RssSampler {
  private peak = 0;
  private readonly base: number;
  private readonly timer: NodeJS.Timeout;

  constructor(everyMs = 20) {
    this.base = process.memoryUsage().rss;
    this.peak = this.base;
    this.timer = setInterval(() => {
      this.peak = Math.max(this.peak, process.memoryUsage().rss);
    }, everyMs);
  }

  stop(): { peakRss: number; baseRss: number } {
    clearInterval(this.timer);
    this.peak = Math.max(this.peak, process.memoryUsage().rss);
    return { peakRss: this.peak, baseRss: this.base };
  }
}

export class TimeoutError extends Error {
  override name = 'TimeoutError';
}

/** Rejects after `ms` (the work itself goes on: callers stop starting new work once a deadline passed). */
export function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what}: no result after ${Math.round(ms / 1000)} s`)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/** Polls `check` every `everyMs` until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function waitFor<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs: number, what: string, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new TimeoutError(`${what}: not reached after ${Math.round(timeoutMs / 1000)} s`);
    await sleep(everyMs);
  }
}

/** CPU seconds of a process from /proc (Linux); undefined elsewhere or when it is gone. */
export function processCpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 10 ms
  } catch {
    return undefined;
  }
}

/**
 * Where the time went: this process's CPU (bench, emulator, app, local host), Azurite's CPU (its own
 * process), wall time, and the machine's 1-minute load average before and after (other work on the
 * machine slows every figure; the load shows it).
 */
export function cpuMeter(azuritePid: number | undefined) {
  const wall0 = performance.now();
  const cpu0 = process.cpuUsage();
  const az0 = processCpuSeconds(azuritePid);
  const load0 = os.loadavg()[0] ?? 0;
  return () => {
    const cpu = process.cpuUsage(cpu0);
    const az1 = processCpuSeconds(azuritePid);
    return {
      wallSeconds: round((performance.now() - wall0) / 1000, 1),
      benchCpuSeconds: round((cpu.user + cpu.system) / 1e6, 1),
      azuriteCpuSeconds: az0 !== undefined && az1 !== undefined ? round(az1 - az0, 1) : null,
      loadAverage1mBefore: round(load0, 2),
      loadAverage1mAfter: round(os.loadavg()[0] ?? 0, 2),
    };
  };
}

export type CpuReport = ReturnType<ReturnType<typeof cpuMeter>>;

export function machine() {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cpuCount: cpus.length,
    totalMemoryBytes: os.totalmem(),
    totalMemoryGiB: round(os.totalmem() / 1024 ** 3, 1),
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
  };
}

/** A plain-text table: first row is the header. */
export function table(rows: ReadonlyArray<ReadonlyArray<string | number>>): string {
  const cells = rows.map((r) => r.map((c) => (typeof c === 'number' ? formatNumber(c) : c)));
  const widths = cells[0]?.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length))) ?? [];
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  const [head, ...body] = cells;
  return [line(head ?? []), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Number.isInteger(n)) return n.toLocaleString('en-US');
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : String(round(n, n >= 10 ? 1 : 2));
}
