import { startTestStack, sweepUntil, type TestStack } from '../support/test-stack';

const STAGES = 5;
const PER_STAGE = 40;

function bigMetadata(): string {
  const lines = ['properties:', '  failureHandling: DependencyChain', '  maxConcurrentWorkers: 50', 'stages:'];
  for (let s = 1; s <= STAGES; s++) {
    lines.push(`  - name: stage${s}`, '    pipelines:');
    for (let i = 1; i <= PER_STAGE; i++) lines.push(`      - { name: w${s}_${i}, pipeline: p_${s}_${i}${s > 1 ? `, dependsOn: [w${s - 1}_${i}]` : ''} }`);
  }
  return lines.join('\n');
}

describe('orchestration under Data Factory faults', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ scenario: { pipelines: {}, unknownPipelines: 'succeed' } as never });
  });
  afterAll(() => stack.close());

  it('when 20% of ARM calls fail and 5% of createRun responses are lost, then 200 workers over 5 stages all end terminal with one run each, stage by stage', async () => {
    expect((await stack.call('PUT', '/metadata', bigMetadata())).status).toBe(200);
    stack.emulator.setScenario({
      pipelines: {},
      unknownPipelines: 'succeed',
      faults: { rate: 0.2, statuses: [429, 503], lostResponseRate: 0.05 },
    } as never);
    let started = await stack.call('POST', '/executions', {});
    for (let i = 0; i < 20 && started.status === 503; i++) started = await stack.call('POST', '/executions', {});
    expect(started.status).toBe(202);
    const id = started.json.executionId as string;
    let view: any;
    await sweepUntil(
      stack,
      async () => {
        const res = await stack.call('GET', `/executions/${id}`);
        if (res.status === 200) view = res.json;
        return view?.status !== undefined && view.status !== 'Running';
      },
      240_000,
      50,
    );
    stack.emulator.setScenario({ pipelines: {}, unknownPipelines: 'succeed' } as never);

    const all = view.stages.flatMap((s: any) => s.workers);
    expect(all).toHaveLength(STAGES * PER_STAGE);
    expect(all.filter((w: any) => !['Succeeded', 'Failed', 'Cancelled', 'Blocked', 'Unknown'].includes(w.status))).toEqual([]);

    // Exactly one ADF run per worker (its pipeline), and the worker records that run.
    const runs = stack.emulator.runs();
    const byPipeline = new Map<string, typeof runs>();
    for (const r of runs) byPipeline.set(r.pipelineName, [...(byPipeline.get(r.pipelineName) ?? []), r]);
    const duplicates = [...byPipeline.entries()].filter(([, rs]) => rs.length > 1).map(([p]) => p);
    expect(duplicates).toEqual([]);
    const succeeded = all.filter((w: any) => w.status === 'Succeeded');
    for (const w of succeeded) expect(byPipeline.get(w.pipeline)?.[0]?.runId).toBe(w.runId);

    // The stage barrier: no run of stage s starts before every run of stage s-1 has ended.
    for (let s = 2; s <= STAGES; s++) {
      const prev = runs.filter((r) => r.pipelineName.startsWith(`p_${s - 1}_`));
      const cur = runs.filter((r) => r.pipelineName.startsWith(`p_${s}_`));
      if (!prev.length || !cur.length) continue;
      const prevEnd = Math.max(...prev.map((r) => new Date(r.runEnd ?? 0).getTime()));
      const curStart = Math.min(...cur.map((r) => new Date(r.runStart).getTime()));
      expect(curStart).toBeGreaterThanOrEqual(prevEnd);
    }
  }, 300_000);
});
