/**
 * Alert emails, once per outcome, to the subscribers only: executions (narrowed by batch and worker),
 * pauses and queue jobs (narrowed by queue). Real parts: Azurite, the factory emulator over HTTPS, the host
 * over HTTP, and the file outbox.
 */
import { readOutbox } from '../../src/adapters/outbox-mailer';
import { deliverOutbox, recheckSeconds } from '../../src/core/outbox/outbox';
import { PauseStore } from '../../src/core/pauses/store';
import { alertOutcomes, callbackOutcomes } from '../../src/core/sweep/sweep';
import { startTestStack, sweepUntil, type TestStack } from '../support/test-stack';

const md = `
properties: { failureHandling: Simple, restart: new }
stages:
  - name: extract
    pipelines:
      - { name: good, pipeline: wk_ok }
      - { name: bad, pipeline: wk_bad }
  - name: load
    pipelines:
      - { name: later, pipeline: wk_ok, dependsOn: [bad] }
      - { name: other, pipeline: wk_ok }
batches:
  - { name: nightly, stages: [extract, load] }
  - { name: weekly, stages: [extract] }
queues:
  - { name: imports, capacity: 1 }
  - { name: exports, capacity: 1 }
recipients:
  - { email: ops@example.com, on: [Stopped], batches: [nightly] }
  - { email: owner@example.com, on: [Stopped, Failed], workers: [bad] }
  - { email: quiet@example.com, on: [Stopped], workers: [good] }
  - { email: weekly@example.com, on: [Stopped], batches: [weekly] }
  - { email: failed-only@example.com, on: [Failed] }
  - { email: approvals@example.com, on: [Approved, Expired] }
  - { email: jobs@example.com, on: [FAILED, USER_ERROR], queues: [imports] }
`;

describe('alert emails', () => {
  let stack: TestStack;
  const mail = () => readOutbox(stack.outbox);
  beforeAll(async () => {
    stack = await startTestStack({
      scenario: {
        pipelines: {
          wk_ok: { durationMs: 30 },
          wk_manual: { durationMs: null },
          wk_bad: { durationMs: 30, outcome: 'Failed', error: { activity: 'Copy data', code: '2200', message: 'Source not found' } },
        },
        unknownPipelines: 'notFound',
      } as never,
      env: { PUBLIC_BASE_URL: 'https://conductor.example.com' },
    });
    expect((await stack.call('PUT', '/metadata', md)).status).toBe(200);
  });
  afterAll(() => stack?.close());

  it('when an execution ends Stopped and its runs are settled twice, concurrently, then exactly one email goes to its subscribers only, with the failed worker, its error, the Blocked workers, the timeline and the links', async () => {
    const started = await stack.call('POST', '/executions', { batch: 'nightly' });
    expect(started.status).toBe(202);
    const id = started.json.executionId as string;
    const workers = async () => (await stack.call('GET', `/executions/${id}`)).json.stages.flatMap((s: { workers: Array<{ name: string; runId?: string }> }) => s.workers);
    await sweepUntil(stack, async () => (await workers()).filter((w: { runId?: string }) => w.runId).length === 2);
    await new Promise((r) => setTimeout(r, 300)); // both runs end in ADF
    const runIds: string[] = (await workers()).filter((w: { runId?: string }) => w.runId).map((w: { runId?: string }) => w.runId as string);
    // Settled twice over: the completion callback for each run, twice, racing two sweeps.
    await Promise.all([...runIds.flatMap((runId) => [stack.call('POST', '/callbacks/run-finished', { runId }), stack.call('POST', '/callbacks/run-finished', { runId })]), stack.sweep(), stack.sweep()]);
    await sweepUntil(stack, async () => (await stack.call('GET', `/executions/${id}`)).json.status === 'Stopped' && (await mail()).length > 0);
    for (let i = 0; i < 3; i++) await stack.sweep();

    const sent = await mail();
    expect(sent).toHaveLength(1);
    const [email] = sent;
    expect([...email!.to].sort()).toEqual(['ops@example.com', 'owner@example.com']);
    expect(email!.subject).toBe('[adf-conductor] nightly: Stopped (1 failed)');
    expect(email!.text).toContain('bad (extract · wk_bad) at Copy data [2200]: Source not found');
    expect(email!.text).toMatch(/ADF Studio: https:\/\/adf\.azure\.com\/en\/monitoring\/pipelineruns\/[0-9a-f-]+\?factory=\/subscriptions\//);
    expect(email!.text).toContain('Blocked (not run):\n  - later (load), blocked by bad\n  - other (load)\n');
    expect(email!.text).toContain(`Dashboard: https://conductor.example.com/api/dashboard#execution-${id}`);
    expect(email!.html).toContain('<img src="cid:timeline"');
    const image = email!.inline?.find((i) => i.contentId === 'timeline');
    const svg = Buffer.from(image?.contentBase64 ?? '', 'base64').toString('utf8');
    expect(image?.contentType).toBe('image/svg+xml');
    expect([...svg.matchAll(/data-worker="([^"]+)" data-status="([^"]+)"/g)].map((m) => `${m[1]}:${m[2]}`)).toEqual(['good:Succeeded', 'bad:Failed', 'later:Blocked', 'other:Blocked']);
  });

  it('when pauses are approved, rejected and expire, then only the subscribed outcomes are emailed, once each', async () => {
    const before = (await mail()).length;
    const approved = await stack.call('POST', '/pauses', { continuation: { pipeline: 'wk_ok' } });
    const rejected = await stack.call('POST', '/pauses', { continuation: { pipeline: 'wk_ok' } });
    const expiring = await stack.call('POST', '/pauses', { continuation: { pipeline: 'wk_ok' }, expiresInSeconds: 1 });
    const json = { accept: 'application/json' };
    expect((await stack.call('POST', '/restart', { token: approved.json.token, decision: 'approve' }, json)).status).toBe(200);
    expect((await stack.call('POST', '/restart', { token: approved.json.token, decision: 'approve' }, json)).status).toBe(409);
    expect((await stack.call('POST', '/restart', { token: rejected.json.token, decision: 'reject' }, json)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1200));
    await sweepUntil(stack, async () => (await stack.call('GET', `/pauses/${expiring.json.pauseId}`)).json.status === 'Expired');
    await stack.sweep();

    const pauseMails = (await mail()).slice(before);
    expect(pauseMails.map((m) => [m.to, m.subject.replace(/: .*/, '')])).toEqual([
      [['approvals@example.com'], '[adf-conductor] pause Approved'],
      [['approvals@example.com'], '[adf-conductor] pause Expired'],
    ]);
    expect(pauseMails[0]?.text).toContain(approved.json.pauseId);
    expect(pauseMails[1]?.text).toContain(expiring.json.pauseId);
  });

  it('when a pause is decided and the app dies before its email, then the sweep sends it after the recheck time, once', async () => {
    const before = (await mail()).length;
    const pause = await stack.call('POST', '/pauses', { continuation: { pipeline: 'wk_ok' } });
    // The decision's write, and nothing after it (as if the host died there): no email yet.
    const store = new PauseStore(stack.deps.tables);
    const p = await store.get(pause.json.pauseId);
    await store.save({ ...p!, status: 'Approved', decision: 'approve', decidedAt: new Date().toISOString() });
    await stack.sweep();
    expect((await mail()).length).toBe(before);
    const later = { ...stack.deps, clock: { now: () => new Date(Date.now() + (recheckSeconds(stack.deps) + 5) * 1000) } };
    await deliverOutbox(later, callbackOutcomes, alertOutcomes);
    await deliverOutbox(later, callbackOutcomes, alertOutcomes);
    const sent = (await mail()).slice(before);
    expect(sent.map((m) => m.subject)).toEqual(['[adf-conductor] pause Approved: wk_ok']);
  });

  it('when queue jobs end, then FAILED and USER_ERROR on a subscribed queue are emailed, COMPLETED and other queues are not', async () => {
    const before = (await mail()).length;
    const failed = await stack.call('POST', '/queues/imports/jobs', { pipeline: 'wk_bad' });
    const elsewhere = await stack.call('POST', '/queues/exports/jobs', { pipeline: 'wk_bad' });
    const unknown = await stack.call('POST', '/queues/imports/jobs', { pipeline: 'pl_does_not_exist' });
    const fine = await stack.call('POST', '/queues/imports/jobs', { pipeline: 'wk_ok' });
    for (const r of [failed, elsewhere, unknown, fine]) expect(r.status).toBe(202);
    const status = async (q: string, jobId: string) => (await stack.call('GET', `/queues/${q}/jobs/${jobId}`)).json.status;
    await sweepUntil(stack, async () => (await status('imports', fine.json.jobId)) === 'COMPLETED' && (await status('exports', elsewhere.json.jobId)) === 'FAILED');
    await stack.sweep();

    const jobMails = (await mail()).slice(before);
    expect(jobMails.map((m) => [m.to, m.subject]).sort()).toEqual([
      [['jobs@example.com'], '[adf-conductor] queue imports: job FAILED (wk_bad)'],
      [['jobs@example.com'], '[adf-conductor] queue imports: job USER_ERROR (pl_does_not_exist)'],
    ]);
    expect(jobMails.find((m) => m.subject.includes('FAILED'))?.text).toContain(failed.json.jobId);
  });
});
