import type { Scenario } from '../../local/factory-emulator/scenario';
import { PauseStore } from '../../src/core/pauses/store';
import { startTestStack, sweepUntil, type TestStack } from '../support/test-stack';
import { approveForm, FORM, JSON_ACCEPT, newPause, pauseStatus, runsOf } from './pauses-support';

const REASON = 'rejected-because';
const scenario: Scenario = { pipelines: { pl_continue: { durationMs: 150 }, pl_on_reject: { durationMs: 100 } }, unknownPipelines: 'notFound' };

describe('RestartPipeline on the local stack', () => {
  let stack: TestStack;
  let expired: { pauseId: string; token: string };
  beforeAll(async () => {
    stack = await startTestStack({ scenario });
    // Made first, so its second has passed by the time the token-error tests run.
    expired = await newPause(stack, { continuation: { pipeline: 'pl_continue' }, expiresInSeconds: 1 });
  });
  afterEach(() => stack.emulator.setScenario(scenario));
  afterAll(() => stack.close());

  it('when the link is fetched ten times and HEAD-requested ten times, then the pause stays Waiting and no run starts', async () => {
    const { pauseId, token } = await newPause(stack, { continuation: { pipeline: 'pl_continue' }, data: { n: 1 } });
    const runsBefore = stack.emulator.runs().length;
    const gets = await Promise.all(Array.from({ length: 10 }, () => stack.call('GET', `/restart?token=${token}`)));
    const heads = await Promise.all(Array.from({ length: 10 }, () => stack.call('HEAD', `/restart?token=${token}`)));
    expect(gets.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(gets.every((r) => r.text.includes('name="decision" value="approve"'))).toBe(true);
    expect(heads.map((r) => [r.status, r.text])).toEqual(Array(10).fill([200, '']));
    expect(await pauseStatus(stack, pauseId)).toBe('Waiting');
    expect(stack.emulator.runs()).toHaveLength(runsBefore);
    expect(runsOf(stack, pauseId)).toEqual([]);
  });

  it('when the confirmation page is served, then it sends no-store, no-referrer, DENY, nosniff and a CSP without script', async () => {
    const { token } = await newPause(stack, { continuation: { pipeline: 'pl_continue' } });
    const res = await stack.call('GET', `/restart?token=${token}`);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).toMatch(/^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+'; /);
    expect(res.headers.get('content-security-policy')).not.toMatch(/script|unsafe/);
    expect(res.text).not.toMatch(/<script/i);
  });

  it('when 50 approvals are posted at once, then one succeeds, 49 get 409 AlreadyDecided and the emulator has exactly one continuation run with the pauseId', async () => {
    const { pauseId, token } = await newPause(stack, { continuation: { pipeline: 'pl_continue', parameters: { region: 'EU' } } });
    const answers = await Promise.all(Array.from({ length: 50 }, () => stack.call('POST', '/restart', { token, decision: 'approve' }, JSON_ACCEPT)));
    const ok = answers.filter((a) => a.status >= 200 && a.status < 300);
    expect(ok).toHaveLength(1);
    expect(answers.filter((a) => a.status === 409 && a.json.code === 'AlreadyDecided')).toHaveLength(49);
    const runs = stack.emulator.runs().filter((r) => r.pipelineName === 'pl_continue' && r.parameters.pauseId === pauseId);
    expect(runs).toHaveLength(1);
    expect(runs[0]!.parameters).toEqual({ region: 'EU', pauseId });
    expect(ok[0]!.json).toMatchObject({ status: 'Approved', decision: 'approve', runId: runs[0]!.runId });
    expect((await stack.call('GET', `/pauses/${pauseId}`)).json).toMatchObject({ status: 'Approved', runId: runs[0]!.runId, decidedAt: expect.any(String) });
  });

  it('when the approval is a browser form post, then the answer is the success page, and a second post is the 409 page showing the outcome', async () => {
    const { pauseId, token } = await newPause(stack, { continuation: { pipeline: 'pl_continue' } });
    const first = await stack.call('POST', '/restart', approveForm(token), FORM);
    expect(first.status).toBe(200);
    expect(first.text).toContain('Approved.');
    const runId = runsOf(stack, pauseId)[0]!.runId;
    expect(first.text).toContain(runId);
    const second = await stack.call('POST', '/restart', approveForm(token), FORM);
    expect(second.status).toBe(409);
    expect(second.text).toContain('already <strong>approved</strong>');
    expect(second.text).toContain(runId);
    expect(runsOf(stack, pauseId)).toHaveLength(1);
  });

  it('when rejected with an onReject pipeline, then the pause is Rejected, onReject runs and the continuation never does', async () => {
    const { pauseId, token } = await newPause(stack, { continuation: { pipeline: 'pl_continue' }, onReject: { pipeline: 'pl_on_reject', parameters: { reason: REASON } } });
    const res = await stack.call('POST', '/restart', approveForm(token, 'reject'), FORM);
    expect(res.status).toBe(200);
    expect(res.text).toContain('Rejected.');
    expect(runsOf(stack, pauseId)).toEqual([]);
    expect(stack.emulator.runs().filter((r) => r.pipelineName === 'pl_on_reject' && r.parameters.reason === REASON)).toHaveLength(1);
    expect(await pauseStatus(stack, pauseId)).toBe('Rejected');
  });

  describe('token errors come as a page and as JSON, never a 500', () => {
    const variants = async (token: string) => [
      await stack.call('GET', `/restart?token=${encodeURIComponent(token)}`),
      await stack.call('GET', `/restart?token=${encodeURIComponent(token)}`, undefined, JSON_ACCEPT),
      await stack.call('POST', '/restart', approveForm(token), FORM),
      await stack.call('POST', '/restart', { token, decision: 'approve' }, JSON_ACCEPT),
    ];
    const check = (answers: Array<{ status: number; headers: Headers; json: any; text: string }>, status: number, code: string, pageText: string) => {
      expect(answers.map((a) => a.status)).toEqual([status, status, status, status]);
      for (const page of [answers[0]!, answers[2]!]) {
        expect(page.headers.get('content-type')).toContain('text/html');
        expect(page.headers.get('cache-control')).toBe('no-store');
        expect(page.text).toContain(pageText);
      }
      for (const problem of [answers[1]!, answers[3]!]) {
        expect(problem.headers.get('content-type')).toContain('application/problem+json');
        expect(problem.json).toMatchObject({ status, code });
      }
    };

    it('when the token is unknown, then 404', async () => {
      check(await variants('A'.repeat(86)), 404, 'TokenNotFound', 'This approval link is not valid');
      check(await variants('short'), 404, 'TokenNotFound', 'This approval link is not valid');
      // A JSON client with no token finds no pause; a browser gets the link's page, which names none.
      expect((await stack.call('GET', '/restart', undefined, JSON_ACCEPT)).json).toMatchObject({ status: 404, code: 'TokenNotFound' });
      const page = await stack.call('GET', '/restart');
      expect([page.status, page.headers.get('content-type')]).toEqual([200, expect.stringContaining('text/html')]);
      expect(page.text).toContain('name="decision" value="view"');
      expect(page.text).not.toContain('name="decision" value="approve"');
    });

    it('when the link has expired, then 410, and nothing was started', async () => {
      const expiresAt = Date.parse((await stack.call('GET', `/pauses/${expired.pauseId}`)).json.expiresAt);
      await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now() + 50)));
      const answers = await variants(expired.token);
      check(answers, 410, 'TokenExpired', 'This approval link expired');
      expect(answers[1]!.json.expiresAt).toEqual(expect.any(String));
      expect(runsOf(stack, expired.pauseId)).toEqual([]);
      expect(await pauseStatus(stack, expired.pauseId)).toBe('Expired');
    });

    it('when the pause was already decided, then 409 with the outcome', async () => {
      const { pauseId, token } = await newPause(stack, { continuation: { pipeline: 'pl_continue' } });
      await stack.call('POST', '/restart', { token, decision: 'reject' }, JSON_ACCEPT);
      const answers = await variants(token);
      check(answers, 409, 'AlreadyDecided', 'already <strong>rejected</strong>');
      expect(answers[1]!.json.outcome).toMatchObject({ pauseId, status: 'Rejected', decision: 'reject' });
    });

    it('when the POST is malformed, then 400 or 415, as a page or JSON', async () => {
      const { token } = await newPause(stack, { continuation: { pipeline: 'pl_continue' } });
      expect((await stack.call('POST', '/restart', { token, decision: 'maybe' }, JSON_ACCEPT)).json).toMatchObject({ status: 400, errors: [{ path: 'decision' }] });
      expect((await stack.call('POST', '/restart', 'not json', { 'content-type': 'application/json', ...JSON_ACCEPT })).json.code).toBe('MalformedJson');
      expect((await stack.call('POST', '/restart', `token=${token}`, FORM)).status).toBe(400);
      expect((await stack.call('POST', '/restart', 'x', { 'content-type': 'text/plain', ...JSON_ACCEPT })).json.code).toBe('UnsupportedMediaType');
    });
  });

  it('when Data Factory throttles the start, then 503 with Retry-After, the page says nothing started, the pause stays Waiting, and a retry approves it with one run', async () => {
    const { pauseId, token } = await newPause(stack, { continuation: { pipeline: 'pl_continue' } });
    stack.emulator.setScenario({ ...scenario, faults: { rate: 1, statuses: [429], operations: ['createRun'], limit: 2 } });
    const json = await stack.call('POST', '/restart', { token, decision: 'approve' }, JSON_ACCEPT);
    expect([json.status, json.json.code]).toEqual([503, 'UpstreamUnavailable']);
    expect(Number(json.headers.get('retry-after'))).toBeGreaterThan(0);
    const page = await stack.call('POST', '/restart', approveForm(token), FORM);
    expect(page.status).toBe(503);
    expect(page.text).toContain('nothing was started');
    expect(await pauseStatus(stack, pauseId)).toBe('Waiting');
    expect(runsOf(stack, pauseId)).toEqual([]);
    const retry = await stack.call('POST', '/restart', { token, decision: 'approve' }, JSON_ACCEPT);
    expect([retry.status, retry.json.status]).toEqual([200, 'Approved']);
    expect(runsOf(stack, pauseId)).toHaveLength(1);
  });

  it('when Data Factory cannot confirm the start, then 503 StartNotConfirmed and the pause shows Waiting; the sweep then starts exactly one run and records Approved', async () => {
    const { pauseId, token } = await newPause(stack, { continuation: { pipeline: 'pl_continue' } });
    stack.emulator.setScenario({ ...scenario, faults: { rate: 1, statuses: [503], operations: ['createRun'], limit: 2 } });
    const res = await stack.call('POST', '/restart', { token, decision: 'approve' }, JSON_ACCEPT);
    expect([res.status, res.json.code]).toEqual([503, 'StartNotConfirmed']);
    expect(res.headers.get('retry-after')).toBeTruthy();
    expect((await stack.call('GET', `/pauses/${pauseId}`)).json).toMatchObject({ status: 'Waiting', pendingDecision: 'approve' });
    const page = await stack.call('GET', `/restart?token=${token}`);
    expect(page.text).toContain('Data Factory has not confirmed');
    await sweepUntil(stack, async () => (await pauseStatus(stack, pauseId)) === 'Approved');
    expect(runsOf(stack, pauseId)).toHaveLength(1);
  });

  it('when the app crashed between claiming the approval and starting the run, then the sweep recovers it: one run, Approved', async () => {
    const { pauseId } = await newPause(stack, { continuation: { pipeline: 'pl_continue' } });
    const store = new PauseStore(stack.deps.tables);
    const past = new Date(Date.now() - 1000).toISOString();
    await store.markDeciding(pauseId, past);
    await store.save({ ...(await store.get(pauseId))!, status: 'Deciding', decision: 'approve', decidedAt: past, leaseUntil: past });
    await sweepUntil(stack, async () => (await pauseStatus(stack, pauseId)) === 'Approved');
    expect(runsOf(stack, pauseId)).toHaveLength(1);
  });

  it('when the continuation finishes, then the sweep records its status on the pause, which stays Approved', async () => {
    const { pauseId, token } = await newPause(stack, { continuation: { pipeline: 'pl_continue' } });
    await stack.call('POST', '/restart', { token, decision: 'approve' }, JSON_ACCEPT);
    await sweepUntil(stack, async () => (await stack.call('GET', `/pauses/${pauseId}`)).json.runStatus === 'Succeeded');
    expect(await pauseStatus(stack, pauseId)).toBe('Approved');
  });

  it('when a Waiting pause passes its expiry, then the sweep marks it Expired', async () => {
    const { pauseId } = await newPause(stack, { continuation: { pipeline: 'pl_continue' }, expiresInSeconds: 1 });
    await new Promise((r) => setTimeout(r, 1100));
    await sweepUntil(stack, async () => (await pauseStatus(stack, pauseId)) === 'Expired');
    expect(runsOf(stack, pauseId)).toEqual([]);
  });
});
