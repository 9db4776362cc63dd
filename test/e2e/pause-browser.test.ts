/**
 * The approval pages in a real browser: Debian's Chromium driven by playwright-core.
 * Nothing here is skipped: without Chromium the suite fails and says how to install it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Browser, type Page } from 'playwright-core';
import { readOutbox, type OutboxEntry } from '../../src/adapters/outbox-mailer';
import { launchChromium } from '../support/chromium';
import { startTestStack, type TestStack } from '../support/test-stack';

const XSS = {
  img: '<img src=x onerror=alert(1)>',
  script: '</script><script>alert(1)</script>',
  imgSentinel: '<img src=x onerror="window.__xss=1">',
  scriptSentinel: '</script><script>window.__xss=1</script>',
};
const HOSTILE = Object.values(XSS);
/** Evaluated in the page (strings: this project compiles without the DOM library). */
const COUNT_ACTIVE = "document.querySelectorAll('script, img, svg, iframe, object, embed').length";
const SENTINEL = 'window.__xss';

describe('approval pages in headless Chromium', () => {
  let stack: TestStack;
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
    stack = await startTestStack({ scenario: { pipelines: { pl_continue: { durationMs: 100 } }, unknownPipelines: 'notFound' } });
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  /** A fresh page that records every dialog (and dismisses it) and every console message. */
  async function watchedPage(): Promise<{ page: Page; dialogs: string[]; console: string[] }> {
    const page = await browser.newPage();
    const dialogs: string[] = [];
    const console: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    page.on('console', (m) => console.push(m.text()));
    return { page, dialogs, console };
  }

  async function pauseWithMail(body: Record<string, unknown>): Promise<{ pauseId: string; mail: OutboxEntry }> {
    const res = await stack.call('POST', '/pauses', body);
    expect(res.status).toBe(201);
    const mail = (await readOutbox(stack.outbox)).find((m) => m.text.includes(res.json.pauseId));
    if (!mail) throw new Error('no email for the pause in the outbox');
    return { pauseId: res.json.pauseId, mail };
  }

  const linkIn = (mail: OutboxEntry) => {
    const m = /https?:\/\/\S+\/api\/restart\?token=[A-Za-z0-9_-]{86}/.exec(mail.text);
    if (!m) throw new Error('no approval link in the email text');
    return m[0];
  };

  it('when data, message and subject carry script, then the confirmation page and the email show it as text, and no script runs and no dialog opens', async () => {
    const { mail } = await pauseWithMail({
      continuation: { pipeline: 'pl_continue' },
      data: { ...XSS, list: HOSTILE },
      notify: { to: ['approver@example.com'], subject: XSS.scriptSentinel, message: HOSTILE.join('\n') },
    });

    const { page, dialogs, console } = await watchedPage();
    const res = await page.goto(linkIn(mail));
    expect(res?.status()).toBe(200);
    expect(await page.locator('h1').textContent()).toBe(XSS.scriptSentinel);
    const dataText = (await page.locator('#data').textContent()) ?? '';
    const messageText = (await page.locator('.message').textContent()) ?? '';
    for (const p of HOSTILE) {
      expect(dataText).toContain(JSON.stringify(p).slice(1, -1));
      expect(messageText).toContain(p);
    }
    expect(await page.evaluate(COUNT_ACTIVE)).toBe(0);
    expect(await page.evaluate(SENTINEL)).toBeUndefined();
    expect(dialogs).toEqual([]);
    // The inline stylesheet matches the CSP hash: nothing was refused.
    expect(console.filter((l) => /Content Security Policy|Refused/i.test(l))).toEqual([]);
    expect(await page.evaluate("getComputedStyle(document.querySelector('main')).maxWidth")).toBe('760px');
    await page.close();

    // The email's HTML, opened as a file: no CSP protects it, only the escaping does.
    const file = fs.readdirSync(stack.outbox).find((n) => n.endsWith(`_${mail.id}.html`));
    expect(file).toBeDefined();
    const inbox = await watchedPage();
    await inbox.page.goto(pathToFileURL(path.join(stack.outbox, file!)).href);
    const mailText = (await inbox.page.locator('body').textContent()) ?? '';
    for (const p of HOSTILE) expect(mailText).toContain(p);
    expect(await inbox.page.evaluate(COUNT_ACTIVE)).toBe(0);
    expect(await inbox.page.evaluate(SENTINEL)).toBeUndefined();
    expect(inbox.dialogs).toEqual([]);
    await inbox.page.close();
  });

  it('when the approver opens the emailed link and clicks Approve, then the success page shows and the emulator runs the continuation with its parameters and the pauseId', async () => {
    const { pauseId, mail } = await pauseWithMail({
      continuation: { pipeline: 'pl_continue', parameters: { region: 'EU', month: '2026-02' } },
      data: { rows: 1200 },
      notify: { to: ['approver@example.com'], message: 'February load is ready.' },
    });
    const { page, dialogs } = await watchedPage();
    await page.goto(linkIn(mail));
    expect(await page.locator('.message').textContent()).toBe('February load is ready.');
    expect(stack.emulator.runs().filter((r) => r.parameters.pauseId === pauseId)).toEqual([]);

    await Promise.all([page.waitForNavigation(), page.click('#approve')]);
    expect(await page.locator('#outcome').textContent()).toContain('Approved.');
    const runs = stack.emulator.runs().filter((r) => r.parameters.pauseId === pauseId);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ pipelineName: 'pl_continue', parameters: { region: 'EU', month: '2026-02', pauseId } });
    expect(await page.locator('#runId').textContent()).toBe(runs[0]!.runId);
    expect((await stack.call('GET', `/pauses/${pauseId}`)).json).toMatchObject({ status: 'Approved', runId: runs[0]!.runId });

    // Back: the page is no-store, so the browser asks again and gets the 409 page with the outcome, no buttons.
    const back = await page.goBack();
    expect(back?.status()).toBe(409);
    expect(await page.locator('#outcome').textContent()).toContain('already approved');
    expect(await page.locator('#approve').count()).toBe(0);
    expect(stack.emulator.runs().filter((r) => r.parameters.pauseId === pauseId)).toHaveLength(1);
    expect(dialogs).toEqual([]);
    await page.close();
  });
});
