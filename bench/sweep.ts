/**
 * Section 1: what one sweep pass costs with 10 / 100 / 1,000 / 10,000 tracked runs in flight in one
 * factory, side by side with per-run polling (one pipelineRuns.get per running run, what ADF.procfwk's
 * checker and Airflow's sensor do each interval) on the same runs.
 *
 * The fleet grows by increments (10, then 90 more, 900, 9,000), so 10,000 starts happen in all. At each size
 * three passes are measured, each after a warm-up pass (so the watermark exists) and with 1 % of the runs
 * finished by hand and as many new runs started just before it (the in-flight count stays the size):
 *   quiet  – nothing else changes in the factory;
 *   noise  – 10,000 untracked runs of other pipelines change in the same window (emulator.seedRuns);
 *   stale  – every tracked run is past the stale threshold (RUN_STALE_SECONDS = 1 for that pass).
 * Before each warm-up the bench waits FEED_OVERLAP_SECONDS + 1 s, so the measured window holds what that
 * variant changed and not the previous one's.
 */
import { startTrackedRun } from '../src/core/runs/start';
import { runSweep } from '../src/core/sweep/sweep';
import type { Deps } from '../src/core/deps';
import { armSince, FACTORY, startStack, type ArmCalls, type Stack } from './stack';
import { cpuMeter, mapLimit, mib, percentile, round, RssSampler, sleep, type CpuReport } from './support';

/** `BENCH_SIZES=10,100` runs a shorter bench (for trying the harness). */
export const SIZES = process.env.BENCH_SIZES ? process.env.BENCH_SIZES.split(',').map(Number) : [10, 100, 1_000, 10_000];
const TRACKED_PIPELINES = 5;
const NOISE_RUNS = 10_000;
const NOISE_PIPELINES = 10;
const START_CONCURRENCY = 32;
const POLL_CONCURRENCY = 16;
/** Small, so a variant's window does not hold the previous one's changes (see the file comment). */
export const FEED_OVERLAP_SECONDS = 3;
const STALE_SECONDS = 1;

export type Variant = 'quiet' | 'noise' | 'stale';

export interface PassResult {
  size: number;
  variant: Variant;
  inFlight: number;
  finishedByHand: number;
  settled: number;
  ms: number;
  arm: ArmCalls;
  armCalls: number;
  tableOps: number;
  tableOpsByOp: Record<string, number>;
  peakRssMiB: number;
  rssGrowthMiB: number;
  report: Record<string, unknown>;
  cpu: CpuReport;
}

export interface PollResult {
  size: number;
  runs: number;
  armCalls: number;
  ms: number;
}

export interface GrowthResult {
  /** The size aimed at; `reached` is what the time budget allowed. */
  size: number;
  reached: number;
  started: number;
  seconds: number;
  startsPerSecond: number;
  armWrites: number;
  tableOpsPerStart: number;
  /** Passes run back to back while these starts went on (the last increment only). */
  concurrentPasses?: { count: number; maxMs: number; p95Ms: number; p50Ms: number; errors: number };
  cpu: CpuReport;
}

export interface SweepSectionResult {
  settings: Record<string, unknown>;
  growth: GrowthResult[];
  passes: PassResult[];
  polling: PollResult[];
  ratios: Record<string, number>;
  skipped: string[];
  cpu?: CpuReport;
}

class Fleet {
  /** runIds of tracked runs that are running. */
  readonly running: string[] = [];
  private seq = 0;
  unconfirmed = 0;

  constructor(private readonly stack: Stack) {}

  /** Starts up to `n` tracked runs; none after `stopAt` (epoch ms). Returns how many were started. */
  async start(n: number, stopAt = Infinity): Promise<number> {
    let started = 0;
    await mapLimit(Array.from({ length: n }, (_, i) => i), START_CONCURRENCY, async () => {
      if (Date.now() > stopAt) return;
      started++;
      const i = this.seq++;
      const result = await startTrackedRun(this.stack.deps, {
        target: { ...FACTORY, pipeline: `tracked_${i % TRACKED_PIPELINES}` },
        parameters: { i },
        owner: { kind: 'none', id: '' },
      });
      if (result.run.runId) this.running.push(result.run.runId);
      else this.unconfirmed++;
    });
    return started;
  }

  /** Finishes `n` random running runs in the emulator, as ADF would. */
  finish(n: number): number {
    let done = 0;
    for (let k = 0; k < n && this.running.length > 0; k++) {
      const i = Math.floor(Math.random() * this.running.length);
      const runId = this.running[i] as string;
      this.running[i] = this.running[this.running.length - 1] as string;
      this.running.pop();
      this.stack.emulator.finish(runId, 'Succeeded');
      done++;
    }
    return done;
  }
}

async function measurePass(stack: Stack, deps: Deps, size: number, variant: Variant, inFlight: number, finishedByHand: number): Promise<PassResult> {
  const arm0 = stack.emulator.stats();
  const tables0 = stack.tableOps.snapshot();
  const cpu = cpuMeter(stack.azuritePid);
  const rss = new RssSampler(20);
  const t0 = performance.now();
  const report = await runSweep(deps);
  const ms = performance.now() - t0;
  const mem = rss.stop();
  const cpuReport = cpu();
  const arm = armSince(stack.emulator, arm0);
  const tables = stack.tableOps.since(tables0);
  return {
    size,
    variant,
    inFlight,
    finishedByHand,
    settled: report.settled,
    ms: round(ms, 0),
    arm,
    armCalls: arm.reads + arm.writes,
    tableOps: tables.total,
    tableOpsByOp: tables.byOp,
    peakRssMiB: mib(mem.peakRss),
    rssGrowthMiB: mib(mem.peakRss - mem.baseRss),
    report: { ...report },
    cpu: cpuReport,
  };
}

/** One pipelineRuns.get per running tracked run, counted at the emulator. */
async function measurePolling(stack: Stack, fleet: Fleet, size: number): Promise<PollResult> {
  const arm0 = stack.emulator.stats();
  const t0 = performance.now();
  await mapLimit(fleet.running, POLL_CONCURRENCY, (runId) => stack.deps.factory.getRun(FACTORY, runId));
  const ms = performance.now() - t0;
  return { size, runs: fleet.running.length, armCalls: armSince(stack.emulator, arm0).reads, ms: round(ms, 0) };
}

/** Time kept back from growth for measuring at the last size (3 variants, polling). */
const MEASURE_RESERVE_MS = 80_000;

export async function sweepSection(say: (line: string) => void, budgetMs: number): Promise<SweepSectionResult> {
  const deadline = Date.now() + budgetMs;
  const pipelines: Record<string, { durationMs: null }> = {};
  for (let p = 0; p < TRACKED_PIPELINES; p++) pipelines[`tracked_${p}`] = { durationMs: null };
  const stack = await startStack({
    prefix: 'benchsweep',
    scenario: { pipelines, unknownPipelines: 'notFound' },
    settings: { FEED_OVERLAP_SECONDS: String(FEED_OVERLAP_SECONDS) },
  });
  const sectionCpu = cpuMeter(stack.azuritePid);
  const result: SweepSectionResult = {
    settings: { ...stack.deps.settings, timers: 'off (passes are run by hand)', staleVariantRunStaleSeconds: STALE_SECONDS },
    growth: [],
    passes: [],
    polling: [],
    ratios: {},
    skipped: [],
  };
  const staleDeps: Deps = { ...stack.deps, settings: { ...stack.deps.settings, runStaleSeconds: STALE_SECONDS } };
  const fleet = new Fleet(stack);
  const waitOutWindow = () => sleep((FEED_OVERLAP_SECONDS + 1) * 1000);
  try {
    for (const target of SIZES) {
      if (Date.now() > deadline - MEASURE_RESERVE_MS / 2) {
        result.skipped.push(`size ${target}: the section's time budget was spent`);
        break;
      }
      // ---- grow towards `target` (no start after the growth deadline)
      const n = target - fleet.running.length;
      const arm0 = stack.emulator.stats();
      const tables0 = stack.tableOps.snapshot();
      const cpu = cpuMeter(stack.azuritePid);
      const last = target === SIZES[SIZES.length - 1];
      const passMs: number[] = [];
      let passErrors = 0;
      const t0 = performance.now();
      const starting = fleet.start(n, deadline - MEASURE_RESERVE_MS);
      if (last) {
        // Passes back to back while the starts go on: none may take long.
        let done = false;
        void starting.finally(() => (done = true)).catch(() => undefined);
        while (!done) {
          const p0 = performance.now();
          const r = await runSweep(stack.deps).catch(() => ({ errors: 1 }));
          passErrors += r.errors;
          passMs.push(performance.now() - p0);
        }
      }
      const started = await starting;
      const seconds = (performance.now() - t0) / 1000;
      const tables = stack.tableOps.since(tables0);
      const size = fleet.running.length;
      const growth: GrowthResult = {
        size: target,
        reached: size,
        started,
        seconds: round(seconds, 1),
        startsPerSecond: round(started / seconds, 0),
        armWrites: armSince(stack.emulator, arm0).writes,
        tableOpsPerStart: round(tables.total / Math.max(1, started), 1),
        cpu: cpu(),
      };
      if (last) {
        growth.concurrentPasses = {
          count: passMs.length,
          maxMs: round(Math.max(0, ...passMs), 0),
          p95Ms: round(percentile(passMs, 95), 0),
          p50Ms: round(percentile(passMs, 50), 0),
          errors: passErrors,
        };
      }
      result.growth.push(growth);
      say(`  grow to ${target.toLocaleString('en-US')}: ${started} starts in ${growth.seconds} s (${growth.startsPerSecond}/s)` +
        (growth.concurrentPasses ? `, ${growth.concurrentPasses.count} passes alongside, max ${growth.concurrentPasses.maxMs} ms` : '') +
        (size < target ? ` — cut at ${size.toLocaleString('en-US')} by the time budget` : ''));
      if (size < target) result.skipped.push(`growth to ${target} stopped at ${size} (time budget); measured at ${size}`);
      if (fleet.unconfirmed > 0) say(`  note: ${fleet.unconfirmed} starts were not confirmed by ADF`);

      const onePercent = Math.max(1, Math.ceil(size / 100));
      const variants: Array<[Variant, Deps, () => Promise<void>]> = [
        ['quiet', stack.deps, async () => undefined],
        ['noise', stack.deps, async () => {
          for (let p = 0; p < NOISE_PIPELINES; p++) {
            stack.emulator.seedRuns({ factory: FACTORY, pipeline: `untracked_${p}`, count: NOISE_RUNS / NOISE_PIPELINES, durationMs: 50 });
          }
          await sleep(300); // every noise run has gone InProgress and finished: two changes each, in the window
        }],
        ['stale', staleDeps, () => sleep(STALE_SECONDS * 1000 + 500)],
      ];
      for (const [variant, deps, prepare] of variants) {
        if (Date.now() > deadline) {
          result.skipped.push(`size ${size} ${variant}: the section's time budget was spent`);
          continue;
        }
        await waitOutWindow();
        await runSweep(stack.deps); // warm-up: the watermark exists, earlier changes are absorbed
        await prepare();
        const finished = fleet.finish(onePercent);
        await fleet.start(finished); // replacements: the in-flight count stays `size`
        await sleep(50); // the replacements are InProgress
        const pass = await measurePass(stack, deps, size, variant, fleet.running.length, finished);
        result.passes.push(pass);
        say(`  ${size.toLocaleString('en-US')} ${variant.padEnd(5)}: ${pass.ms} ms, ARM ${pass.arm.reads} reads (get ${pass.arm.getRun}, query ${pass.arm.queryPipelineRuns}) + ${pass.arm.writes} writes, ${pass.tableOps} table ops, settled ${pass.settled}/${finished}, peak RSS ${pass.peakRssMiB} MiB`);
        if (variant === 'quiet') {
          const poll = await measurePolling(stack, fleet, size);
          result.polling.push(poll);
          say(`  ${size.toLocaleString('en-US')} per-run polling: ${poll.armCalls} ARM reads in ${poll.ms} ms`);
        }
        const poll = result.polling.find((p) => p.size === size);
        if (poll) {
          const key = `armCallRatio_${size}${variant === 'quiet' ? '' : `_${variant}`}`;
          result.ratios[key] = round(poll.armCalls / Math.max(1, pass.armCalls), 1);
        }
      }
    }
  } finally {
    result.cpu = sectionCpu();
    await stack.close();
  }
  return result;
}
