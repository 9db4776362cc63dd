import fc from 'fast-check';
import { isFailure, isTerminalWorker, plan, type Rules, type WorkerState, type WorkerStatus } from '../../../src/core/orchestration/rules';

const rules = (failureHandling: Rules['failureHandling'], cancelledWorkerBlocks = true, unknownWorkerBlocks = true): Rules => ({
  failureHandling,
  cancelledWorkerBlocks,
  unknownWorkerBlocks,
});
const w = (name: string, stageIndex: number, status: WorkerStatus = 'Pending', dependsOn: string[] = []): WorkerState => ({ name, stageIndex, status, dependsOn });

/** Runs the plan to completion, finishing started workers with `outcome(name)`. */
function simulate(workers: WorkerState[], r: Rules, outcome: (name: string) => WorkerStatus, cap = 50) {
  const state = workers.map((x) => ({ ...x }));
  const startedStages: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const p = plan(state, r, cap);
    for (const n of p.block) (state.find((x) => x.name === n) as WorkerState).status = 'Blocked';
    if (p.outcome) return { state, outcome: p.outcome, startedStages };
    for (const n of p.start) {
      const x = state.find((y) => y.name === n) as WorkerState;
      startedStages.push(x.stageIndex);
      x.status = outcome(n);
    }
    if (!p.block.length && !p.start.length) throw new Error('no progress');
  }
  throw new Error('did not finish');
}

describe('orchestration rules (procfwk v1.8 failure handling)', () => {
  const chain = [w('a', 0), w('b', 0), w('c', 1, 'Pending', ['a']), w('d', 1, 'Pending', ['b']), w('e', 2, 'Pending', ['c']), w('f', 2)];
  const failA = (n: string): WorkerStatus => (n === 'a' ? 'Failed' : 'Succeeded');

  it('when a stage has unfinished workers, then no later stage starts', () => {
    const p = plan([w('a', 0, 'Running'), w('b', 1)], rules('None'), 50);
    expect(p.start).toEqual([]);
    expect(p.currentStage).toBe(0);
  });

  it('when the cap is reached, then only the room left is started', () => {
    const p = plan([w('a', 0, 'Running'), w('b', 0), w('c', 0), w('d', 0)], rules('None'), 2);
    expect(p.start).toEqual(['b']);
  });

  it('when None and a worker fails, then everything else runs and the execution is Failed', () => {
    const r = simulate(chain, rules('None'), failA);
    expect(r.outcome).toBe('Failed');
    expect(r.state.filter((x) => x.status === 'Succeeded')).toHaveLength(5);
  });

  it('when Simple and a worker fails, then every later worker is Blocked and the execution is Stopped', () => {
    const r = simulate(chain, rules('Simple'), failA);
    expect(r.outcome).toBe('Stopped');
    expect(r.state.map((x) => x.status)).toEqual(['Failed', 'Succeeded', 'Blocked', 'Blocked', 'Blocked', 'Blocked']);
  });

  it('when DependencyChain and a worker fails, then only its dependants are Blocked, transitively', () => {
    const r = simulate(chain, rules('DependencyChain'), failA);
    expect(r.outcome).toBe('Failed');
    expect(Object.fromEntries(r.state.map((x) => [x.name, x.status]))).toEqual({ a: 'Failed', b: 'Succeeded', c: 'Blocked', d: 'Succeeded', e: 'Blocked', f: 'Succeeded' });
  });

  it('when a Cancelled outcome and cancelledWorkerBlocks is false, then it blocks nothing', () => {
    const cancelA = (n: string): WorkerStatus => (n === 'a' ? 'Cancelled' : 'Succeeded');
    expect(simulate(chain, rules('DependencyChain', false), cancelA).state.filter((x) => x.status === 'Blocked')).toHaveLength(0);
    expect(simulate(chain, rules('DependencyChain', true), cancelA).state.filter((x) => x.status === 'Blocked')).toHaveLength(2);
    expect(simulate(chain, rules('Simple', false), cancelA).outcome).toBe('Failed');
  });

  it('when an Unknown outcome and unknownWorkerBlocks is false, then it blocks nothing', () => {
    const unknownA = (n: string): WorkerStatus => (n === 'a' ? 'Unknown' : 'Succeeded');
    expect(isFailure('Unknown', rules('Simple', true, false))).toBe(false);
    expect(simulate(chain, rules('Simple', true, false), unknownA).state.filter((x) => x.status === 'Blocked')).toHaveLength(0);
  });

  // Random DAGs over random stages, random outcomes, every failure mode.
  const arbCase = fc
    .record({
      stages: fc.integer({ min: 1, max: 5 }),
      n: fc.integer({ min: 1, max: 14 }),
      mode: fc.constantFrom<Rules['failureHandling']>('None', 'Simple', 'DependencyChain'),
      cancelledBlocks: fc.boolean(),
      cap: fc.integer({ min: 1, max: 6 }),
      seed: fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 60, maxLength: 60 }),
    })
    .map(({ stages, n, mode, cancelledBlocks, cap, seed }) => {
      const ws: WorkerState[] = [];
      for (let i = 0; i < n; i++) {
        const stage = (seed[i] as number) % stages;
        const preds = ws.filter((p) => p.stageIndex < stage && (seed[(i * 7 + ws.indexOf(p)) % 60] as number) % 3 === 0).map((p) => p.name);
        ws.push(w(`w${i}`, stage, 'Pending', preds));
      }
      const outcomes = Object.fromEntries(ws.map((x, i) => [x.name, (['Succeeded', 'Succeeded', 'Failed', 'Cancelled'] as WorkerStatus[])[(seed[(i + 30) % 60] as number) % 4] as WorkerStatus]));
      return { ws, r: rules(mode, cancelledBlocks), cap, outcomes };
    });

  it('when any random DAG runs, then stages start in order, all end terminal, and the mode rules hold', () => {
    fc.assert(
      fc.property(arbCase, ({ ws, r, cap, outcomes }) => {
        const res = simulate(ws, r, (n) => outcomes[n] as WorkerStatus, cap);
        // stage barrier: the stages that started form a non-decreasing sequence
        for (let i = 1; i < res.startedStages.length; i++) expect(res.startedStages[i]).toBeGreaterThanOrEqual(res.startedStages[i - 1] as number);
        expect(res.state.every((x) => isTerminalWorker(x.status))).toBe(true);
        const by = new Map(res.state.map((x) => [x.name, x]));
        const failedStages = res.state.filter((x) => isFailure(x.status, r)).map((x) => x.stageIndex);
        if (r.failureHandling === 'None') expect(res.state.some((x) => x.status === 'Blocked')).toBe(false);
        if (r.failureHandling === 'Simple' && failedStages.length) {
          const first = Math.min(...failedStages);
          for (const x of res.state) expect(x.stageIndex > first).toBe(x.status === 'Blocked');
          expect(res.outcome).toBe('Stopped');
        }
        if (r.failureHandling === 'DependencyChain') {
          for (const x of res.state) {
            const predBad = x.dependsOn.some((d) => {
              const s = (by.get(d) as WorkerState).status;
              return s === 'Blocked' || isFailure(s, r);
            });
            expect(x.status === 'Blocked').toBe(predBad);
          }
        }
        const allOk = res.state.every((x) => x.status === 'Succeeded');
        if (allOk) expect(res.outcome).toBe('Succeeded');
        else if (r.failureHandling !== 'Simple' || !failedStages.length) expect(res.outcome).toBe('Failed');
      }),
      { numRuns: 300 },
    );
  });
});
