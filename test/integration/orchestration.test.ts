import { readOutbox } from '../../src/adapters/outbox-mailer';
import { startTestStack, sweepUntil, type TestStack } from '../support/test-stack';

/** 4 stages, 10 workers; e_sales fails in stage 1 and heads a dependency chain through every later stage. */
const metadata = (failureHandling: string, restart = 'new') => `
properties:
  failureHandling: ${failureHandling}
  restart: ${restart}
stages:
  - name: extract
    pipelines:
      - { name: e_sales, pipeline: pl_e_sales }
      - { name: e_customers, pipeline: pl_e_customers }
      - { name: e_products, pipeline: pl_e_products }
  - name: transform
    pipelines:
      - { name: t_sales, pipeline: pl_t_sales, dependsOn: [e_sales] }
      - { name: t_customers, pipeline: pl_t_customers, dependsOn: [e_customers] }
      - { name: t_products, pipeline: pl_t_products, dependsOn: [e_products] }
  - name: load
    pipelines:
      - { name: l_sales_fact, pipeline: pl_l_sales_fact, dependsOn: [t_sales, t_customers] }
      - { name: l_products, pipeline: pl_l_products, dependsOn: [t_products] }
  - name: report
    pipelines:
      - { name: r_sales, pipeline: pl_r_sales, dependsOn: [l_sales_fact] }
      - { name: r_summary, pipeline: pl_r_summary, dependsOn: [l_products] }
batches:
  - { name: nightly, stages: [extract, transform, load, report] }
recipients:
  - { email: ops@example.com, on: [Failed, Stopped], batches: ['*'] }
  - { email: nightly-owner@example.com, on: [Succeeded], batches: [nightly] }
`;

type View = { status: string; stages: Array<{ name: string; workers: Array<{ name: string; status: string; runId?: string; error?: { activity: string; code: string; message: string } }> }> };
const workers = (v: View) => Object.fromEntries(v.stages.flatMap((s) => s.workers.map((w) => [w.name, w.status])));
const count = (v: View, status: string) => Object.values(workers(v)).filter((s) => s === status).length;

async function runToEnd(stack: TestStack, body: unknown): Promise<View> {
  const started = await stack.call('POST', '/executions', body);
  expect([200, 202]).toContain(started.status);
  const id = started.json.executionId as string;
  let view: View | undefined;
  await sweepUntil(stack, async () => {
    view = (await stack.call('GET', `/executions/${id}`)).json as View;
    return view.status !== 'Running';
  }, 30_000, 50);
  return view as View;
}

describe('orchestration failure handling through the HTTP API', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({
      scenario: {
        pipelines: {
          pl_e_sales: { durationMs: 50, outcome: 'Failed', error: { activity: 'Copy sales', code: '2200', message: 'Source not found' } },
        },
        unknownPipelines: 'succeed',
      } as never,
    });
  });
  afterAll(() => stack.close());

  it('when failureHandling is None, then only the failed worker fails and the execution ends Failed', async () => {
    expect((await stack.call('PUT', '/metadata', metadata('None'))).status).toBe(200);
    const v = await runToEnd(stack, { batch: 'nightly' });
    expect(v.status).toBe('Failed');
    expect([count(v, 'Succeeded'), count(v, 'Failed'), count(v, 'Blocked')]).toEqual([9, 1, 0]);
    const failed = v.stages[0]?.workers.find((w) => w.name === 'e_sales');
    expect(failed?.error).toEqual({ activity: 'Copy sales', code: '2200', message: 'Source not found' });
    // The alert goes to the recipients whose outcomes match, and only to them.
    const alerts = (await readOutbox(stack.outbox)).filter((m) => m.subject.includes('nightly'));
    expect(alerts.map((m) => [m.to, m.subject])).toEqual([[['ops@example.com'], '[adf-conductor] nightly: Failed (1 failed)']]);
  });

  it('when failureHandling is Simple, then the stage finishes, every later worker is Blocked and the execution is Stopped', async () => {
    expect((await stack.call('PUT', '/metadata', metadata('Simple'))).status).toBe(200);
    const v = await runToEnd(stack, { batch: 'nightly' });
    expect(v.status).toBe('Stopped');
    expect([count(v, 'Succeeded'), count(v, 'Failed'), count(v, 'Blocked')]).toEqual([2, 1, 7]);
    expect(workers(v).e_customers).toBe('Succeeded');
  });

  it('when failureHandling is DependencyChain, then only the dependants are Blocked, transitively', async () => {
    expect((await stack.call('PUT', '/metadata', metadata('DependencyChain'))).status).toBe(200);
    const v = await runToEnd(stack, { batch: 'nightly' });
    expect(v.status).toBe('Failed');
    expect([count(v, 'Succeeded'), count(v, 'Failed'), count(v, 'Blocked')]).toEqual([6, 1, 3]);
    const w = workers(v);
    expect([w.t_sales, w.l_sales_fact, w.r_sales]).toEqual(['Blocked', 'Blocked', 'Blocked']);
    expect([w.t_customers, w.l_products, w.r_summary]).toEqual(['Succeeded', 'Succeeded', 'Succeeded']);
  });

  it('when the failed worker is fixed and the batch is started again with restart: resume, then only failed and blocked workers rerun', async () => {
    stack.emulator.setScenario({
      pipelines: { pl_e_sales: { durationMs: 50, outcomes: ['Failed', 'Succeeded'] } },
      unknownPipelines: 'succeed',
    } as never);
    expect((await stack.call('PUT', '/metadata', metadata('DependencyChain', 'resume'))).status).toBe(200);
    const first = await runToEnd(stack, { batch: 'nightly' });
    expect(first.status).toBe('Failed');
    const before = stack.emulator.runs().length;
    const resumed = await stack.call('POST', '/executions', { batch: 'nightly' });
    expect(resumed.status).toBe(200);
    expect(resumed.json.resumed).toBe(true);
    let v: View | undefined;
    await sweepUntil(stack, async () => {
      v = (await stack.call('GET', `/executions/${resumed.json.executionId}`)).json as View;
      return v.status !== 'Running';
    });
    expect(v?.status).toBe('Succeeded');
    const rerun = stack.emulator.runs().slice(before).map((r) => r.pipelineName).sort();
    expect(rerun).toEqual(['pl_e_sales', 'pl_l_sales_fact', 'pl_r_sales', 'pl_t_sales']);
  });
});
