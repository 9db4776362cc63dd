/**
 * The indexes behind the factory emulator's state: each factory's runs by change time (overall and per
 * pipeline) and by run group, and the heap of due transitions.
 */
import { compare, type Run } from './model';

export interface FactoryState {
  runs: Map<string, Run>;
  /** Runs created so far per pipeline (lower-cased name), for `outcomes` sequences. */
  runCounts: Map<string, number>;
  index: RunIndex;
}

interface LogEntry {
  at: number;
  run: Run;
  seq: number;
}

const isLive = (e: LogEntry) => e.seq === e.run.seq && !e.run.evicted;

/** The default order of a run query: lastUpdated, then runId. */
export type RunKey = [number, string];
const atOrBefore = (e: LogEntry, [at, runId]: RunKey) => e.at < at || (e.at === at && e.run.runId <= runId);

/**
 * Runs in (lastUpdated, runId) order: one entry per change. Entries are appended in time order (the
 * emulator's clock never goes back) and the newest are sorted by runId among equal times on the next read;
 * a run's older entries are superseded and skipped. A query binary-searches its window (or its continuation
 * key) and reads only as far as one page needs, so its cost does not grow with the runs outside the window.
 */
export class ChangeLog {
  private entries: LogEntry[] = [];
  /** entries[0, sorted) are in (at, runId) order; later ones only in `at` order. */
  private sorted = 0;
  private superseded = 0;

  append(run: Run): void {
    if (run.seq > 0) this.superseded++;
    this.entries.push({ at: run.lastUpdated, run, seq: run.seq });
    this.compactIfNeeded();
  }

  dropped(): void {
    this.superseded++;
    this.compactIfNeeded();
  }

  private compactIfNeeded(): void {
    if (this.superseded > 1024 && this.superseded * 2 > this.entries.length) {
      this.ensureSorted();
      this.entries = this.entries.filter(isLive);
      this.sorted = this.entries.length;
      this.superseded = 0;
    }
  }

  /** Sorts what was appended since the last read, with the sorted entries that share its first time. */
  private ensureSorted(): void {
    const entries = this.entries;
    if (this.sorted >= entries.length) return;
    const firstAt = entries[this.sorted]!.at;
    let start = this.lowerBound(0, this.sorted, (e) => e.at < firstAt);
    if (start > this.sorted) start = this.sorted;
    const tail = entries.slice(start).sort((x, y) => x.at - y.at || compare(x.run.runId, y.run.runId));
    for (let i = 0; i < tail.length; i++) entries[start + i] = tail[i]!;
    this.sorted = entries.length;
  }

  /** The first index in [lo, hi) whose entry is not `before` (entries are ordered). */
  private lowerBound(lo: number, hi: number, before: (e: LogEntry) => boolean): number {
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (before(this.entries[mid]!)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * The first `need` live runs, in (lastUpdated, runId) order, with `from <= lastUpdated <= to`, after the key
   * `after` when given, that `accept` takes.
   */
  collect(from: number, to: number, after: RunKey | undefined, accept: (run: Run) => boolean, need: number): Run[] {
    this.ensureSorted();
    const entries = this.entries;
    let i = this.lowerBound(0, entries.length, (e) => e.at < from);
    if (after) i = this.lowerBound(i, entries.length, (e) => atOrBefore(e, after));
    const out: Run[] = [];
    for (; i < entries.length && out.length < need; i++) {
      const e = entries[i]!;
      if (e.at > to) break;
      if (isLive(e) && accept(e.run)) out.push(e.run);
    }
    return out;
  }
}

/** A factory's runs by change time, overall and per pipeline, and by run group. */
export class RunIndex {
  readonly all = new ChangeLog();
  private readonly byPipeline = new Map<string, ChangeLog>();
  private readonly byGroup = new Map<string, Set<Run>>();

  private pipelineLog(name: string): ChangeLog {
    const key = name.toLowerCase();
    let log = this.byPipeline.get(key);
    if (!log) this.byPipeline.set(key, (log = new ChangeLog()));
    return log;
  }

  add(run: Run): void {
    this.touched(run);
    const key = run.runGroupId.toLowerCase();
    let group = this.byGroup.get(key);
    if (!group) this.byGroup.set(key, (group = new Set()));
    group.add(run);
  }

  touched(run: Run): void {
    this.all.append(run);
    this.pipelineLog(run.pipelineName).append(run);
  }

  remove(run: Run): void {
    run.evicted = true;
    this.all.dropped();
    this.byPipeline.get(run.pipelineName.toLowerCase())?.dropped();
    const key = run.runGroupId.toLowerCase();
    const group = this.byGroup.get(key);
    group?.delete(run);
    if (group?.size === 0) this.byGroup.delete(key);
  }

  /** The change log of one pipeline, if it ever had a run. */
  pipeline(name: string): ChangeLog | undefined {
    return this.byPipeline.get(name.toLowerCase());
  }

  group(runGroupId: string): Iterable<Run> {
    return this.byGroup.get(runGroupId.toLowerCase()) ?? [];
  }
}

export interface Due {
  at: number;
  run: Run;
  gen: number;
}

/** A small binary min-heap on `at`: transitions for thousands of runs cost O(log n) each. */
export class DueHeap {
  private items: Due[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): Due | undefined {
    return this.items[0];
  }

  push(item: Due): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent]!;
      if (p.at <= item.at) break;
      items[i] = p;
      i = parent;
    }
    items[i] = item;
  }

  pop(): Due | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const child = right < items.length && items[right]!.at < items[left]!.at ? right : left;
      if (items[child]!.at >= last.at) break;
      items[i] = items[child]!;
      i = child;
    }
    items[i] = last;
    return top;
  }
}
