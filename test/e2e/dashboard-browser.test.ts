/** The dashboard in headless Chromium (Debian's chromium via playwright-core), against the real app. */
import os from 'node:os';
import path from 'node:path';
import { type Browser } from 'playwright-core';
import { launchChromium } from '../support/chromium';
import { startTestStack, sweepUntil, type TestStack } from '../support/test-stack';

const md = `
properties: { failureHandling: DependencyChain, restart: new }
stages:
  - name: extract
    pipelines:
      - { name: hanging, pipeline: wk_manual }
      - { name: ok, pipeline: wk_ok }
  - name: load
    pipelines:
      - { name: after, pipeline: wk_ok, dependsOn: [ok] }
batches:
  - { name: live, stages: [extract, load] }
  - { name: broken, stages: [extract] }
queues:
  - { name: imports, capacity: 1 }
`;

describe('dashboard', () => {
  let stack: TestStack;
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
    stack = await startTestStack({
      scenario: { pipelines: { wk_ok: { durationMs: 30 }, wk_manual: { durationMs: null }, wk_bad: { durationMs: 30, outcome: 'Failed', error: { activity: 'Copy <b>x</b>', code: '2200', message: 'Source not found' } } }, unknownPipelines: 'notFound' } as never,
    });
    expect((await stack.call('PUT', '/metadata', md)).status).toBe(200);
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it('when work is active, waiting and failed, then the dashboard shows each, as JSON and as a page that runs no script', async () => {
    // A failed execution (recent failures), then a live one (active, with a stage timeline).
    const bad = await stack.call('PUT', '/metadata', md.replace('{ name: ok, pipeline: wk_ok }', '{ name: ok, pipeline: wk_bad }'));
    expect(bad.status).toBe(200);
    const failed = await stack.call('POST', '/executions', { batch: 'broken', pipelines: ['ok'] });
    await sweepUntil(stack, async () => (await stack.call('GET', `/executions/${failed.json.executionId}`)).json.status !== 'Running');
    expect((await stack.call('PUT', '/metadata', md)).status).toBe(200);
    const live = await stack.call('POST', '/executions', { batch: 'live' });
    expect(live.status).toBe(202);
    const job = await stack.call('POST', '/queues/imports/jobs', { pipeline: 'wk_manual' });
    expect(job.status).toBe(202);
    const pause = await stack.call('POST', '/pauses', { continuation: { pipeline: 'wk_ok' }, data: { file: 'a.csv' } });
    expect(pause.status).toBe(201);

    const data = (await stack.call('GET', '/dashboard', undefined, { accept: 'application/json' })).json;
    expect(data.active.map((e: { executionId: string }) => e.executionId)).toEqual([live.json.executionId]);
    expect(data.active[0].stages.map((s: { name: string }) => s.name)).toEqual(['extract', 'load']);
    expect(data.queues[0]).toMatchObject({ name: 'imports', capacity: 1 });
    expect(data.queues[0].running).toHaveLength(1);
    expect(data.approvals.map((a: { pauseId: string }) => a.pauseId)).toEqual([pause.json.pauseId]);
    expect(data.recentFailures[0].executionId).toBe(failed.json.executionId);
    expect(data.recentFailures[0].failures[0]).toMatchObject({ name: 'ok', code: '2200', activity: 'Copy <b>x</b>' });
    expect(JSON.stringify(data)).not.toContain(pause.json.token);

    const page = await browser.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    const res = await page.goto(`${stack.api}/dashboard`);
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toContain("default-src 'none'");
    const text = await page.locator('body').innerText();
    expect(text).toContain(live.json.executionId);
    expect(text).toContain('imports');
    expect(text).toContain(pause.json.pauseId);
    expect(text).toContain('Copy <b>x</b>'); // escaped: shown as text, not markup
    expect(await page.locator('.timeline li').count()).toBe(2);
    expect(dialogs).toEqual([]);
    await page.screenshot({ path: path.join(os.tmpdir(), 'adf-conductor-dashboard.png'), fullPage: true });
    await page.close();
  });
});
