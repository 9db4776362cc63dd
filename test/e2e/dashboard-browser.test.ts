/// <reference lib="dom" />
/**
 * The dashboard in headless Chromium (Debian's chromium via playwright-core), against the real app:
 * an execution with a DependencyChain failure in flight, a waiting approval, a queue, a Webhook callback
 * waiting, and the last sweep pass.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { type Browser, type Page } from 'playwright-core';
import { launchChromium } from '../support/chromium';
import { startTestStack, sweepUntil, TEST_FACTORY, TEST_RG, TEST_SUBSCRIPTION, type TestStack } from '../support/test-stack';

const XSS = '<script>alert(1)</script>';

const md = `
properties: { failureHandling: DependencyChain, restart: new, maxConcurrentWorkers: 10 }
stages:
  - name: extract
    pipelines:
      - { name: ok, pipeline: wk_ok }
      - { name: bad, pipeline: wk_bad }
      - { name: hanging, pipeline: wk_manual }
  - name: transform
    pipelines:
      - { name: after_bad, pipeline: wk_ok, dependsOn: [bad] }
      - { name: after_ok, pipeline: wk_ok, dependsOn: [ok] }
  - name: load
    pipelines:
      - { name: final, pipeline: wk_ok, dependsOn: [after_bad] }
batches:
  - { name: live, stages: [extract, transform, load] }
queues:
  - { name: imports, capacity: 1 }
`;

/** Console errors, page errors (a CSP violation is reported as a console error) and dialogs of a page. */
function watch(page: Page) {
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('dialog', (d) => {
    problems.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  return problems;
}

describe('dashboard', () => {
  let stack: TestStack;
  let browser: Browser;
  let receiver: http.Server;
  let receiverUrl = '';
  beforeAll(async () => {
    receiver = http.createServer((req, res) => req.resume().on('end', () => res.writeHead(200).end()));
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/cb`;
    browser = await launchChromium();
    stack = await startTestStack({
      scenario: {
        pipelines: {
          wk_ok: { durationMs: 30 },
          wk_manual: { durationMs: null },
          wk_bad: { durationMs: 30, outcome: 'Failed', error: { activity: `Copy ${XSS}`, code: '2200', message: `Source not found ${XSS}` } },
        },
        unknownPipelines: 'notFound',
      } as never,
    });
    expect((await stack.call('PUT', '/metadata', md)).status).toBe(200);
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    receiver?.close();
  });

  it('shows the Gantt of an execution with a DependencyChain failure in flight, the failure with its ADF Studio link, the Blocked dependants, the approval, the callback and the last sweep, as text, with no console error', async () => {
    const live = await stack.call('POST', '/executions', { batch: 'live' });
    expect(live.status).toBe(202);
    const id = live.json.executionId as string;
    const worker = async (name: string) => (await stack.call('GET', `/executions/${id}`)).json.stages.flatMap((s: { workers: unknown[] }) => s.workers).find((w: { name: string }) => w.name === name);
    await sweepUntil(stack, async () => (await worker('bad'))?.status === 'Failed' && (await worker('ok'))?.status === 'Succeeded' && (await worker('hanging'))?.status === 'Running');
    const badRunId = (await worker('bad')).runId as string;

    const job = await stack.call('POST', '/queues/imports/jobs', { pipeline: 'wk_manual' });
    expect(job.status).toBe(202);
    const pause = await stack.call('POST', '/pauses', { continuation: { pipeline: 'wk_ok' }, data: { file: 'a.csv' } });
    expect(pause.status).toBe(201);
    const waited = await stack.call('POST', '/runs', { pipeline: 'wk_manual', callBackUri: receiverUrl });
    expect(waited.status).toBe(202);
    await stack.sweep();

    // The JSON form of the same data.
    const data = (await stack.call('GET', '/dashboard', undefined, { accept: 'application/json' })).json;
    expect(data.active.map((e: { executionId: string }) => e.executionId)).toEqual([id]);
    expect(data.active[0].failures).toEqual([
      expect.objectContaining({ name: 'bad', activity: `Copy ${XSS}`, code: '2200', studioUrl: `https://adf.azure.com/en/monitoring/pipelineruns/${badRunId}?factory=/subscriptions/${TEST_SUBSCRIPTION}/resourceGroups/${TEST_RG}/providers/Microsoft.DataFactory/factories/${TEST_FACTORY}` }),
    ]);
    expect(data.active[0].blocked).toEqual([
      { name: 'after_bad', stage: 'transform', blockedBy: 'bad' },
      { name: 'final', stage: 'load', blockedBy: 'after_bad' },
    ]);
    expect(data.callbacks).toEqual([expect.objectContaining({ kind: 'callback', waitingForOutcome: true, state: 'waiting for the outcome' })]);
    expect(JSON.stringify(data)).not.toContain(receiverUrl);
    expect(JSON.stringify(data)).not.toContain(pause.json.token);
    expect(data.sweep).toMatchObject({ late: false, intervalSeconds: 30, last: expect.objectContaining({ errors: 0 }) });
    expect(data.sweep.last.armCalls).toBeGreaterThan(0);

    const page = await browser.newPage();
    const problems = watch(page);
    const res = await page.goto(`${stack.api}/dashboard?refresh=1`);
    expect(res?.status()).toBe(200);
    const csp = res?.headers()['content-security-policy'] ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toMatch(/script-src 'sha256-[^']+'(;|$)/);
    expect(csp).not.toContain('unsafe-inline');

    // One bar or outline per worker, in stage order, with its status.
    const card = page.locator(`#execution-${id}`);
    const rows = await card.locator('g.worker').evaluateAll((gs) => gs.map((g) => [g.getAttribute('data-worker'), g.getAttribute('data-status'), g.querySelector('rect')?.getAttribute('class')]));
    expect(rows).toEqual([
      ['ok', 'Succeeded', 'bar'],
      ['bad', 'Failed', 'bar'],
      ['hanging', 'Running', 'bar'],
      ['after_bad', 'Blocked', 'outline'],
      ['after_ok', 'Pending', 'outline'],
      ['final', 'Blocked', 'outline'],
    ]);
    expect(await card.locator('details.stage').evaluateAll((ds) => ds.map((d) => d.getAttribute('data-stage')))).toEqual(['extract', 'transform', 'load']);
    expect(await card.locator('details.stage[data-stage="extract"] summary').innerText()).toMatch(/extract\s+Running\s+3 workers: 1 Running\s+1 Succeeded\s+1 Failed/);

    // The failure: the activity's error as text, and the run in ADF Studio.
    const failure = card.locator('ul.failures li[data-worker="bad"]');
    expect(await failure.innerText()).toContain(`at Copy ${XSS} [2200]: Source not found ${XSS}`);
    expect(await failure.locator('a').getAttribute('href')).toBe(data.active[0].failures[0].studioUrl);
    expect(await card.locator('ul.blocked li').allInnerTexts()).toEqual(['after_bad (transform) by bad', 'final (load) by after_bad']);

    const text = await page.locator('body').innerText();
    expect(text).toContain(pause.json.pauseId);
    expect(text).toMatch(/imports\s+1\s+wk_manual/);
    expect(await page.locator('#callbacks tbody tr').count()).toBe(1);
    expect(await page.locator('#sweep').innerText()).toMatch(/last pass .* ARM call\(s\) · \d+ runs active/);
    expect(await page.locator('#sweep').getAttribute('class')).toContain('ok');

    // It refreshes itself: the hanging worker ends, and the open page shows it without a reload.
    const hangingRun = (await worker('hanging')).runId as string;
    stack.emulator.finish(hangingRun, 'Succeeded');
    await sweepUntil(stack, async () => (await worker('hanging'))?.status === 'Succeeded');
    await page.waitForFunction(() => document.querySelector('g.worker[data-worker="hanging"]')?.getAttribute('data-status') === 'Succeeded', undefined, { timeout: 10_000 });

    const shot = process.env.UPDATE_DOCS_SCREENSHOT ? path.join(__dirname, '..', '..', 'docs', 'images', 'dashboard.png') : path.join(os.tmpdir(), 'adf-conductor-dashboard.png');
    fs.mkdirSync(path.dirname(shot), { recursive: true });
    await page.screenshot({ path: shot, fullPage: true });
    expect(problems).toEqual([]);
    await page.close();

    // The same Gantt as an image.
    const svg = await browser.newPage();
    const svgProblems = watch(svg);
    const img = await svg.goto(`${stack.api}/executions/${id}/timeline.svg`);
    expect(img?.headers()['content-type']).toContain('image/svg+xml');
    expect(await svg.locator('g.worker').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-worker')))).toEqual(['ok', 'bad', 'hanging', 'after_bad', 'after_ok', 'final']);
    expect(svgProblems).toEqual([]);
    await svg.close();
    expect((await stack.call('GET', '/executions/nope/timeline.svg')).status).toBe(404);
  });

  it('with 1,000 workers in one execution, the page renders in under 1 s (median of 5 loads), with its stages collapsed', async () => {
    const stages = Array.from({ length: 4 }, (_, i) => ({ name: `s${i}`, pipelines: Array.from({ length: 250 }, (_, j) => ({ name: `w${i}_${String(j).padStart(3, '0')}`, pipeline: 'wk_ok' })) }));
    const big = { properties: { failureHandling: 'DependencyChain', restart: 'new', maxConcurrentWorkers: 50 }, stages, batches: [{ name: 'big', stages: stages.map((s) => s.name) }] };
    expect((await stack.call('PUT', '/metadata', JSON.stringify(big), { 'content-type': 'application/json' })).status).toBe(200);
    const started = await stack.call('POST', '/executions', { batch: 'big' });
    expect(started.status).toBe(202);
    await stack.sweep();
    await stack.sweep();

    const page = await browser.newPage();
    const problems = watch(page);
    const times: number[] = [];
    const parts: string[] = [];
    await page.goto(`${stack.api}/dashboard?refresh=3600`); // warm-up: templates compiled, connections open
    for (let i = 0; i < 5; i++) {
      await page.goto(`${stack.api}/dashboard?refresh=3600`);
      const t = await page.evaluate(() => {
        const n = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
        return { load: n.loadEventEnd, server: n.responseStart - n.requestStart, render: n.loadEventEnd - n.responseEnd };
      });
      times.push(t.load);
      parts.push(`${Math.round(t.load)} (server ${Math.round(t.server)}, render ${Math.round(t.render)})`);
    }
    const card = page.locator(`#execution-${started.json.executionId}`);
    expect(await card.locator('g.worker').count()).toBe(1000);
    expect(await card.locator('details.stage').evaluateAll((ds) => ds.map((d) => (d as HTMLDetailsElement).open))).toEqual([false, false, false, false]);
    expect(await card.locator('details.stage[data-stage="s0"] summary').innerText()).toMatch(/s0\s+Running\s+250 workers:/);
    const median = [...times].sort((a, b) => a - b)[2] as number;
    process.stdout.write(`dashboard with 1,000 workers: loads in ${parts.join(', ')} ms; median ${Math.round(median)} ms\n`);
    expect(median).toBeLessThan(1000);
    expect(problems).toEqual([]);
    await page.close();
    await stack.call('POST', `/executions/${started.json.executionId}/cancel`);
  });

  it('when the refresh interval is not a number, then it is a 400 problem', async () => {
    const r = await stack.call('GET', '/dashboard?refresh=soon');
    expect(r.status).toBe(400);
    expect(r.headers.get('content-type')).toContain('application/problem+json');
    expect(r.json.errors).toEqual([expect.objectContaining({ path: 'refresh' })]);
  });
});
