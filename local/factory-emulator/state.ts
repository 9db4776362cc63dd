/**
 * The emulated Data Factory service: the scenario, request counts and faults, and the runs with their
 * lifecycle (Queued → InProgress → terminal), webhook runs and their callbacks, seeded runs and eviction.
 * Queries are in `query.ts`, views in `views.ts`, HTTP in `http.ts`, the webhook POST in `webhook.ts`.
 */
import { randomUUID } from 'node:crypto';
import {
  DEFAULT_SCENARIO,
  OPERATIONS,
  parseScenario,
  type Operation,
  type PipelineScenario,
  type Scenario,
  type TerminalStatus,
} from './scenario';
import {
  ArmError,
  badRequest,
  factoryKeyOf,
  faultError,
  isTerminal,
  RunAlreadyFinished,
  RunNotFound,
  type CallbackRecord,
  type CreateRunInput,
  type EmulatedRun,
  type NewRun,
  type Run,
  type SeedSpec,
} from './model';
import { DueHeap, RunIndex, type FactoryState } from './run-index';
import { emulatedRun } from './views';
import {
  redactedUrl,
  resolveBody,
  TemplateError,
  timeSpan,
  WEBHOOK_DEFAULT_ACTIVITY,
  WEBHOOK_DEFAULT_TIMEOUT_MS,
  type CallbackReport,
} from './webhook';

const CANCEL_DELAY_MS = 50;
const UNKNOWN_PIPELINE_DURATION_MS = 100;
const MAX_CALLBACK_RECORDS = 10_000;

/** Sends a webhook run's POST (`body` is resolved; the starter adds `callBackUri`). */
export type WebhookStarter = (run: Run, body: Record<string, unknown>) => void;

const toParameterString = (value: unknown): string =>
  typeof value === 'string' ? value : (JSON.stringify(value) ?? 'null');

/** The emulated Data Factory service: runs, their lifecycle, queries. No HTTP here. */
export class FactoryService {
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
  private webhookStarter: WebhookStarter | undefined;
  /** Callbacks received, oldest first (at most MAX_CALLBACK_RECORDS). */
  private readonly callbackLog: CallbackRecord[] = [];

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
    // A webhook run that is not called back in time fails: the callback is what can end it otherwise.
    const outcome = spec.webhook ? 'Failed'
      : outcomes ? (outcomes[Math.min(index, outcomes.length - 1)] ?? 'Succeeded') : (spec.outcome ?? 'Succeeded');

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
      durationMs: spec.webhook ? (spec.webhook.timeoutMs ?? WEBHOOK_DEFAULT_TIMEOUT_MS)
        : spec.durationMs === undefined ? UNKNOWN_PIPELINE_DURATION_MS : spec.durationMs,
      outcome,
      error: spec.error,
      webhook: spec.webhook,
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
        activity: init.webhook ? (init.webhook.activity ?? WEBHOOK_DEFAULT_ACTIVITY) : (init.error?.activity ?? 'Main'),
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
      webhook: init.webhook
        ? {
            activity: init.webhook.activity ?? WEBHOOK_DEFAULT_ACTIVITY,
            url: init.webhook.url,
            body: init.webhook.body ?? {},
            timeoutMs: init.webhook.timeoutMs ?? WEBHOOK_DEFAULT_TIMEOUT_MS,
            caFile: init.webhook.caFile,
            phase: 'pending',
            input: {},
            output: {},
            callbackReceived: false,
            timedOut: false,
          }
        : undefined,
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
        if (run.webhook) this.startWebhook(run, now);
        return;
      case 'InProgress':
        if (run.webhook?.phase === 'waiting') {
          // ADF documents the activity's status "TimedOut"; the wording of its error is not documented.
          run.webhook.timedOut = true;
          run.failure.code = 'WebhookTimedOut';
          run.failure.message =
            `The webhook activity '${run.webhook.activity}' timed out: no callback within ${timeSpan(run.webhook.timeoutMs)}.`;
        }
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
    if (run.webhook) run.webhook.phase = 'done';
    run.status = status;
    run.runEnd = now;
    this.stamp(run, now);
    run.message = status === 'Failed' ? run.failure.message : '';
  }

  // ---- webhook activity ----------------------------------------------------------------

  /** Who sends webhook POSTs (the emulator's HTTP side). */
  setWebhookStarter(starter: WebhookStarter): void {
    this.webhookStarter = starter;
  }

  /** The run went InProgress: resolve the body and POST it; from now on a callback is accepted. */
  private startWebhook(run: Run, now: number): void {
    const webhook = run.webhook!;
    let body: Record<string, unknown>;
    try {
      body = resolveBody(webhook.body, {
        runId: run.runId,
        pipeline: run.pipelineName,
        factory: run.factory,
        groupId: run.runGroupId,
        parameters: run.parameters,
      });
    } catch (err) {
      if (!(err instanceof TemplateError)) throw err;
      webhook.input = { method: 'POST', url: redactedUrl(webhook.url), body: webhook.body, timeout: timeSpan(webhook.timeoutMs) };
      this.failWebhook(run, err.code, err.message, now);
      return;
    }
    webhook.input = { method: 'POST', url: redactedUrl(webhook.url), body, timeout: timeSpan(webhook.timeoutMs) };
    webhook.phase = 'waiting';
    this.webhookStarter?.(run, body);
  }

  private failWebhook(run: Run, code: string, message: string, now: number): void {
    run.failure.code = code;
    run.failure.message = message;
    run.gen++;
    run.dueAt = null;
    this.terminate(run, 'Failed', now);
  }

  /** The POST got no 2xx answer in time: the activity, and the run, fail (unless a callback already ended it). */
  webhookCallFailed(runId: string, code: string, message: string): void {
    this.advance();
    const run = this.allRuns.get(runId);
    if (!run?.webhook || run.webhook.phase !== 'waiting' || run.status !== 'InProgress') return;
    this.failWebhook(run, code, message, this.now());
  }

  /**
   * A callback for `runId`. Throws ArmError 404 for an unknown run or one without a webhook activity, and 409 when
   * the activity no longer waits (called back already, timed out, cancelled, finished); a refused callback changes
   * nothing. Otherwise the run ends: Failed when `StatusCode` >= 400 (with `Error` as the activity's error),
   * else Succeeded; `Output` becomes the activity's output either way.
   */
  receiveCallback(runId: string, report: CallbackReport): Run {
    this.advance();
    const run = this.allRuns.get(runId.toLowerCase());
    if (!run) throw new ArmError(404, 'PipelineRunNotFound', `Pipeline run '${runId}' not found.`);
    const webhook = run.webhook;
    if (!webhook) throw new ArmError(404, 'CallbackNotFound', `Pipeline run '${runId}' has no webhook activity.`);
    const now = this.now();
    const record: CallbackRecord = {
      runId: run.runId,
      pipelineName: run.pipelineName,
      factory: run.factory,
      at: new Date(now).toISOString(),
      statusCode: report.statusCode ?? null,
      output: report.output,
      error: report.error
        ? { ...(report.error.errorCode !== undefined ? { ErrorCode: report.error.errorCode } : {}),
            ...(report.error.message !== undefined ? { Message: report.error.message } : {}) }
        : null,
      accepted: false,
    };
    let refusal: ArmError | undefined;
    if (webhook.callbackReceived) {
      refusal = new ArmError(409, 'CallbackAlreadyReceived', `The webhook activity of run '${run.runId}' was already called back.`);
    } else if (webhook.phase !== 'waiting' || run.status !== 'InProgress') {
      refusal = new ArmError(409, 'ActivityNotWaiting',
        `The webhook activity of run '${run.runId}' is not waiting for a callback (run status ${run.status}${webhook.timedOut ? ', timed out' : ''}).`);
    }
    if (refusal) {
      record.refusal = refusal.code;
      this.logCallback(record);
      throw refusal;
    }
    record.accepted = true;
    this.logCallback(record);
    webhook.callbackReceived = true;
    webhook.output = report.output;
    if (report.statusCode !== undefined && report.statusCode >= 400) {
      this.failWebhook(run, report.error?.errorCode || String(report.statusCode),
        report.error?.message || `The callback reported status code ${report.statusCode}.`, now);
    } else {
      run.gen++;
      run.dueAt = null;
      this.terminate(run, 'Succeeded', now);
    }
    return run;
  }

  private logCallback(record: CallbackRecord): void {
    this.callbackLog.push(record);
    if (this.callbackLog.length > MAX_CALLBACK_RECORDS) this.callbackLog.splice(0, this.callbackLog.length - MAX_CALLBACK_RECORDS);
  }

  /** Callbacks received (accepted and refused), oldest first; optionally of one run. */
  callbacks(runId?: string): CallbackRecord[] {
    const id = runId?.toLowerCase();
    return this.callbackLog.filter((c) => id === undefined || c.runId === id).map((c) => structuredClone(c));
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

  runs(): EmulatedRun[] {
    this.advance();
    return [...this.allRuns.values()].map((run) => emulatedRun(run, this.isLatest(run)));
  }

  /** A factory's runs and index; undefined if it never had a run. */
  existingFactory(key: string): FactoryState | undefined {
    return this.factories.get(key);
  }

  /** The scenario in force. */
  get currentScenario(): Scenario {
    return this.scenario;
  }
}
