/**
 * `adf-conductor watch`: polls one execution until it ends, showing each stage's progress, the running
 * workers and every failure as it happens. On a terminal it draws one live bar per stage (cli-progress);
 * otherwise, or with --plain, it prints one line per change, for CI logs. Its exit code gates a pipeline step:
 * 0 Succeeded, 1 Failed/Stopped/Cancelled, 2 when it cannot tell (unreachable, key refused, no such execution).
 */
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import { ApiProblem, Unreachable, type ConductorClient, type ExecutionView, type StageView, type WorkerView } from './client';
import { EXIT, type CliIo, type ExitCode, type TtyStream } from './io';
import { oneLine, reportError } from './report';

export interface WatchOptions {
  /** Between polls. */
  intervalMs: number;
  /** Plain lines even on a terminal. */
  plain?: boolean;
  /** How long to keep retrying once the server stops answering mid-watch, before exit 2. */
  retryForMs?: number;
}

export const DEFAULT_INTERVAL_MS = 1000;
export const DEFAULT_RETRY_FOR_MS = 60_000;

const RUNNING = new Set(['Starting', 'Running']);
const TERMINAL = new Set(['Succeeded', 'Failed', 'Cancelled', 'Blocked', 'Unknown']);

/** The outcome's exit code, or undefined while the execution still runs. */
export function exitOf(status: string): ExitCode | undefined {
  if (status === 'Running') return undefined;
  return status === 'Succeeded' ? EXIT.ok : EXIT.failed;
}

export interface StageProgress {
  name: string;
  status: string;
  total: number;
  done: number;
  counts: Record<string, number>;
  running: string[];
}

export function stageProgress(s: StageView): StageProgress {
  const counts: Record<string, number> = {};
  for (const w of s.workers) counts[w.status] = (counts[w.status] ?? 0) + 1;
  return {
    name: s.name,
    status: s.status,
    total: s.workers.length,
    done: s.workers.filter((w) => TERMINAL.has(w.status)).length,
    counts,
    running: s.workers.filter((w) => RUNNING.has(w.status)).map((w) => w.name),
  };
}

/** `1 running, 1 failed`: what is not plain progress, in a fixed order. */
function tally(p: StageProgress): string {
  const parts: string[] = [];
  const running = (p.counts.Starting ?? 0) + (p.counts.Running ?? 0);
  if (running) parts.push(`${running} running`);
  // Workers on a shared limit (a queue) waiting for their slot.
  if (p.counts.Waiting) parts.push(`${p.counts.Waiting} waiting for a queue`);
  for (const [status, word] of [
    ['Failed', 'failed'],
    ['Blocked', 'blocked'],
    ['Cancelled', 'cancelled'],
    ['Unknown', 'unknown'],
  ] as const) {
    const n = p.counts[status] ?? 0;
    if (n) parts.push(`${n} ${word}`);
  }
  return parts.join(', ');
}

/** At most `max` names, then how many more. */
function names(list: string[], max = 3): string {
  const shown = list.slice(0, max).map(oneLine).join(', ');
  return list.length > max ? `${shown} +${list.length - max} more` : shown;
}

/** `stage extract: 3/5 done (1 running, 1 failed) · running: sales` */
export function stageLine(p: StageProgress): string {
  const t = tally(p);
  return `stage ${oneLine(p.name)}: ${p.done}/${p.total} done${t ? ` (${t})` : ''}${p.running.length ? ` · running: ${names(p.running)}` : ''}`;
}

/** `FAILED worker sales at "Copy data" [2200] Source not found` */
export function failureLine(w: WorkerView): string {
  const e = w.error;
  if (e) return `FAILED worker ${oneLine(w.name)} at "${oneLine(e.activity)}" [${oneLine(e.code)}] ${oneLine(e.message)}`;
  return `FAILED worker ${oneLine(w.name)} (pipeline ${oneLine(w.pipeline)}${w.runId ? `, run ${w.runId}` : ''})`;
}

/** The lines a worker's new status deserves, if any: failures, and the rare Cancelled or Unknown. */
function workerEvent(w: WorkerView): string | undefined {
  if (w.status === 'Failed') return failureLine(w);
  if (w.status === 'Cancelled') return `CANCELLED worker ${oneLine(w.name)}`;
  if (w.status === 'Unknown') return `UNKNOWN worker ${oneLine(w.name)}: its run's outcome could not be read`;
  return undefined;
}

export function headerLine(v: ExecutionView): string {
  const workers = v.stages.reduce((n, s) => n + s.workers.length, 0);
  return `execution ${v.executionId} (batch ${oneLine(v.batch ?? 'all stages')}): ${v.status}, ${plural(v.stages.length, 'stage')}, ${plural(workers, 'worker')}`;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** `execution … Stopped after 7 s: 1 succeeded, 1 failed, 2 blocked` */
export function finalLine(v: ExecutionView): string {
  const counts = new Map<string, number>();
  for (const s of v.stages) for (const w of s.workers) counts.set(w.status, (counts.get(w.status) ?? 0) + 1);
  const order = ['Succeeded', 'Failed', 'Blocked', 'Cancelled', 'Unknown', 'Pending', 'Starting', 'Running'];
  const parts = order.filter((s) => counts.get(s)).map((s) => `${counts.get(s)} ${s.toLowerCase()}`);
  const took = v.endedAt ? seconds(Date.parse(v.endedAt) - Date.parse(v.startedAt)) : undefined;
  return `execution ${v.executionId} ${v.status}${took !== undefined ? ` after ${took}` : ''}: ${parts.join(', ') || 'no workers'}`;
}

function seconds(ms: number): string | undefined {
  if (!Number.isFinite(ms) || ms < 0) return undefined;
  const s = Math.round(ms / 1000);
  return s < 120 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** What one poll shows that the last did not: the stage lines and worker events to print, stage by stage. */
export interface Change {
  stage: StageProgress;
  /** The stage's line changed since the last poll. */
  stageChanged: boolean;
  events: string[];
}

export class ChangeTracker {
  private readonly stageLines = new Map<string, string>();
  private readonly statuses = new Map<string, string>();

  next(v: ExecutionView): Change[] {
    return v.stages.map((s) => {
      const stage = stageProgress(s);
      const line = stageLine(stage);
      // A stage nobody has touched yet says nothing; it speaks once it moves.
      const untouched = s.workers.every((w) => w.status === 'Pending') && !this.stageLines.has(s.name);
      const stageChanged = !untouched && this.stageLines.get(s.name) !== line;
      if (!untouched) this.stageLines.set(s.name, line);
      const events: string[] = [];
      for (const w of s.workers) {
        const key = `${s.name}\u0000${w.name}`;
        if (this.statuses.get(key) !== w.status) {
          const e = workerEvent(w);
          if (e) events.push(e);
          this.statuses.set(key, w.status);
        }
      }
      return { stage, stageChanged, events };
    });
  }
}

/** How a watch shows itself. */
export interface Renderer {
  show(v: ExecutionView, changes: Change[]): void;
  /** A side remark (lost contact, back in contact). */
  note(line: string): void;
  /** The last word: the final line, after everything else has been drawn. */
  finish(v: ExecutionView): void;
  /** Leaves the terminal tidy before an error is printed. */
  abort(): void;
}

/** One line per change, for logs. */
export class PlainRenderer implements Renderer {
  private started = false;
  constructor(private readonly io: CliIo) {}

  show(v: ExecutionView, changes: Change[]): void {
    if (!this.started) this.io.out(headerLine(v));
    this.started = true;
    for (const c of changes) {
      if (c.stageChanged) this.io.out(stageLine(c.stage));
      for (const e of c.events) this.io.out(e);
    }
  }

  note(line: string): void {
    this.io.err(line);
  }

  finish(v: ExecutionView): void {
    this.io.out(finalLine(v));
  }

  abort(): void {}
}

/** One live bar per stage; failures scroll above the bars as they happen. */
export class BarRenderer implements Renderer {
  private multibar: MultiBar | undefined;
  private readonly bars = new Map<string, SingleBar>();

  constructor(
    private readonly io: CliIo,
    private readonly tty: TtyStream,
  ) {}

  show(v: ExecutionView, changes: Change[]): void {
    if (!this.multibar) {
      this.io.out(headerLine(v));
      this.multibar = new MultiBar(
        {
          stream: this.tty as NodeJS.WritableStream,
          format: ` {stage} {bar} {done}/{count} {state}{detail}`,
          barsize: 24,
          // Nothing to restore if Ctrl-C ends the watch: the cursor stays visible, line wrapping stays on (bars
          // are cut to the terminal's width instead), and cli-progress's own SIGINT handler (which would keep
          // Ctrl-C from ending the process) is off.
          hideCursor: false,
          linewrap: true,
          gracefulExit: false,
          clearOnComplete: false,
          autopadding: true,
        },
        Presets.shades_classic,
      );
    }
    const width = Math.max(...v.stages.map((s) => oneLine(s.name).length));
    for (const c of changes) for (const e of c.events) this.multibar.log(`${e}\n`);
    for (const c of changes) {
      const payload = barPayload(c.stage, width);
      const bar = this.bars.get(c.stage.name);
      if (bar) bar.update(c.stage.done, payload);
      else this.bars.set(c.stage.name, this.multibar.create(Math.max(1, c.stage.total), c.stage.done, payload));
    }
    this.multibar.update();
  }

  note(line: string): void {
    if (this.multibar) this.multibar.log(`${line}\n`);
    else this.io.err(line);
  }

  finish(v: ExecutionView): void {
    this.close();
    this.io.out(finalLine(v));
  }

  abort(): void {
    this.close();
  }

  private close(): void {
    if (!this.multibar) return;
    // stop() does not flush lines logged since the last redraw.
    this.multibar.update();
    this.multibar.stop();
    this.multibar = undefined;
  }
}

function barPayload(p: StageProgress, width: number) {
  const t = tally(p);
  const detail = p.running.length ? ` · running: ${names(p.running)}` : t ? ` · ${t}` : '';
  return { stage: oneLine(p.name).padEnd(width), done: p.done, count: p.total, state: p.status, detail };
}

export function rendererFor(io: CliIo, plain: boolean): Renderer {
  return !plain && io.isTTY && io.tty ? new BarRenderer(io, io.tty) : new PlainRenderer(io);
}

/** The watch loop. Returns the exit code; prints everything through `io`. */
export async function watchExecution(client: ConductorClient, executionId: string, io: CliIo, opts: WatchOptions): Promise<ExitCode> {
  const sleep = io.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = io.now ?? Date.now;
  const retryFor = opts.retryForMs ?? DEFAULT_RETRY_FOR_MS;
  const renderer = rendererFor(io, opts.plain === true);
  const tracker = new ChangeTracker();
  let seen = false;
  let lostSince: number | undefined;

  for (;;) {
    let view: ExecutionView;
    try {
      view = (await client.getExecution(executionId)).body;
    } catch (e) {
      // Once the execution was seen, an outage is waited out (an execution outlives a host restart).
      const transient = e instanceof Unreachable || (e instanceof ApiProblem && (e.status >= 500 || e.status === 429));
      if (!seen || !transient) {
        renderer.abort();
        return reportError(e, io);
      }
      const at = now();
      if (lostSince === undefined) {
        lostSince = at;
        renderer.note(`… ${e instanceof Unreachable ? e.message : `${e.code}: ${oneLine(e.detail)}`}; retrying for up to ${Math.round(retryFor / 1000)} s`);
      }
      if (at - lostSince >= retryFor) {
        renderer.abort();
        io.err(`✖ gave up on execution ${executionId} after ${Math.round((at - lostSince) / 1000)} s without an answer; it may still be running`);
        return reportError(e, io);
      }
      const wait = e instanceof ApiProblem && e.retryAfter !== undefined ? Math.max(opts.intervalMs, e.retryAfter * 1000) : opts.intervalMs;
      await sleep(wait);
      continue;
    }
    if (lostSince !== undefined) renderer.note('… back in contact');
    lostSince = undefined;
    seen = true;
    renderer.show(view, tracker.next(view));
    const exit = exitOf(view.status);
    if (exit !== undefined) {
      renderer.finish(view);
      return exit;
    }
    await sleep(opts.intervalMs);
  }
}
