/**
 * The ADF factory emulator: the ARM Data Factory REST API (api-version 2018-06-01) over HTTPS,
 * scripted by a scenario, so that the real `@azure/arm-datafactory` client runs against it unchanged.
 *
 * Time: every status change is stamped with the emulator's current time when it is applied, never
 * with a time in the past. Due transitions are applied by a 10 ms timer and again before each request,
 * so `queryPipelineRuns` by `lastUpdated` works as a change feed: a change is never reported with a
 * `lastUpdated` earlier than the upper bound of a query that was already answered without it.
 */
import { randomUUID } from 'node:crypto';
import { generateCertificate } from '../tls';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import {
  DEFAULT_SCENARIO,
  OPERATIONS,
  parseScenario,
  ScenarioInvalid,
  TERMINAL_STATUSES,
  type Operation,
  type PipelineScenario,
  type Scenario,
  type TerminalStatus,
} from './scenario';

export type { Scenario } from './scenario';

export const API_VERSION = '2018-06-01';
const PAGE_SIZE = 100;
const CANCEL_DELAY_MS = 50;
const TICK_MS = 10;
const MAX_BODY_BYTES = 4 * 1024 * 1024;
const UNKNOWN_PIPELINE_DURATION_MS = 100;

export interface EmulatorOptions {
  /** 0 = a random free port. Default 7443. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default: every pipeline name is accepted and succeeds after 100 ms. */
  scenario?: Scenario;
  /** Reuse a key and certificate (PEM) instead of generating a self-signed one. */
  tls?: { key: string; cert: string };
  /** Oldest finished runs are forgotten beyond this many runs. Default 50,000. */
  maxRuns?: number;
}

export type RunStatus = 'Queued' | 'InProgress' | 'Canceling' | TerminalStatus;

/** A pipeline run in ADF's PipelineRun JSON shape. */
export interface PipelineRunJson {
  runId: string;
  runGroupId: string;
  isLatest: boolean;
  pipelineName: string;
  parameters: Record<string, string>;
  runDimensions: Record<string, string>;
  invokedBy: { name: string; id: string; invokedByType: string };
  lastUpdated: string;
  runStart: string;
  runEnd?: string;
  durationInMs?: number;
  status: RunStatus;
  message: string;
}

/** What `GET /_emulator/runs` returns for each run. */
export interface EmulatedRun extends PipelineRunJson {
  factory: string;
  subscriptionId: string;
  resourceGroup: string;
  isRecovery: boolean;
  referencePipelineRunId?: string;
  startFromFailure: boolean;
  startActivityName?: string;
}

export interface FactoryEmulator {
  /** e.g. https://127.0.0.1:7443 */
  url: string;
  port: number;
  /** PEM of the self-signed certificate (it is its own CA). */
  ca: string;
  /** Every run, in creation order (same as GET /_emulator/runs). */
  runs(): EmulatedRun[];
  /** Finishes a run by hand. Throws `RunNotFound`, or `RunAlreadyFinished` for a terminal run. */
  finish(runId: string, status: TerminalStatus, message?: string): void;
  /** Replaces the scenario. Resets outcome sequences and the fault budget. Throws `ScenarioInvalid`. */
  setScenario(s: Scenario): void;
  /**
   * Creates `count` runs in process, for benchmarks: "untracked" runs of other pipelines changing around the
   * app's own. They live exactly like runs from createRun (Queued → InProgress → terminal, each change stamped
   * with `lastUpdated`) but are not ARM requests: stats do not count them, faults never hit them, the pipeline
   * need not be in the scenario, and `outcomes` sequences do not advance. Returns the runIds.
   */
  seedRuns(spec: SeedSpec): string[];
  /** ARM request counts by operation, plus `faults` (faults injected). */
  stats(): Record<string, number>;
  resetStats(): void;
  close(): Promise<void>;
}

/** What `seedRuns` creates. */
export interface SeedSpec {
  factory: { subscriptionId: string; resourceGroup: string; factory: string };
  pipeline: string;
  count: number;
  /** Time InProgress; `null` = until finished by hand. */
  durationMs: number | null;
  /** Time Queued before InProgress; default: the scenario's `queuedMs` (0). */
  queuedMs?: number;
  /** Default Succeeded. */
  outcome?: TerminalStatus;
  parameters?: Record<string, string>;
}

/** `finish` named a run the emulator does not know. */
export class RunNotFound extends Error {
  override name = 'RunNotFound';
}
/** `finish` named a run that has already reached a terminal status. */
export class RunAlreadyFinished extends Error {
  override name = 'RunAlreadyFinished';
}

/** A request the emulator refuses, answered with ARM's error body. */
class ArmError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const badRequest = (message: string) => new ArmError(400, 'BadRequest', message);

/** A filter operand: text compares case-insensitively, a time compares instants (ISO 8601 values). */
type FilterField<T> = { kind: 'text'; get: (item: T) => string } | { kind: 'time'; get: (item: T) => number | undefined };
type FilterFields<T> = Record<string, FilterField<T>>;
const text = <T>(get: (item: T) => string): FilterField<T> => ({ kind: 'text', get });
const time = <T>(get: (item: T) => number | undefined): FilterField<T> => ({ kind: 'time', get });

const OPERATORS = ['Equals', 'NotEquals', 'In', 'NotIn'];
/** Equals and In select; NotEquals and NotIn exclude. */
const isPositive = (operator: string) => ['equals', 'in'].includes(operator.toLowerCase());

// ---------------------------------------------------------------------------------------------
// State

interface Run {
  runId: string;
  runGroupId: string;
  factoryKey: string;
  subscriptionId: string;
  resourceGroup: string;
  factory: string;
  pipelineName: string;
  parameters: Record<string, string>;
  status: RunStatus;
  message: string;
  runStart: number;
  lastUpdated: number;
  /** Bumped at every `lastUpdated` change: the index's entries with an older `seq` are superseded. */
  seq: number;
  /** Forgotten (maxRuns): the index skips it. */
  evicted: boolean;
  /** When the run went InProgress (activities start then). */
  startedAt?: number;
  runEnd?: number;
  /** Logical time the run is planned to go InProgress. */
  plannedStart: number;
  /** null = stays InProgress until finished by hand. */
  durationMs: number | null;
  outcome: TerminalStatus;
  failure: { activity: string; code: string; message: string };
  /** Time of the next automatic transition; null = none. */
  dueAt: number | null;
  /** Bumped whenever the plan changes, so stale heap entries are skipped. */
  gen: number;
  isRecovery: boolean;
  referencePipelineRunId?: string;
  startFromFailure: boolean;
  startActivityName?: string;
  invokedById: string;
  activityRunIds: [string, string];
}

/** What `addRun` needs; the rest of a Run is derived. */
type NewRun = Pick<Run,
  'runId' | 'runGroupId' | 'factoryKey' | 'subscriptionId' | 'resourceGroup' | 'factory' | 'pipelineName' | 'parameters' |
  'durationMs' | 'outcome' | 'isRecovery' | 'referencePipelineRunId' | 'startFromFailure' | 'startActivityName'> & {
  queuedMs: number;
  error?: PipelineScenario['error'];
};

interface FactoryState {
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
type RunKey = [number, string];
const atOrBefore = (e: LogEntry, [at, runId]: RunKey) => e.at < at || (e.at === at && e.run.runId <= runId);

/**
 * Runs in (lastUpdated, runId) order: one entry per change. Entries are appended in time order (the
 * emulator's clock never goes back) and the newest are sorted by runId among equal times on the next read;
 * a run's older entries are superseded and skipped. A query binary-searches its window (or its continuation
 * key) and reads only as far as one page needs, so its cost does not grow with the runs outside the window.
 */
class ChangeLog {
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
class RunIndex {
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

interface Due {
  at: number;
  run: Run;
  gen: number;
}

/** A small binary min-heap on `at`: transitions for thousands of runs cost O(log n) each. */
class DueHeap {
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

interface CreateRunInput {
  subscriptionId: string;
  resourceGroup: string;
  factory: string;
  pipelineName: string;
  parameters: Record<string, unknown>;
  referencePipelineRunId?: string;
  isRecovery: boolean;
  startFromFailure: boolean;
  startActivityName?: string;
}

const isTerminal = (status: RunStatus): status is TerminalStatus =>
  (TERMINAL_STATUSES as readonly string[]).includes(status);

const factoryKeyOf = (subscriptionId: string, resourceGroup: string, factory: string) =>
  `${subscriptionId}/${resourceGroup}/${factory}`.toLowerCase();

const iso = (ms: number) => new Date(ms).toISOString();

const toParameterString = (value: unknown): string =>
  typeof value === 'string' ? value : (JSON.stringify(value) ?? 'null');

/** The emulated Data Factory service: runs, their lifecycle, queries. No HTTP here. */
class FactoryService {
  private scenario: Scenario = DEFAULT_SCENARIO;
  private pipelinesByLowerName = new Map<string, { name: string; spec: PipelineScenario }>();
  private readonly factories = new Map<string, FactoryState>();
  /** Every run in creation order. */
  private readonly allRuns = new Map<string, Run>();
  private readonly latestByGroup = new Map<string, string>();
  private readonly due = new DueHeap();
  private lastNow = 0;
  private counts: Record<string, number> = {};
  private faultsInjected = 0;

  constructor(private readonly maxRuns: number) {
    this.resetStats();
  }

  /** The current time, never earlier than a time already handed out. */
  now(): number {
    this.lastNow = Math.max(this.lastNow, Date.now());
    return this.lastNow;
  }

  setScenario(s: Scenario): void {
    const scenario = parseScenario(s);
    this.scenario = scenario;
    this.pipelinesByLowerName = new Map(
      Object.entries(scenario.pipelines ?? {}).map(([name, spec]) => [name.toLowerCase(), { name, spec }]),
    );
    for (const state of this.factories.values()) state.runCounts.clear();
    this.faultsInjected = 0;
  }

  count(op: Operation): void {
    this.counts[op] = (this.counts[op] ?? 0) + 1;
  }

  stats(): Record<string, number> {
    return { ...this.counts, faults: this.faultsInjected };
  }

  resetStats(): void {
    this.counts = Object.fromEntries(OPERATIONS.map((op) => [op, 0]));
  }

  // ---- faults --------------------------------------------------------------------------

  private faultsApplyTo(op: Operation): boolean {
    const faults = this.scenario.faults;
    if (!faults) return false;
    if (faults.operations && !faults.operations.includes(op)) return false;
    return faults.limit === undefined || this.faultsInjected < faults.limit;
  }

  /** Random delay for this request, or 0. */
  latencyFor(op: Operation): number {
    const range = this.scenario.faults?.latencyMs;
    const faults = this.scenario.faults;
    if (!range || (faults?.operations && !faults.operations.includes(op))) return 0;
    const [min, max] = range;
    return Math.round(min + Math.random() * (max - min));
  }

  /** An injected failure for this request, or undefined. The request must then do nothing. */
  injectedFault(op: Operation): ArmError | undefined {
    const rate = this.scenario.faults?.rate ?? 0;
    if (rate <= 0 || !this.faultsApplyTo(op) || Math.random() >= rate) return undefined;
    const statuses = this.scenario.faults?.statuses ?? [429, 503];
    const status = statuses[Math.floor(Math.random() * statuses.length)] ?? 503;
    this.faultsInjected++;
    return faultError(status, `Injected fault (${op}).`);
  }

  /** Whether createRun should lose its response (the run exists, the client sees a 503). */
  loseResponse(): boolean {
    const rate = this.scenario.faults?.lostResponseRate ?? 0;
    if (rate <= 0 || !this.faultsApplyTo('createRun') || Math.random() >= rate) return false;
    this.faultsInjected++;
    return true;
  }

  // ---- pipelines -----------------------------------------------------------------------

  pipeline(name: string): { name: string; spec: PipelineScenario } | undefined {
    const declared = this.scenario.pipelines?.[name];
    if (declared) return { name, spec: declared };
    const found = this.pipelinesByLowerName.get(name.toLowerCase());
    if (found) return found;
    if (this.scenario.unknownPipelines === 'succeed') return { name, spec: { durationMs: UNKNOWN_PIPELINE_DURATION_MS } };
    return undefined;
  }

  requirePipeline(name: string): { name: string; spec: PipelineScenario } {
    const found = this.pipeline(name);
    if (!found) throw new ArmError(404, 'PipelineNotFound', `Pipeline '${name}' not found in the factory.`);
    return found;
  }

  // ---- runs ----------------------------------------------------------------------------

  private factoryState(key: string): FactoryState {
    let state = this.factories.get(key);
    if (!state) {
      state = { runs: new Map(), runCounts: new Map(), index: new RunIndex() };
      this.factories.set(key, state);
    }
    return state;
  }

  findRun(subscriptionId: string, resourceGroup: string, factory: string, runId: string): Run {
    this.advance();
    const run = this.factories.get(factoryKeyOf(subscriptionId, resourceGroup, factory))?.runs.get(runId.toLowerCase());
    if (!run) throw new ArmError(404, 'PipelineRunNotFound', `Pipeline run '${runId}' not found.`);
    return run;
  }

  createRun(input: CreateRunInput): Run {
    this.advance();
    const { name, spec } = this.requirePipeline(input.pipelineName);
    if (spec.parameters) {
      const unknown = Object.keys(input.parameters).filter((p) => !spec.parameters!.includes(p));
      if (unknown.length > 0) {
        throw badRequest(`Pipeline '${name}' does not declare parameter(s): ${unknown.join(', ')}.`);
      }
    }
    const key = factoryKeyOf(input.subscriptionId, input.resourceGroup, input.factory);
    const state = this.factoryState(key);
    const reference = input.referencePipelineRunId
      ? state.runs.get(input.referencePipelineRunId.toLowerCase())
      : undefined;

    const counter = name.toLowerCase();
    const index = state.runCounts.get(counter) ?? 0;
    state.runCounts.set(counter, index + 1);
    const outcomes = spec.outcomes;
    const outcome = outcomes ? (outcomes[Math.min(index, outcomes.length - 1)] ?? 'Succeeded') : (spec.outcome ?? 'Succeeded');

    const runId = randomUUID();
    // ADF: a referenced run lends its parameters; only a recovery run joins its group.
    const runGroupId = input.isRecovery && input.referencePipelineRunId
      ? (reference?.runGroupId ?? input.referencePipelineRunId.toLowerCase())
      : runId;
    const parameters: Record<string, string> = { ...(reference?.parameters ?? {}) };
    for (const [k, v] of Object.entries(input.parameters)) parameters[k] = toParameterString(v);

    const run = this.addRun(state, {
      runId,
      runGroupId,
      factoryKey: key,
      subscriptionId: input.subscriptionId,
      resourceGroup: input.resourceGroup,
      factory: input.factory,
      pipelineName: name,
      parameters,
      queuedMs: this.scenario.queuedMs ?? 0,
      durationMs: spec.durationMs === undefined ? UNKNOWN_PIPELINE_DURATION_MS : spec.durationMs,
      outcome,
      error: spec.error,
      isRecovery: input.isRecovery,
      referencePipelineRunId: input.referencePipelineRunId,
      startFromFailure: input.startFromFailure,
      startActivityName: input.startActivityName,
    });
    this.evictIfNeeded();
    return run;
  }

  /** Runs made in process (benchmarks): the same lifecycle as createRun, but no request, no fault, no outcome sequence. */
  seedRuns(spec: SeedSpec): string[] {
    if (!Number.isInteger(spec.count) || spec.count < 0) throw new RangeError('seedRuns: count must be a non-negative integer');
    if (spec.durationMs !== null && !(Number.isInteger(spec.durationMs) && spec.durationMs >= 0)) {
      throw new RangeError('seedRuns: durationMs must be a non-negative integer or null');
    }
    this.advance();
    const { subscriptionId, resourceGroup, factory } = spec.factory;
    const key = factoryKeyOf(subscriptionId, resourceGroup, factory);
    const state = this.factoryState(key);
    const ids: string[] = [];
    for (let i = 0; i < spec.count; i++) {
      const runId = randomUUID();
      this.addRun(state, {
        runId,
        runGroupId: runId,
        factoryKey: key,
        subscriptionId,
        resourceGroup,
        factory,
        pipelineName: spec.pipeline,
        parameters: { ...(spec.parameters ?? {}) },
        queuedMs: spec.queuedMs ?? this.scenario.queuedMs ?? 0,
        durationMs: spec.durationMs,
        outcome: spec.outcome ?? 'Succeeded',
        isRecovery: false,
        startFromFailure: false,
      });
      ids.push(runId);
    }
    this.evictIfNeeded();
    return ids;
  }

  private addRun(state: FactoryState, init: NewRun): Run {
    const now = this.now();
    // Every field spelled out, in one order: runs share one shape, which keeps index scans fast.
    const run: Run = {
      runId: init.runId,
      runGroupId: init.runGroupId,
      factoryKey: init.factoryKey,
      subscriptionId: init.subscriptionId,
      resourceGroup: init.resourceGroup,
      factory: init.factory,
      pipelineName: init.pipelineName,
      parameters: init.parameters,
      status: 'Queued',
      message: '',
      runStart: now,
      lastUpdated: now,
      seq: 0,
      evicted: false,
      startedAt: undefined,
      runEnd: undefined,
      plannedStart: now + init.queuedMs,
      durationMs: init.durationMs,
      outcome: init.outcome,
      failure: {
        activity: init.error?.activity ?? 'Main',
        code: init.error?.code ?? '2200',
        message: init.error?.message ?? `Activity failed in pipeline '${init.pipelineName}'.`,
      },
      dueAt: null,
      gen: 0,
      isRecovery: init.isRecovery,
      referencePipelineRunId: init.referencePipelineRunId,
      startFromFailure: init.startFromFailure,
      startActivityName: init.startActivityName,
      invokedById: randomUUID().replace(/-/g, ''),
      activityRunIds: [randomUUID(), randomUUID()],
    };
    state.runs.set(run.runId, run);
    this.allRuns.set(run.runId, run);
    this.latestByGroup.set(run.runGroupId, run.runId);
    state.index.add(run);
    this.schedule(run, run.plannedStart);
    return run;
  }

  cancel(run: Run): void {
    if (isTerminal(run.status) || run.status === 'Canceling') return;
    const now = this.now();
    run.status = 'Canceling';
    this.stamp(run, now);
    this.schedule(run, now + (this.scenario.cancelMs ?? CANCEL_DELAY_MS));
  }

  finish(runId: string, status: TerminalStatus, message?: string): Run {
    this.advance();
    const run = this.allRuns.get(runId.toLowerCase());
    if (!run) throw new RunNotFound(`run ${runId} not found`);
    if (isTerminal(run.status)) throw new RunAlreadyFinished(`run ${runId} is already ${run.status}`);
    if (status === 'Failed' && message !== undefined) run.failure.message = message;
    run.gen++;
    run.dueAt = null;
    const now = this.now();
    if (run.startedAt === undefined) run.startedAt = now;
    this.terminate(run, status, now);
    if (message !== undefined) run.message = message;
    return run;
  }

  private schedule(run: Run, at: number): void {
    run.gen++;
    run.dueAt = at;
    this.due.push({ at, run, gen: run.gen });
  }

  /** Applies every transition that is due, stamping each with the current time. */
  advance(): void {
    if (this.due.size === 0) return;
    const now = this.now();
    for (let top = this.due.peek(); top && top.at <= now; top = this.due.peek()) {
      this.due.pop();
      if (top.gen !== top.run.gen) continue;
      this.step(top.run, now);
    }
  }

  private step(run: Run, now: number): void {
    run.dueAt = null;
    switch (run.status) {
      case 'Queued':
        run.status = 'InProgress';
        run.startedAt = now;
        this.stamp(run, now);
        if (run.durationMs !== null) this.schedule(run, run.plannedStart + run.durationMs);
        return;
      case 'InProgress':
        this.terminate(run, run.outcome, now);
        return;
      case 'Canceling':
        this.terminate(run, 'Cancelled', now);
        return;
      default:
        return;
    }
  }

  private terminate(run: Run, status: TerminalStatus, now: number): void {
    run.status = status;
    run.runEnd = now;
    this.stamp(run, now);
    run.message = status === 'Failed' ? run.failure.message : '';
  }

  /** Every `lastUpdated` change goes through here, so the factory's index sees it. */
  private stamp(run: Run, now: number): void {
    run.lastUpdated = now;
    run.seq++;
    this.factories.get(run.factoryKey)?.index.touched(run);
  }

  private evictIfNeeded(): void {
    if (this.allRuns.size <= this.maxRuns) return;
    const target = Math.floor(this.maxRuns * 0.9);
    for (const run of this.allRuns.values()) {
      if (this.allRuns.size <= target) break;
      if (!isTerminal(run.status)) continue;
      this.allRuns.delete(run.runId);
      const state = this.factories.get(run.factoryKey);
      state?.runs.delete(run.runId);
      state?.index.remove(run);
      if (this.latestByGroup.get(run.runGroupId) === run.runId) this.latestByGroup.delete(run.runGroupId);
    }
  }

  // ---- views and queries ---------------------------------------------------------------

  isLatest(run: Run): boolean {
    return (this.latestByGroup.get(run.runGroupId) ?? run.runId) === run.runId;
  }

  toJson(run: Run): PipelineRunJson {
    const json: PipelineRunJson = {
      runId: run.runId,
      runGroupId: run.runGroupId,
      isLatest: this.isLatest(run),
      pipelineName: run.pipelineName,
      parameters: { ...run.parameters },
      runDimensions: {},
      invokedBy: { name: 'Manual', id: run.invokedById, invokedByType: 'Manual' },
      lastUpdated: iso(run.lastUpdated),
      runStart: iso(run.runStart),
      status: run.status,
      message: run.message,
    };
    if (run.runEnd !== undefined) {
      json.runEnd = iso(run.runEnd);
      json.durationInMs = run.runEnd - run.runStart;
    }
    return json;
  }

  toEmulated(run: Run): EmulatedRun {
    const view: EmulatedRun = {
      ...this.toJson(run),
      factory: run.factory,
      subscriptionId: run.subscriptionId,
      resourceGroup: run.resourceGroup,
      isRecovery: run.isRecovery,
      startFromFailure: run.startFromFailure,
    };
    if (run.referencePipelineRunId !== undefined) view.referencePipelineRunId = run.referencePipelineRunId;
    if (run.startActivityName !== undefined) view.startActivityName = run.startActivityName;
    return view;
  }

  runs(): EmulatedRun[] {
    this.advance();
    return [...this.allRuns.values()].map((run) => this.toEmulated(run));
  }

  /**
   * `queryPipelineRuns`. The default order (lastUpdated, runId) is read from the factory's index: a
   * `RunGroupId Equals/In` filter looks its groups up, a `PipelineName Equals/In` filter reads those
   * pipelines' change logs, anything else the factory's change log; each from the window's start (or the
   * continuation token) for one page only. An explicit `orderBy` sorts every match in the window.
   */
  queryPipelineRuns(subscriptionId: string, resourceGroup: string, factory: string, body: unknown): Page<PipelineRunJson> {
    this.advance();
    const filter = parseRunFilter(body);
    const predicates = filter.filters.map((f) => compileFilter(f, this.pipelineRunFields));
    this.checkRunGroupFilters(filter);
    const state = this.factories.get(factoryKeyOf(subscriptionId, resourceGroup, factory));
    const toJson = (run: Run) => this.toJson(run);
    const inWindow = (run: Run) => run.lastUpdated >= filter.after && run.lastUpdated <= filter.before;
    const matches = (run: Run) => predicates.every((p) => p(run));
    if (filter.orderBy.length > 0) {
      const all = state ? [...state.runs.values()].filter((run) => inWindow(run) && matches(run)) : [];
      return paginate(all, filter, this.pipelineRunOrder, toJson);
    }
    const token = filter.continuationToken ? decodeToken(filter.continuationToken) : undefined;
    if (token && !token.k) throw badRequest('The continuation token is not valid.');
    if (!state) return { value: [] };
    const after = token?.k;
    const need = PAGE_SIZE + 1;

    let found: Run[];
    const groups = filter.filters.find((f) => f.operand.toLowerCase() === 'rungroupid' && isPositive(f.operator));
    const pipelines = filter.filters.find((f) => f.operand.toLowerCase() === 'pipelinename' && isPositive(f.operator));
    if (groups) {
      const pastToken = (run: Run) => !after || run.lastUpdated > after[0] || (run.lastUpdated === after[0] && run.runId > after[1]);
      found = [];
      for (const id of new Set(groups.values.map((v) => v.toLowerCase()))) {
        for (const run of state.index.group(id)) if (inWindow(run) && pastToken(run) && matches(run)) found.push(run);
      }
    } else if (pipelines) {
      found = [];
      for (const name of new Set(pipelines.values.map((v) => v.toLowerCase()))) {
        found.push(...(state.index.pipeline(name)?.collect(filter.after, filter.before, after, matches, need) ?? []));
      }
    } else {
      found = state.index.all.collect(filter.after, filter.before, after, matches, need);
    }
    found.sort((a, b) => a.lastUpdated - b.lastUpdated || compare(a.runId, b.runId));
    const page = found.slice(0, PAGE_SIZE);
    const last = page[page.length - 1];
    return {
      value: page.map(toJson),
      ...(found.length > PAGE_SIZE && last ? { continuationToken: encodeToken({ k: [last.lastUpdated, last.runId] }) } : {}),
    };
  }

  /** With `runGroupIdValues: "one"`, a RunGroupId filter with several values is refused, as ADF was reported to do. */
  private checkRunGroupFilters(filter: RunFilter): void {
    if (this.scenario.runGroupIdValues !== 'one') return;
    for (const f of filter.filters) {
      if (f.operand.toLowerCase() === 'rungroupid' && f.values.length > 1) {
        throw badRequest(`Filter operand '${f.operand}' does not support and array of values. Make sure to provide only one.`);
      }
    }
  }

  queryActivityRuns(run: Run, body: unknown): Page<ActivityRunJson> {
    this.advance();
    const filter = parseRunFilter(body);
    const predicates = filter.filters.map((f) => compileFilter(f, activityRunFields));
    const matching = activityRunsOf(run).filter(
      (a) => a.lastUpdated >= filter.after && a.lastUpdated <= filter.before && predicates.every((p) => p(a)),
    );
    return paginate(matching, filter, activityRunOrder, (a) => a.json);
  }

  /** ADF's pipeline-run operands, and only those: there is no RunId operand. */
  private readonly pipelineRunFields: FilterFields<Run> = {
    PipelineName: text((r) => r.pipelineName),
    Status: text((r) => r.status),
    RunStart: time((r) => r.runStart),
    RunEnd: time((r) => r.runEnd),
    // Every emulated run is started by hand: ADF names the invoker "Manual", and there is no trigger run.
    TriggerName: text(() => 'Manual'),
    TriggerRunTimestamp: time(() => undefined),
    RunGroupId: text((r) => r.runGroupId),
    LatestOnly: text((r) => String(this.isLatest(r))),
  };

  private readonly pipelineRunOrder: Ordering<Run> = {
    defaultKey: (r) => [r.lastUpdated, r.runId],
    fields: {
      runstart: (r) => r.runStart,
      runend: (r) => r.runEnd ?? Number.MAX_SAFE_INTEGER,
      pipelinename: (r) => r.pipelineName.toLowerCase(),
      status: (r) => r.status,
      lastupdated: (r) => r.lastUpdated,
    },
    tieBreak: (r) => r.runId,
  };
}

// ---------------------------------------------------------------------------------------------
// Activity runs: a prepare step that succeeds, then the main activity, which carries the failure.

export interface ActivityRunJson {
  activityName: string;
  activityType: string;
  pipelineName: string;
  pipelineRunId: string;
  activityRunId: string;
  linkedServiceName: string;
  status: string;
  activityRunStart: string;
  activityRunEnd?: string;
  durationInMs?: number;
  input: Record<string, unknown>;
  output: Record<string, unknown>;
  error: { errorCode: string; message: string; failureType: string; target: string };
}

interface ActivityView {
  json: ActivityRunJson;
  lastUpdated: number;
  start: number;
  end?: number;
  index: number;
}

function activityRunsOf(run: Run): ActivityView[] {
  if (run.startedAt === undefined) return [];
  const start = run.startedAt;
  const views: ActivityView[] = [];
  const make = (index: number, name: string, type: string, status: string, end: number | undefined, failed: boolean): ActivityView => {
    const json: ActivityRunJson = {
      activityName: name,
      activityType: type,
      pipelineName: run.pipelineName,
      pipelineRunId: run.runId,
      activityRunId: run.activityRunIds[index] ?? randomUUID(),
      linkedServiceName: '',
      status,
      activityRunStart: iso(start),
      input: {},
      output: failed ? {} : { executionDuration: 0 },
      // ADF returns an error object with empty fields for activities that did not fail.
      error: failed
        ? { errorCode: run.failure.code, message: run.failure.message, failureType: 'UserError', target: name }
        : { errorCode: '', message: '', failureType: '', target: name },
    };
    if (end !== undefined) {
      json.activityRunEnd = iso(end);
      json.durationInMs = end - start;
    }
    return { json, lastUpdated: end ?? start, start, end, index };
  };
  views.push(make(0, 'Prepare', 'SetVariable', 'Succeeded', start, false));
  const mainName = run.failure.activity;
  const mainType = 'Copy';
  if (run.status === 'Failed') views.push(make(1, mainName, mainType, 'Failed', run.runEnd, true));
  else if (run.status === 'Succeeded') views.push(make(1, mainName, mainType, 'Succeeded', run.runEnd, false));
  else if (run.status === 'Cancelled') views.push(make(1, mainName, mainType, 'Cancelled', run.runEnd, false));
  else views.push(make(1, mainName, mainType, 'InProgress', undefined, false));
  return views;
}

/** ADF's activity-run operands. */
const activityRunFields: FilterFields<ActivityView> = {
  ActivityName: text((a) => a.json.activityName),
  ActivityType: text((a) => a.json.activityType),
  ActivityRunStart: time((a) => a.start),
  ActivityRunEnd: time((a) => a.end),
  Status: text((a) => a.json.status),
};

const activityRunOrder: Ordering<ActivityView> = {
  defaultKey: (a) => [a.start, String(a.index).padStart(6, '0')],
  fields: {
    activityname: (a) => a.json.activityName.toLowerCase(),
    activityrunstart: (a) => a.start,
    activityrunend: (a) => a.end ?? Number.MAX_SAFE_INTEGER,
    status: (a) => a.json.status,
  },
  tieBreak: (a) => String(a.index).padStart(6, '0'),
};

// ---------------------------------------------------------------------------------------------
// RunFilterParameters, ordering and continuation tokens

interface RunFilter {
  after: number;
  before: number;
  continuationToken?: string;
  filters: { operand: string; operator: string; values: string[] }[];
  orderBy: { orderBy: string; order: 'ASC' | 'DESC' }[];
}

interface Page<T> {
  value: T[];
  continuationToken?: string;
}

interface Ordering<T> {
  /** Default order: a time, then a unique string. Pages continue after the last key (a cursor). */
  defaultKey: (item: T) => [number, string];
  fields: Record<string, (item: T) => number | string>;
  tieBreak: (item: T) => string;
}

function parseTime(value: unknown, name: string): number {
  if (value === undefined || value === null || value === '') throw badRequest(`'${name}' is required.`);
  const ms = typeof value === 'string' ? Date.parse(value) : NaN;
  if (Number.isNaN(ms)) throw badRequest(`'${name}' is not a valid ISO 8601 date-time.`);
  return ms;
}

function parseRunFilter(body: unknown): RunFilter {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('The request body must be a RunFilterParameters object.');
  }
  const b = body as Record<string, unknown>;
  const after = parseTime(b.lastUpdatedAfter, 'lastUpdatedAfter');
  const before = parseTime(b.lastUpdatedBefore, 'lastUpdatedBefore');
  if (after > before) throw badRequest("'lastUpdatedAfter' must not be later than 'lastUpdatedBefore'.");
  const filters: RunFilter['filters'] = [];
  if (b.filters !== undefined && b.filters !== null) {
    if (!Array.isArray(b.filters)) throw badRequest("'filters' must be an array.");
    for (const [i, f] of (b.filters as unknown[]).entries()) {
      const r = (typeof f === 'object' && f !== null ? f : {}) as Record<string, unknown>;
      if (typeof r.operand !== 'string' || typeof r.operator !== 'string' || !Array.isArray(r.values) ||
          !r.values.every((v) => typeof v === 'string')) {
        throw badRequest(`'filters[${i}]' must have operand, operator and string values.`);
      }
      filters.push({ operand: r.operand, operator: r.operator, values: r.values });
    }
  }
  const orderBy: RunFilter['orderBy'] = [];
  if (b.orderBy !== undefined && b.orderBy !== null) {
    if (!Array.isArray(b.orderBy)) throw badRequest("'orderBy' must be an array.");
    for (const [i, o] of (b.orderBy as unknown[]).entries()) {
      const r = (typeof o === 'object' && o !== null ? o : {}) as Record<string, unknown>;
      const order = typeof r.order === 'string' ? r.order.toUpperCase() : '';
      if (typeof r.orderBy !== 'string' || (order !== 'ASC' && order !== 'DESC')) {
        throw badRequest(`'orderBy[${i}]' must have orderBy and order ASC or DESC.`);
      }
      orderBy.push({ orderBy: r.orderBy, order });
    }
  }
  const token = b.continuationToken;
  if (token !== undefined && token !== null && typeof token !== 'string') throw badRequest("'continuationToken' must be a string.");
  return { after, before, filters, orderBy, continuationToken: token ?? undefined };
}

function compileFilter<T>(filter: RunFilter['filters'][number], fields: FilterFields<T>): (item: T) => boolean {
  const name = Object.keys(fields).find((k) => k.toLowerCase() === filter.operand.toLowerCase());
  const field = name === undefined ? undefined : fields[name];
  if (!field) {
    throw badRequest(`The filter operand '${filter.operand}' is not supported. Supported operands: ${Object.keys(fields).join(', ')}.`);
  }
  if (!OPERATORS.some((o) => o.toLowerCase() === filter.operator.toLowerCase())) {
    throw badRequest(`The filter operator '${filter.operator}' is not supported. Supported operators: ${OPERATORS.join(', ')}.`);
  }
  let has: (item: T) => boolean;
  if (field.kind === 'text') {
    const values = new Set(filter.values.map((v) => v.toLowerCase()));
    has = (item) => values.has(field.get(item).toLowerCase());
  } else {
    const values = new Set(filter.values.map((v) => {
      const ms = Date.parse(v);
      if (Number.isNaN(ms)) throw badRequest(`The value '${v}' of filter operand '${name}' is not a valid ISO 8601 date-time.`);
      return ms;
    }));
    has = (item) => {
      const t = field.get(item);
      return t !== undefined && values.has(t);
    };
  }
  return isPositive(filter.operator) ? has : (item) => !has(item);
}

const compare = (a: number | string, b: number | string) => (a < b ? -1 : a > b ? 1 : 0);

function encodeToken(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

function decodeToken(token: string): { k?: [number, string]; o?: number } {
  try {
    const value = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown;
    if (typeof value === 'object' && value !== null) {
      const v = value as { k?: unknown; o?: unknown };
      if (Array.isArray(v.k) && typeof v.k[0] === 'number' && typeof v.k[1] === 'string') return { k: [v.k[0], v.k[1]] };
      if (typeof v.o === 'number' && Number.isInteger(v.o) && v.o >= 0) return { o: v.o };
    }
  } catch {
    // fall through
  }
  throw badRequest('The continuation token is not valid.');
}

function paginate<T, J>(items: T[], filter: RunFilter, ordering: Ordering<T>, toJson: (item: T) => J): Page<J> {
  const token = filter.continuationToken ? decodeToken(filter.continuationToken) : undefined;
  if (filter.orderBy.length === 0) {
    // Keyset paging: stable even when runs change between pages.
    const keyed = items.map((item) => ({ item, key: ordering.defaultKey(item) }));
    keyed.sort((a, b) => compare(a.key[0], b.key[0]) || compare(a.key[1], b.key[1]));
    let start = 0;
    if (token) {
      if (!token.k) throw badRequest('The continuation token is not valid.');
      const [t, id] = token.k;
      start = keyed.findIndex((e) => e.key[0] > t || (e.key[0] === t && e.key[1] > id));
      if (start < 0) start = keyed.length;
    }
    const page = keyed.slice(start, start + PAGE_SIZE);
    const last = page[page.length - 1];
    const more = start + PAGE_SIZE < keyed.length;
    return {
      value: page.map((e) => toJson(e.item)),
      ...(more && last ? { continuationToken: encodeToken({ k: last.key }) } : {}),
    };
  }
  const keys = filter.orderBy.map((o) => {
    const field = ordering.fields[o.orderBy.toLowerCase()];
    if (!field) throw badRequest(`orderBy '${o.orderBy}' is not supported.`);
    return { field, sign: o.order === 'DESC' ? -1 : 1 };
  });
  const sorted = [...items].sort((a, b) => {
    for (const { field, sign } of keys) {
      const c = compare(field(a), field(b));
      if (c !== 0) return c * sign;
    }
    return compare(ordering.tieBreak(a), ordering.tieBreak(b));
  });
  if (token && token.o === undefined) throw badRequest('The continuation token is not valid.');
  const start = token?.o ?? 0;
  const page = sorted.slice(start, start + PAGE_SIZE);
  const more = start + PAGE_SIZE < sorted.length;
  return {
    value: page.map(toJson),
    ...(more ? { continuationToken: encodeToken({ o: start + PAGE_SIZE }) } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// HTTP

function faultError(status: number, message: string): ArmError {
  const code = status === 429 ? 'TooManyRequests' : status === 503 ? 'ServiceUnavailable'
    : status === 500 ? 'InternalServerError' : 'InjectedFault';
  const headers: Record<string, string> = status === 429 || status === 503 ? { 'Retry-After': '1' } : {};
  return new ArmError(status, code, message, headers);
}

type ArmRoute = { op: Operation; subscriptionId: string; resourceGroup: string; factory: string; name?: string };

/** Matches `/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.DataFactory/factories/{f}/...`, case-insensitively. */
function matchArmRoute(method: string, segments: string[]): ArmRoute | undefined {
  const [s0, subscriptionId, s2, resourceGroup, s4, s5, s6, factory, ...rest] = segments;
  const lower = (v: string | undefined) => v?.toLowerCase();
  if (lower(s0) !== 'subscriptions' || lower(s2) !== 'resourcegroups' || lower(s4) !== 'providers' ||
      lower(s5) !== 'microsoft.datafactory' || lower(s6) !== 'factories' ||
      !subscriptionId || !resourceGroup || !factory) {
    return undefined;
  }
  const base = { subscriptionId, resourceGroup, factory };
  const [r0, r1, r2] = rest.map((s, i) => (i === 1 ? s : s.toLowerCase()));
  if (rest.length === 3 && r0 === 'pipelines' && r1 && r2 === 'createrun' && method === 'POST') return { ...base, op: 'createRun', name: r1 };
  if (rest.length === 2 && r0 === 'pipelines' && r1 && method === 'GET') return { ...base, op: 'getPipeline', name: r1 };
  if (rest.length === 2 && r0 === 'pipelineruns' && r1 && method === 'GET') return { ...base, op: 'getRun', name: r1 };
  if (rest.length === 3 && r0 === 'pipelineruns' && r1 && r2 === 'cancel' && method === 'POST') return { ...base, op: 'cancel', name: r1 };
  if (rest.length === 3 && r0 === 'pipelineruns' && r1 && r2 === 'queryactivityruns' && method === 'POST') {
    return { ...base, op: 'queryActivityruns', name: r1 };
  }
  if (rest.length === 1 && r0 === 'querypipelineruns' && method === 'POST') return { ...base, op: 'queryPipelineRuns' };
  return undefined;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new ArmError(413, 'RequestEntityTooLarge', 'The request body is too large.'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw badRequest('The request body is not valid JSON.');
  }
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'x-ms-request-id': randomUUID(),
    ...headers,
  });
  res.end(text);
}

const sendError = (res: ServerResponse, err: ArmError) =>
  send(res, err.status, { error: { code: err.code, message: err.message } }, err.headers);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const queryFlag = (url: URL, name: string) => url.searchParams.get(name)?.toLowerCase() === 'true';

class EmulatorHttp {
  constructor(private readonly service: FactoryService) {}

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'https://emulator.invalid');
      const segments = url.pathname.split('/').filter((s) => s !== '').map((s) => decodeURIComponent(s));
      const method = (req.method ?? 'GET').toUpperCase();
      const body = await readBody(req);
      if (segments[0]?.toLowerCase() === '_emulator') {
        this.handleInspection(method, segments.slice(1), url, body, res);
        return;
      }
      await this.handleArm(method, segments, url, body, req, res);
    } catch (err) {
      if (err instanceof ArmError) {
        sendError(res, err);
        return;
      }
      console.error('factory emulator: unexpected error', err);
      sendError(res, new ArmError(500, 'InternalServerError', 'The emulator failed to handle the request.'));
    }
  }

  private async handleArm(method: string, segments: string[], url: URL, body: string, req: IncomingMessage, res: ServerResponse) {
    const route = matchArmRoute(method, segments);
    if (route) this.service.count(route.op);
    const auth = req.headers.authorization ?? '';
    if (!/^Bearer\s+\S+/i.test(auth)) {
      throw new ArmError(401, 'AuthenticationFailed', "Authentication failed. The 'Authorization' header is missing or not a Bearer token.",
        { 'WWW-Authenticate': 'Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token"' });
    }
    const apiVersion = url.searchParams.get('api-version');
    if (apiVersion === null) throw new ArmError(400, 'MissingApiVersionParameter', "The api-version query parameter (?api-version=) is required for all requests.");
    if (apiVersion !== API_VERSION) {
      throw new ArmError(400, 'InvalidApiVersionParameter', `The api-version '${apiVersion}' is invalid. The supported version is '${API_VERSION}'.`);
    }
    if (!route) throw new ArmError(404, 'NotFound', `No route for ${method} ${url.pathname}.`);

    const latency = this.service.latencyFor(route.op);
    if (latency > 0) await sleep(latency);
    const fault = this.service.injectedFault(route.op);
    if (fault) throw fault;

    const svc = this.service;
    const name = route.name ?? '';
    switch (route.op) {
      case 'createRun': {
        const params = parseJson(body) ?? {};
        if (typeof params !== 'object' || params === null || Array.isArray(params)) {
          throw badRequest('The request body must be a JSON object of parameters.');
        }
        const run = svc.createRun({
          subscriptionId: route.subscriptionId,
          resourceGroup: route.resourceGroup,
          factory: route.factory,
          pipelineName: name,
          parameters: params as Record<string, unknown>,
          referencePipelineRunId: url.searchParams.get('referencePipelineRunId') || undefined,
          isRecovery: queryFlag(url, 'isRecovery'),
          startFromFailure: queryFlag(url, 'startFromFailure'),
          startActivityName: url.searchParams.get('startActivityName') || undefined,
        });
        if (svc.loseResponse()) throw faultError(503, 'Injected lost response: the run was created.');
        send(res, 200, { runId: run.runId });
        return;
      }
      case 'getRun':
        send(res, 200, svc.toJson(svc.findRun(route.subscriptionId, route.resourceGroup, route.factory, name)));
        return;
      case 'cancel':
        svc.cancel(svc.findRun(route.subscriptionId, route.resourceGroup, route.factory, name));
        send(res, 200, undefined);
        return;
      case 'queryPipelineRuns':
        send(res, 200, svc.queryPipelineRuns(route.subscriptionId, route.resourceGroup, route.factory, parseJson(body)));
        return;
      case 'queryActivityruns': {
        const run = svc.findRun(route.subscriptionId, route.resourceGroup, route.factory, name);
        send(res, 200, svc.queryActivityRuns(run, parseJson(body)));
        return;
      }
      case 'getPipeline': {
        const pipeline = svc.requirePipeline(name);
        const id = `/subscriptions/${route.subscriptionId}/resourceGroups/${route.resourceGroup}/providers/Microsoft.DataFactory/factories/${route.factory}/pipelines/${pipeline.name}`;
        send(res, 200, {
          id,
          name: pipeline.name,
          type: 'Microsoft.DataFactory/factories/pipelines',
          properties: {
            activities: [],
            parameters: Object.fromEntries((pipeline.spec.parameters ?? []).map((p) => [p, { type: 'String' }])),
          },
          etag: Buffer.from(pipeline.name.toLowerCase()).toString('hex').slice(0, 32).padEnd(32, '0'),
        });
        return;
      }
    }
  }

  private handleInspection(method: string, rest: string[], url: URL, body: string, res: ServerResponse): void {
    const svc = this.service;
    const [a, b, c] = rest.map((s) => s.toLowerCase());
    if (method === 'GET' && a === 'runs' && rest.length === 1) {
      const factory = url.searchParams.get('factory')?.toLowerCase();
      const pipelineName = url.searchParams.get('pipelineName')?.toLowerCase();
      const runs = svc.runs().filter((r) =>
        (!factory || r.factory.toLowerCase() === factory) && (!pipelineName || r.pipelineName.toLowerCase() === pipelineName));
      send(res, 200, runs);
      return;
    }
    if (method === 'GET' && a === 'runs' && b && rest.length === 2) {
      const run = svc.runs().find((r) => r.runId === b);
      if (!run) throw new ArmError(404, 'PipelineRunNotFound', `Pipeline run '${b}' not found.`);
      send(res, 200, run);
      return;
    }
    if (method === 'POST' && a === 'runs' && b && c === 'finish' && rest.length === 3) {
      const input = parseJson(body) as { status?: unknown; message?: unknown } | undefined;
      const status = input?.status;
      if (typeof status !== 'string' || !(TERMINAL_STATUSES as readonly string[]).includes(status)) {
        throw badRequest(`'status' must be one of ${TERMINAL_STATUSES.join(', ')}.`);
      }
      if (input?.message !== undefined && typeof input.message !== 'string') throw badRequest("'message' must be a string.");
      try {
        const run = svc.finish(b, status as TerminalStatus, input?.message);
        send(res, 200, svc.toEmulated(run));
      } catch (err) {
        if (err instanceof RunNotFound) throw new ArmError(404, 'PipelineRunNotFound', err.message);
        if (err instanceof RunAlreadyFinished) throw new ArmError(409, 'RunAlreadyFinished', err.message);
        throw err;
      }
      return;
    }
    if (method === 'POST' && a === 'scenario' && rest.length === 1) {
      try {
        svc.setScenario(parseJson(body) as Scenario);
      } catch (err) {
        if (err instanceof ScenarioInvalid) throw new ArmError(400, 'ScenarioInvalid', err.message);
        throw err;
      }
      send(res, 200, { ok: true });
      return;
    }
    if (method === 'GET' && a === 'stats' && rest.length === 1) {
      send(res, 200, svc.stats());
      return;
    }
    if (method === 'POST' && a === 'stats' && b === 'reset' && rest.length === 2) {
      svc.resetStats();
      send(res, 200, svc.stats());
      return;
    }
    if (method === 'GET' && (a === 'health' || a === undefined)) {
      send(res, 200, { ok: true });
      return;
    }
    throw new ArmError(404, 'NotFound', `No emulator route for ${method} ${url.pathname}.`);
  }
}

// ---------------------------------------------------------------------------------------------

export { generateCertificate };

/** Starts the emulator; resolves once it listens. */
export async function startFactoryEmulator(opts: EmulatorOptions = {}): Promise<FactoryEmulator> {
  const host = opts.host ?? '127.0.0.1';
  const service = new FactoryService(opts.maxRuns ?? 50_000);
  service.setScenario(opts.scenario ?? DEFAULT_SCENARIO);
  const tls = opts.tls ?? (await generateCertificate());
  const http = new EmulatorHttp(service);

  const server: Server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    void http.handle(req, res);
  });
  const sockets = new Set<Socket>();
  server.on('secureConnection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 7443, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const timer = setInterval(() => service.advance(), TICK_MS);
  timer.unref();

  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `https://${urlHost}:${port}`,
    port,
    ca: tls.cert,
    runs: () => service.runs(),
    finish: (runId, status, message) => {
      service.finish(runId, status, message);
    },
    setScenario: (s) => service.setScenario(s),
    seedRuns: (spec) => service.seedRuns(spec),
    stats: () => service.stats(),
    resetStats: () => service.resetStats(),
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        clearInterval(timer);
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}
