/**
 * Approve in place, end to end on the local stack: the factory emulator plays `pl_approve_in_place`, whose
 * Webhook activity POSTs /api/pauses with its callBackUri; the approver gets the email, opens its link in
 * headless Chromium and presses a button; the app calls the emulator back, and the waiting run ends with the
 * decision (approve: Succeeded with the pause's data as the activity's output; reject: Failed "Rejected";
 * nobody decides: Failed "Expired"), each from exactly one callback.
 */
import { DataFactoryManagementClient, type ActivityRun } from '@azure/arm-datafactory';
import type { TokenCredential } from '@azure/core-auth';
import { type Browser, type Page } from 'playwright-core';
import type { Scenario } from '../../local/factory-emulator/scenario';
import { readOutbox, type OutboxEntry } from '../../src/adapters/outbox-mailer';
import type { RunUpdate } from '../../src/core/ports';
import { launchChromium } from '../support/chromium';
import { startTestStack, sweepUntil, TEST_FACTORY, TEST_RG, TEST_SUBSCRIPTION, type TestStack } from '../support/test-stack';

const ACTIVITY = 'Wait for approval';
const FACTORY = { subscriptionId: TEST_SUBSCRIPTION, resourceGroup: TEST_RG, factory: TEST_FACTORY };
const credential: TokenCredential = { getToken: async () => ({ token: 'emulator', expiresOnTimestamp: Date.now() + 3600_000 }) };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** pl_approve_in_place as the default scenario has it, pointed at this stack; `_1s` expires after a second. */
function scenario(api: string): Scenario {
  const webhook = (expiresInSeconds: number) => ({
    url: `${api}/pauses`,
    activity: ACTIVITY,
    body: {
      data: { loadDate: '@pipeline().parameters.loadDate', runId: '@{pipeline().RunId}' },
      notify: { to: ['owner@example.com'], subject: 'Approve the load of @{pipeline().parameters.loadDate}' },
      expiresInSeconds,
      callbackTimeoutSeconds: 600,
    },
    timeoutMs: 600_000,
  });
  return {
    pipelines: {
      pl_approve_in_place: { parameters: ['loadDate'], webhook: webhook(3600) },
      pl_approve_in_place_1s: { parameters: ['loadDate'], webhook: webhook(1) },
    },
    unknownPipelines: 'notFound',
  };
}

describe('Approve in place, end to end on the local stack', () => {
  let stack: TestStack;
  let browser: Browser;
  let adf: DataFactoryManagementClient;
  beforeAll(async () => {
    browser = await launchChromium();
    stack = await startTestStack({ scenario: { pipelines: {}, unknownPipelines: 'notFound' } });
    stack.emulator.setScenario(scenario(stack.api));
    adf = new DataFactoryManagementClient(credential, TEST_SUBSCRIPTION, {
      endpoint: stack.emulator.url,
      tlsOptions: { ca: stack.emulator.ca },
      retryOptions: { maxRetries: 0 },
    });
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  /** Starts the pipeline through the real ARM SDK, as a trigger would. */
  async function startRun(pipeline: string, loadDate: string): Promise<string> {
    const { runId } = await stack.deps.factory.start({ ...FACTORY, pipeline }, { loadDate });
    return runId;
  }

  /** The approval email of the pause the run's Webhook activity created (its data carries the runId), and its link. */
  async function approvalMail(runId: string): Promise<{ mail: OutboxEntry; link: string; pauseId: string }> {
    const mail = await waitFor(`the approval email of run ${runId}`, async () => (await readOutbox(stack.outbox)).find((m) => m.text.includes(runId)));
    const link = /https?:\/\/\S+\/api\/restart#token=[A-Za-z0-9_-]{86}/.exec(mail.text)?.[0];
    if (!link) throw new Error('no approval link in the email text');
    const pauseId = /Pause id: (\S+)/.exec(mail.text)?.[1];
    if (!pauseId) throw new Error('no pause id in the email text');
    return { mail, link, pauseId };
  }

  /** Opens the emailed link: its script posts the token from the fragment, and the confirmation page loads. */
  async function openLink(link: string): Promise<Page> {
    const page = await browser.newPage();
    await page.goto(link, { waitUntil: 'commit' });
    await page.waitForSelector('#outcome, #approve, #reject');
    await page.waitForLoadState('load');
    return page;
  }

  const runOf = (runId: string) => stack.deps.factory.getRun(FACTORY, runId);
  const ended = (runId: string) =>
    waitFor(`run ${runId} to end`, async () => {
      const r = await runOf(runId);
      return ['Succeeded', 'Failed', 'Cancelled'].includes(r.status) ? r : undefined;
    });

  async function activities(runId: string): Promise<ActivityRun[]> {
    const page = await adf.activityRuns.queryByPipelineRun(TEST_RG, TEST_FACTORY, runId, {
      lastUpdatedAfter: new Date(Date.now() - 3600_000),
      lastUpdatedBefore: new Date(Date.now() + 3600_000),
    });
    return page.value;
  }

  /** A few more sweep passes: nothing may call the run back a second time. */
  async function settle(): Promise<void> {
    for (let i = 0; i < 3; i++) {
      await stack.sweep();
      await sleep(50);
    }
  }

  /** The callBackUri is a bearer secret: in no log line, no view and no Outbox row once its callback is done. */
  async function expectCallBackUriNowhere(runId: string, pauseId: string): Promise<void> {
    const uri = `${stack.emulator.url}/_emulator/callbacks/${runId}`;
    expect(stack.logs.filter((l) => l.includes('/_emulator/callbacks'))).toEqual([]);
    expect((await stack.call('GET', `/pauses/${pauseId}`)).text).not.toContain('_emulator');
    const rows = await stack.deps.tables.table('Outbox').scanAll();
    expect(rows.filter((r) => JSON.stringify(r).includes(uri))).toEqual([]);
  }

  it('when the approver opens the emailed link and presses Approve, then the waiting run succeeds, and its Webhook activity\'s output is the pause with its data, from one callback', async () => {
    const runId = await startRun('pl_approve_in_place', '2026-02-28');
    expect((await runOf(runId)).status).toMatch(/Queued|InProgress/);
    const { mail, link, pauseId } = await approvalMail(runId);
    expect(mail.to).toEqual(['owner@example.com']);
    expect(mail.subject).toBe('Approve the load of 2026-02-28');

    // The pause waits with its callback pending; the run waits on it.
    const waiting = await stack.call('GET', `/pauses/${pauseId}`);
    expect(waiting.json).toMatchObject({ status: 'Waiting', data: { loadDate: '2026-02-28', runId } });
    expect(waiting.json.continuation).toBeUndefined();
    expect(waiting.json.callback).toEqual({ status: 'pending', attempts: 0 });
    expect((await runOf(runId)).status).toBe('InProgress');
    expect(stack.emulator.callbacks(runId)).toEqual([]);

    const page = await openLink(link);
    expect(await page.locator('h1').textContent()).toBe('Approve the load of 2026-02-28');
    expect(await page.locator('#data').textContent()).toContain('2026-02-28');
    await Promise.all([page.waitForNavigation(), page.click('#approve')]);
    expect(await page.locator('#outcome').textContent()).toContain('Approved.');
    await page.close();

    // The decision calls back during the click: no sweep is needed for the run to end.
    const run: RunUpdate = await ended(runId);
    expect(run.status).toBe('Succeeded');
    const received = stack.emulator.callbacks(runId);
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ runId, pipelineName: 'pl_approve_in_place', statusCode: 200, error: null, accepted: true });
    const output = { pauseId, decision: 'approve', decidedAt: expect.any(String), data: { loadDate: '2026-02-28', runId } };
    expect(received[0]!.output).toEqual(output);

    // What ADF's monitor shows (the real SDK): the Webhook activity succeeded, its output is the pause.
    const acts = await activities(runId);
    expect(acts).toHaveLength(1);
    expect(acts[0]).toMatchObject({ activityName: ACTIVITY, activityType: 'WebHook', status: 'Succeeded', output });
    // Its input is the resolved body, without the callBackUri.
    expect(JSON.stringify(acts[0]!.input)).toContain('2026-02-28');
    expect(JSON.stringify(acts[0]!.input)).not.toContain('callBackUri');

    await settle();
    expect(stack.emulator.callbacks(runId)).toHaveLength(1);
    const decided = await stack.call('GET', `/pauses/${pauseId}`);
    expect(decided.json).toMatchObject({ status: 'Approved', decision: 'approve' });
    expect(decided.json.callback).toEqual({ status: 'delivered', attempts: 1 });
    // Nothing else was started: the waiting run was the continuation.
    expect(stack.emulator.runs().map((r) => r.runId)).toEqual([runId]);
    await expectCallBackUriNowhere(runId, pauseId);
  });

  it('when the approver presses Reject, then the waiting run fails with the Webhook activity\'s error Rejected, from one callback', async () => {
    const runId = await startRun('pl_approve_in_place', '2026-03-31');
    const { link, pauseId } = await approvalMail(runId);
    const page = await openLink(link);
    await Promise.all([page.waitForNavigation(), page.click('#reject')]);
    expect(await page.locator('#outcome').textContent()).toContain('Rejected.');
    await page.close();

    const run = await ended(runId);
    expect(run).toMatchObject({ status: 'Failed', message: `Pause ${pauseId} was rejected.` });
    expect(await stack.deps.factory.activityErrors(FACTORY, runId, new Date(run.runStart!), new Date(run.runEnd ?? Date.now()))).toEqual([
      { activity: ACTIVITY, code: 'Rejected', message: `Pause ${pauseId} was rejected.` },
    ]);
    const acts = await activities(runId);
    expect(acts[0]).toMatchObject({ status: 'Failed', output: { pauseId, decision: 'reject' } });

    await settle();
    const received = stack.emulator.callbacks(runId);
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ statusCode: 409, accepted: true, error: { ErrorCode: 'Rejected' } });
    expect((await stack.call('GET', `/pauses/${pauseId}`)).json).toMatchObject({ status: 'Rejected', callback: { status: 'delivered', attempts: 1 } });
    await expectCallBackUriNowhere(runId, pauseId);
  });

  it('when nobody decides before the pause expires, then the sweep fails the waiting run with Expired, from one callback, and the link no longer decides anything', async () => {
    const runId = await startRun('pl_approve_in_place_1s', '2026-04-30');
    const { link, pauseId } = await approvalMail(runId);
    await sleep(1200);
    await sweepUntil(stack, async () => stack.emulator.callbacks(runId).length > 0, 10_000);

    const run = await ended(runId);
    expect(run.status).toBe('Failed');
    expect(run.message).toMatch(new RegExp(`^Pause ${pauseId} expired at .* without a decision\\.$`));
    expect(await stack.deps.factory.activityErrors(FACTORY, runId, new Date(run.runStart!), new Date(run.runEnd ?? Date.now()))).toEqual([
      { activity: ACTIVITY, code: 'Expired', message: run.message },
    ]);

    // The approver comes too late: the page says so, and pressing nothing calls back again.
    const page = await openLink(link);
    expect(await page.locator('#outcome').textContent()).toContain('expired');
    expect(await page.locator('#approve').count()).toBe(0);
    await page.close();

    await settle();
    const received = stack.emulator.callbacks(runId);
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ statusCode: 408, accepted: true, output: { pauseId }, error: { ErrorCode: 'Expired' } });
    expect((await stack.call('GET', `/pauses/${pauseId}`)).json).toMatchObject({ status: 'Expired', callback: { status: 'delivered', attempts: 1 } });
    await expectCallBackUriNowhere(runId, pauseId);
  });
});
