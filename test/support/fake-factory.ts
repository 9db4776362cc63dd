import { randomUUID } from 'node:crypto';
import { defaultCoreSettings, type CoreSettings, type Deps } from '../../src/core/deps';
import { NotFound, Rejected, Throttled, Unavailable } from '../../src/core/errors';
import type { ActivityError, AdfRunStatus, Clock, Factory, FactoryTarget, Logger, PipelineTarget, RunQueryFilter, RunUpdate } from '../../src/core/ports';
import { normalizeParams } from '../../src/core/runs/model';
import { CryptoIds } from '../../src/adapters/system';
import { MustacheMailTemplates } from '../../src/http/templates';
import { FixedClock } from './fixed-clock';
import { InMemoryTables } from './in-memory-tables';

/** What the next createRun does. `lost`: the run is created and the caller sees Unavailable. */
export type StartOutcome = 'ok' | 'lost' | 'unavailable' | 'throttled' | 'rejected';

interface FakeRun extends RunUpdate {
  factory: string;
}

/**
 * A small in-memory Data Factory: runs keyed by factory and runId (`run-1`, `run-2`, …), the change feed by
 * `lastUpdated` on the injected clock, scripted start outcomes, failing queries, and a gate that holds a
 * createRun in flight. The one fake factory of the unit tests.
 */
export class FakeFactory implements Factory {
  readonly runs: FakeRun[] = [];
  readonly calls = { start: 0, getRun: 0, changedRuns: 0, cancel: 0 };
  /** As ArmFactory's default: a createRun is abandoned after 60 s. */
  startTimeoutSeconds = 60;
  /** Outcomes of the next createRun calls, in order; `ok` once exhausted. */
  startScript: StartOutcome[] = [];
  /** The `Retry-After` of a `throttled` start, in seconds. */
  throttleRetryAfterSeconds = 1;
  /** The next this-many change-feed reads fail with Unavailable. */
  failQueries = 0;
  /** When set, createRun creates the run, then waits for this promise before answering. */
  gate?: Promise<void>;
  /** Pipelines that exist; empty = every name. */
  pipelines: Set<string>;
  private seq = 0;

  constructor(
    private readonly clock: Clock,
    pipelines: string[] = [],
  ) {
    this.pipelines = new Set(pipelines);
  }

  private key = (f: FactoryTarget) => `${f.subscriptionId}/${f.resourceGroup}/${f.factory}`.toLowerCase();
  private stamp = () => this.clock.now().toISOString();

  async start(t: PipelineTarget, parameters: Record<string, unknown>): Promise<{ runId: string }> {
    this.calls.start++;
    const outcome = this.startScript.shift() ?? 'ok';
    if (this.pipelines.size && !this.pipelines.has(t.pipeline)) throw new NotFound('pipeline');
    if (outcome === 'unavailable') throw new Unavailable('503');
    if (outcome === 'throttled') throw new Throttled(this.throttleRetryAfterSeconds);
    if (outcome === 'rejected') throw new Rejected('BadRequest', 'bad parameters');
    const run: FakeRun = { runId: `run-${++this.seq}`, pipeline: t.pipeline, factory: this.key(t), status: 'InProgress', parameters: normalizeParams(parameters), runStart: this.stamp(), lastUpdated: this.stamp() };
    this.runs.push(run);
    if (this.gate) await this.gate;
    if (outcome === 'lost') throw new Unavailable('lost response');
    return { runId: run.runId };
  }

  async getRun(f: FactoryTarget, runId: string): Promise<RunUpdate> {
    this.calls.getRun++;
    const run = this.runs.find((r) => r.runId === runId && r.factory === this.key(f));
    if (!run) throw new NotFound('run');
    return this.view(run);
  }

  async cancel(f: FactoryTarget, runId: string): Promise<void> {
    this.calls.cancel++;
    const run = this.runs.find((r) => r.runId === runId && r.factory === this.key(f));
    if (run && run.status === 'InProgress') this.finish(runId, 'Cancelled');
  }

  async *changedRuns(f: FactoryTarget, after: Date, before: Date, filter: RunQueryFilter = {}): AsyncIterable<RunUpdate> {
    this.calls.changedRuns++;
    if (this.failQueries > 0) {
      this.failQueries--;
      throw new Unavailable('query failed');
    }
    const [a, b] = [after.toISOString(), before.toISOString()];
    for (const r of [...this.runs]) {
      if (r.factory !== this.key(f) || r.lastUpdated < a || r.lastUpdated > b) continue;
      if (filter.pipelines && !filter.pipelines.includes(r.pipeline)) continue;
      if (filter.runGroupIds && !filter.runGroupIds.includes(r.runGroupId ?? r.runId)) continue;
      yield this.view(r);
    }
  }

  async activityErrors(): Promise<ActivityError[]> {
    return [];
  }

  async pipelineExists(t: PipelineTarget): Promise<boolean> {
    return !this.pipelines.size || this.pipelines.has(t.pipeline);
  }

  finish(runId: string, status: AdfRunStatus, message?: string): void {
    const run = this.runs.find((r) => r.runId === runId);
    if (!run) throw new Error(`no run ${runId}`);
    Object.assign(run, { status, runEnd: this.stamp(), lastUpdated: this.stamp(), ...(message ? { message } : {}) });
  }

  private view(r: FakeRun): RunUpdate {
    const { factory: _f, ...u } = r;
    return { ...u, parameters: { ...u.parameters } };
  }
}

export const silentLogger: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

export const UNIT_FACTORY = { subscriptionId: '11111111-1111-1111-1111-111111111111', resourceGroup: 'rg-unit', factory: 'adf-unit' };

/** Core dependencies on in-memory doubles. */
export function unitDeps(settings: Partial<CoreSettings> = {}): Deps & { factory: FakeFactory; clock: FixedClock; tables: InMemoryTables } {
  const clock = new FixedClock();
  return {
    tables: new InMemoryTables(),
    factory: new FakeFactory(clock),
    mailer: { send: async () => ({ id: randomUUID() }) },
    callbacks: { post: async () => 200 },
    templates: new MustacheMailTemplates(),
    clock,
    log: silentLogger,
    ids: new CryptoIds(),
    sleep: async (ms) => clock.advance(ms),
    settings: { ...defaultCoreSettings, defaultFactory: UNIT_FACTORY, armWritesPerSecond: 1000, armWriteBurst: 1000, ...settings },
  };
}
