import { randomBytes } from 'node:crypto';
import { defaultCoreSettings, type Deps } from '../../../src/core/deps';
import { NotFound, Rejected, Throttled, Unavailable } from '../../../src/core/errors';
import type { ActivityError, Clock, Factory, FactoryTarget, Ids, Logger, MailMessage, Mailer, PipelineTarget, RunQueryFilter, RunUpdate, Table, TableName } from '../../../src/core/ports';
import { normalizeParams } from '../../../src/core/runs/model';
import { MustacheMailTemplates } from '../../../src/http/templates';
import { InMemoryTables } from '../../support/in-memory-tables';

export class FixedClock implements Clock {
  constructor(private t = new Date('2026-03-01T10:15:00.000Z')) {}
  now(): Date {
    return new Date(this.t);
  }
  advance(ms: number): void {
    this.t = new Date(this.t.getTime() + ms);
  }
}

/** What the next createRun does instead of succeeding. */
export type StartFault = 'throttle' | 'unavailable' | 'lost' | 'reject';

/** A hand-written Data Factory: pipelines that exist, runs it created, and faults to inject. */
export class FakeFactory implements Factory {
  readonly pipelines = new Set<string>();
  readonly runs: Array<RunUpdate & { factory: string }> = [];
  readonly faults: StartFault[] = [];
  /** The change feed answers Unavailable while set. */
  feedDown = false;
  private seq = 0;
  constructor(private readonly clock: Clock, pipelines: string[] = []) {
    pipelines.forEach((p) => this.pipelines.add(p));
  }

  async start(target: PipelineTarget, parameters: Record<string, unknown>): Promise<{ runId: string }> {
    const fault = this.faults.shift();
    if (fault === 'throttle') throw new Throttled(7);
    if (fault === 'unavailable') throw new Unavailable('createRun: 503');
    if (!this.pipelines.has(target.pipeline)) throw new NotFound('pipeline');
    if (fault === 'reject') throw new Rejected('BadRequest', 'undeclared parameter');
    const now = this.clock.now().toISOString();
    const run = { runId: `run-${++this.seq}`, pipeline: target.pipeline, factory: target.factory, status: 'Queued' as const, parameters: normalizeParams(parameters), runStart: now, lastUpdated: now };
    this.runs.push(run);
    if (fault === 'lost') throw new Unavailable('createRun: response lost');
    return { runId: run.runId };
  }
  finish(runId: string, status: 'Succeeded' | 'Failed' | 'Cancelled'): void {
    const run = this.runs.find((r) => r.runId === runId);
    if (!run) throw new Error(`no run ${runId}`);
    Object.assign(run, { status, runEnd: this.clock.now().toISOString(), lastUpdated: this.clock.now().toISOString() });
  }
  async getRun(_f: FactoryTarget, runId: string): Promise<RunUpdate> {
    const run = this.runs.find((r) => r.runId === runId);
    if (!run) throw new NotFound('run');
    return run;
  }
  async cancel(): Promise<void> {}
  async *changedRuns(_f: FactoryTarget, after: Date, before: Date, filter: RunQueryFilter = {}): AsyncIterable<RunUpdate> {
    const pipelines = filter.pipelines;
    const groups = filter.runGroupIds;
    if (this.feedDown) throw new Unavailable('queryPipelineRuns: 503');
    for (const r of [...this.runs]) {
      const t = new Date(r.lastUpdated);
      if (t >= after && t <= before && (!pipelines || pipelines.includes(r.pipeline)) && (!groups || groups.includes(r.runId))) yield { ...r };
    }
  }
  async activityErrors(): Promise<ActivityError[]> {
    return [];
  }
  async pipelineExists(target: PipelineTarget): Promise<boolean> {
    return this.pipelines.has(target.pipeline);
  }
}

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

export class RecordingLogger implements Logger {
  readonly lines: string[] = [];
  info(m: string, f?: Record<string, unknown>) {
    this.lines.push(`info ${m} ${JSON.stringify(f ?? {})}`);
  }
  warn(m: string, f?: Record<string, unknown>) {
    this.lines.push(`warn ${m} ${JSON.stringify(f ?? {})}`);
  }
  error(m: string, f?: Record<string, unknown>) {
    this.lines.push(`error ${m} ${JSON.stringify(f ?? {})}`);
  }
}

class SeqIds implements Ids {
  private n = 0;
  newId(): string {
    return `id-${++this.n}`;
  }
  randomBytes(n: number): Buffer {
    return randomBytes(n);
  }
}

/** Counts `scanAll` per table, to prove a step never scans a table it must not. */
export class CountingTables extends InMemoryTables {
  readonly scans = new Map<string, number>();
  override table(name: TableName): Table {
    const t = super.table(name);
    const scans = this.scans;
    return new Proxy(t, {
      get(target, prop, receiver) {
        if (prop === 'scanAll' || prop === 'pages') scans.set(name, (scans.get(name) ?? 0) + 1);
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  }
}

export interface UnitWorld {
  deps: Deps;
  clock: FixedClock;
  factory: FakeFactory;
  mailer: RecordingMailer;
  log: RecordingLogger;
  tables: CountingTables;
}

export function unitWorld(pipelines: string[] = ['pl_continue', 'pl_on_reject']): UnitWorld {
  const clock = new FixedClock();
  const factory = new FakeFactory(clock, pipelines);
  const mailer = new RecordingMailer();
  const log = new RecordingLogger();
  const tables = new CountingTables();
  const deps: Deps = {
    tables,
    factory,
    mailer,
    templates: new MustacheMailTemplates(),
    clock,
    log,
    ids: new SeqIds(),
    sleep: async (ms) => clock.advance(ms),
    settings: {
      ...defaultCoreSettings,
      defaultFactory: { subscriptionId: '00000000-0000-0000-0000-000000000000', resourceGroup: 'rg', factory: 'adf-unit' },
      armWritesPerSecond: 1000,
      armWriteBurst: 1000,
      reconcileGraceSeconds: 30,
    },
  };
  return { deps, clock, factory, mailer, log, tables };
}

export const BASE = 'https://conductor.example.com';

const ALL_TABLES: TableName[] = ['Runs', 'ActiveRuns', 'Pauses', 'PauseExpiry', 'Executions', 'ActiveExecutions', 'Metadata', 'Queues', 'ActiveQueues', 'Idempotency', 'Sweep'];

/** Every row of every table, as `table/PK/RK` → props (for "nothing was stored" and secret scans). */
export async function everyRow(tables: InMemoryTables): Promise<Map<string, Record<string, unknown>>> {
  const out = new Map<string, Record<string, unknown>>();
  for (const name of ALL_TABLES) for (const r of await tables.table(name).scanAll()) out.set(`${name}/${r.partitionKey}/${r.rowKey}`, r.props);
  return out;
}

/** Undoes Mustache's HTML escaping, to find a value in rendered HTML. */
export function unescapeHtml(html: string): string {
  const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"' };
  return html.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot);/gi, (_, e: string) =>
    e[0] === '#' ? String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10)) : (named[e] ?? ''),
  );
}

/** The error a promise rejects with, which must be a `kind` (a resolved promise fails the test). */
export async function rejection<E extends Error>(p: Promise<unknown>, kind: new (...a: never[]) => E): Promise<E> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  if (!(e instanceof kind)) throw new Error(`expected a ${kind.name}, got ${String(e)}`);
  return e;
}
