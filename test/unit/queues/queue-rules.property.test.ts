import fc from 'fast-check';
import { DomainError } from '../../../src/core/errors';
import { isTerminalJob, type JobStatus } from '../../../src/core/queues/model';
import { cancelJob } from '../../../src/core/queues/queues';
import type { TxOp } from '../../../src/core/ports';
import { observeOne } from '../../../src/core/runs/observe';
import { runSweep, settlers } from '../../../src/core/sweep/sweep';
import { enqueue, queueDeps, type QueueDeps } from './queue-fixture';

/**
 * The queue rules over random interleavings. Each step is a batch of 1-3 operations run concurrently
 * (they interleave at every storage call); between and within batches the store's committed transitions
 * are replayed to check: never more than `capacity` RUNNING, slots taken in submission order, and every
 * job ending in exactly one terminal status.
 */

const QUEUES = { solo: 1, trio: 3 } as const;
type QueueName = keyof typeof QUEUES;

type Op =
  | { op: 'enqueue'; queue: QueueName; unknownPipeline: boolean; timeoutSeconds?: number }
  | { op: 'finish'; pick: number; outcome: 'Succeeded' | 'Failed' | 'Cancelled' }
  | { op: 'callback'; pick: number }
  | { op: 'sweep' }
  | { op: 'cancel'; pick: number }
  | { op: 'tick'; seconds: number }
  | { op: 'throttleNextStart' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('enqueue' as const), queue: fc.constantFrom<QueueName>('solo', 'trio'), unknownPipeline: fc.integer({ min: 0, max: 9 }).map((x) => x === 0), timeoutSeconds: fc.option(fc.integer({ min: 1, max: 30 }), { nil: undefined }) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('finish' as const), pick: fc.nat(), outcome: fc.constantFrom('Succeeded' as const, 'Failed' as const, 'Cancelled' as const) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('callback' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.constant({ op: 'sweep' as const }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('cancel' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('tick' as const), seconds: fc.integer({ min: 1, max: 20 }) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'throttleNextStart' as const }) },
);
const stepsArb = fc.array(fc.array(opArb, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 20 });

interface Submitted {
  n: number;
  queue: QueueName;
  jobId: string;
  seq: number;
}

/** Replays every committed job transition of the Queues table and checks the rules as it goes. */
class RuleChecker {
  readonly status = new Map<string, JobStatus>(); // `${partition}/${rowKey}` → status
  readonly slotOrder = new Map<string, number[]>(); // partition → seqs in the order they took a slot
  readonly violations: string[] = [];

  record(partition: string, ops: TxOp[]): void {
    for (const op of ops) {
      if (!op.rowKey.startsWith('j_')) continue;
      const key = `${partition}/${op.rowKey}`;
      const before = this.status.get(key);
      const after = op.props.status as JobStatus;
      if (before && isTerminalJob(before) && after !== before) this.violations.push(`${key}: ${before} → ${after} after it ended`);
      if (before === after) continue;
      if (after === 'RUNNING') this.slotOrder.set(partition, [...(this.slotOrder.get(partition) ?? []), Number(op.props.seq)]);
      this.status.set(key, after);
    }
    const capacity = QUEUES[partition.slice(2) as QueueName];
    const running = [...this.status].filter(([k, s]) => k.startsWith(`${partition}/`) && s === 'RUNNING').length;
    if (running > capacity) this.violations.push(`${partition}: ${running} RUNNING with capacity ${capacity}`);
  }
}

function watch(deps: QueueDeps, checker: RuleChecker): void {
  const table = deps.tables.table('Queues');
  const transact = table.transact.bind(table);
  table.transact = async (pk, ops) => {
    await transact(pk, ops);
    checker.record(pk, ops);
  };
  const update = table.update.bind(table);
  table.update = async (pk, rk, props, etag) => {
    const row = await update(pk, rk, props, etag);
    checker.record(pk, [{ kind: 'update', rowKey: rk, props, etag }]);
    return row;
  };
}

async function run(deps: QueueDeps, op: Op, submitted: Submitted[], counter: { n: number }): Promise<void> {
  const pick = <T>(items: T[], i: number) => items[i % Math.max(1, items.length)];
  switch (op.op) {
    case 'enqueue': {
      const n = counter.n++;
      const { job } = await enqueue(deps, op.queue, n, {
        ...(op.unknownPipeline ? { pipeline: 'missing' } : {}),
        ...(op.timeoutSeconds !== undefined ? { timeoutSeconds: op.timeoutSeconds } : {}),
      });
      submitted.push({ n, queue: op.queue, jobId: job.jobId, seq: job.seq });
      return;
    }
    case 'finish': {
      const run = pick(
        deps.factory.runs.filter((r) => r.status === 'InProgress'),
        op.pick,
      );
      if (run) deps.factory.finish(run.runId, op.outcome);
      return;
    }
    case 'callback': {
      const run = pick(deps.factory.runs, op.pick);
      if (run) await observeOne(deps, settlers, run.runId);
      return;
    }
    case 'sweep':
      await runSweep(deps);
      return;
    case 'cancel': {
      const job = pick(submitted, op.pick);
      if (!job) return;
      try {
        await cancelJob(deps, job.queue, job.jobId);
      } catch (e) {
        if (!(e instanceof DomainError && e.code === 'JobAlreadyFinished')) throw e;
      }
      return;
    }
    case 'tick':
      deps.clock.advance(op.seconds * 1000);
      return;
    case 'throttleNextStart':
      deps.factory.startScript.push('throttled');
  }
}

/** Lets every run end and the sweep catch up, until no job is PENDING or RUNNING. */
async function drain(deps: QueueDeps, checker: RuleChecker): Promise<void> {
  deps.factory.startScript = [];
  for (let i = 0; i < 200; i++) {
    const open = [...checker.status.values()].some((s) => !isTerminalJob(s));
    if (!open) return;
    for (const r of deps.factory.runs) if (r.status === 'InProgress') deps.factory.finish(r.runId, 'Succeeded');
    deps.clock.advance(1000);
    await runSweep(deps);
  }
}

describe('queue rules (property)', () => {
  it('when enqueue, finish, callback, sweep, cancel and timeout interleave at random, then capacity, FIFO and single terminal status hold', async () => {
    await fc.assert(
      fc.asyncProperty(stepsArb, async (steps) => {
        const deps = await queueDeps(
          Object.entries(QUEUES).map(([name, capacity]) => ({ name, capacity })),
          { reconcileGraceSeconds: 0 },
        );
        const checker = new RuleChecker();
        watch(deps, checker);
        const submitted: Submitted[] = [];
        const counter = { n: 0 };
        for (const batch of steps) await Promise.all(batch.map((op) => run(deps, op, submitted, counter)));
        await drain(deps, checker);

        expect(checker.violations).toEqual([]);
        // Slots are taken in submission order (the sequence number), per queue.
        for (const [partition, order] of checker.slotOrder) expect({ partition, order }).toEqual({ partition, order: [...order].sort((a, b) => a - b) });
        // Every job ended, in exactly one terminal status, and ADF ran it at most once.
        expect(checker.status.size).toBe(submitted.length);
        for (const s of checker.status.values()) expect(TERMINAL).toContain(s);
        const runsPerJob = new Map<string, number>();
        for (const r of deps.factory.runs) runsPerJob.set(r.parameters.n ?? '', (runsPerJob.get(r.parameters.n ?? '') ?? 0) + 1);
        expect([...runsPerJob.values()].every((c) => c === 1)).toBe(true);
        // On a capacity-1 queue ADF itself saw the starts in submission order.
        const soloSeq = new Map(submitted.filter((j) => j.queue === 'solo').map((j) => [j.n, j.seq]));
        const adfOrder = deps.factory.runs.map((r) => soloSeq.get(Number(r.parameters.n))).filter((s): s is number => s !== undefined);
        expect(adfOrder).toEqual([...adfOrder].sort((a, b) => a - b));
      }),
      { numRuns: 200 },
    );
  });
});

const TERMINAL: JobStatus[] = ['COMPLETED', 'FAILED', 'USER_ERROR', 'TERMINATED', 'TIMEDOUT'];
