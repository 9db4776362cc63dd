/// <reference lib="dom" />
/**
 * Every value on the dashboard and in the timeline image is escaped. Names the metadata would refuse
 * (`<script>alert(1)</script>` is not a valid worker name, nor a table key) are rendered here from the
 * view directly, served with the app's own headers (CSP included), in Chromium.
 */
import { type Browser, type Page } from 'playwright-core';
import type { DashboardData } from '../../src/core/dashboard/dashboard';
import { timelineSvg } from '../../src/core/dashboard/timeline';
import type { Execution, Worker } from '../../src/core/orchestration/model';
import { htmlPage } from '../../src/http/pages';
import { toDashboardPage } from '../../src/http/views/dashboard';
import { launchChromium } from '../support/chromium';

const XSS = '<script>alert(1)</script>';
const IMG = '<img src=x onerror=alert(2)>';
const target = { subscriptionId: '00000000-0000-0000-0000-000000000000', resourceGroup: 'rg', factory: 'adf', pipeline: `pl ${IMG}` };

function worker(name: string, over: Partial<Worker>): Worker {
  return { name, stage: IMG, stageIndex: 0, order: 0, target, factoryKey: 'default', parameters: {}, dependsOn: [], status: 'Pending', attempt: 1, etag: '', ...over };
}

const t0 = Date.parse('2026-11-28T01:00:00Z');
const at = (s: number) => new Date(t0 + s * 1000).toISOString();
const execution: Execution = {
  executionId: `e-${XSS}`,
  batch: `b ${XSS}`,
  status: 'Running',
  metadataVersion: 1,
  startedAt: at(0),
  stages: [IMG],
  rules: { failureHandling: 'DependencyChain', cancelledWorkerBlocks: true, unknownWorkerBlocks: true },
  maxConcurrentWorkers: 10,
  restarts: 0,
  etag: '',
};
const workers = [
  worker(XSS, { status: 'Failed', runId: `r-${XSS}`, startedAt: at(1), endedAt: at(5), error: { activity: XSS, code: IMG, message: `"quoted" & ${XSS}` } }),
  worker('after', { order: 1, status: 'Blocked', dependsOn: [XSS], endedAt: at(5) }),
];
const data: DashboardData = {
  generatedAt: at(10),
  active: [{ execution, workers }],
  recent: [],
  queues: [],
  approvals: [],
  approvalsWindowHours: 48,
  outbox: [{ kind: 'callback', about: `run ${XSS}`, waitingForOutcome: false, attempts: 2, recordedAt: at(0), nextAt: at(20), lastError: XSS }],
  sweep: { intervalSeconds: 30, late: true },
};

describe('dashboard escaping', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(() => browser?.close());

  async function serve(body: string, headers: Record<string, string>): Promise<{ page: Page; problems: string[] }> {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (m) => problems.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('dialog', (d) => {
      problems.push(`dialog: ${d.message()}`);
      void d.dismiss();
    });
    await page.route('http://localhost/**', (route) => route.fulfill({ status: 200, headers, body }));
    await page.goto('http://localhost/api/dashboard');
    return { page, problems };
  }

  it('when names, errors and callback errors hold markup, then the page shows them as text and runs nothing but its own script', async () => {
    const res = htmlPage(200, 'dashboard', { pageTitle: 'Dashboard', ...toDashboardPage(data, 3600) }, {}, { script: 'dashboard-refresh.js', connect: true });
    const { page, problems } = await serve(String(res.body), res.headers as Record<string, string>);
    const text = await page.locator('body').innerText();
    expect(text).toContain(`${XSS} (${IMG} · pl ${IMG}) at ${XSS} [${IMG}]: "quoted" & ${XSS}`);
    expect(text).toContain(`after (${IMG}) by ${XSS}`);
    expect(text).toContain(`run ${XSS}`);
    expect(await page.locator('script').count()).toBe(1); // the page's own, by hash
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.locator('g.worker').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-worker')))).toEqual([XSS, 'after']);
    expect(await page.locator('#sweep').innerText()).toContain('Warning: no sweep pass');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('when the timeline image holds the same names, then it is well-formed SVG showing them as text', async () => {
    const svg = timelineSvg(execution, workers, new Date(at(10)));
    const { page, problems } = await serve(svg, { 'content-type': 'image/svg+xml', 'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'" });
    expect(await page.evaluate(() => document.documentElement.namespaceURI)).toBe('http://www.w3.org/2000/svg');
    expect(await page.locator('g.worker').evaluateAll((gs) => gs.map((g) => g.textContent))).toEqual([expect.stringContaining(XSS), expect.stringContaining('after')]);
    expect(await page.locator('script').count()).toBe(0);
    expect(problems).toEqual([]);
    await page.close();
  });
});
