/**
 * The approval pages in a real browser: Debian's Chromium driven by playwright-core, in front of which a
 * proxy records every request as a server would log it. Nothing here is skipped: without Chromium the
 * suite fails and says how to install it.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { readOutbox, type OutboxEntry } from '../../src/adapters/outbox-mailer';
import { launchChromium } from '../support/chromium';
import { startRecordingProxy, type RecordingProxy } from '../support/recording-proxy';
import { startTestStack, type TestStack } from '../support/test-stack';
import { tokenSightings } from '../support/token-sightings';

const XSS = {
  img: '<img src=x onerror=alert(1)>',
  script: '</script><script>alert(1)</script>',
  imgSentinel: '<img src=x onerror="window.__xss=1">',
  scriptSentinel: '</script><script>window.__xss=1</script>',
};
const HOSTILE = Object.values(XSS);
/** Evaluated in the page (strings: this project compiles without the DOM library). */
const COUNT_ACTIVE = "document.querySelectorAll('script, img, svg, iframe, object, embed').length";
/** The same, beside the page's own one script (the one that reads the link's fragment). */
const COUNT_FOREIGN = "[...document.querySelectorAll('script, img, svg, iframe, object, embed')].filter((e) => !(e.tagName === 'SCRIPT' && e.textContent.includes('location.hash'))).length";
const COUNT_SCRIPTS = 'document.scripts.length';
const SENTINEL = 'window.__xss';
/** Runs before any script of every document (through the DevTools protocol, which no CSP governs): records CSP refusals. */
const RECORD_VIOLATIONS = `window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => window.__violations.push({ directive: e.effectiveDirective, blocked: e.blockedURI, sample: e.sample }));`;
const cspRefusals = (lines: string[]) => lines.filter((l) => /Content Security Policy|Refused to/i.test(l));

describe('approval pages in headless Chromium', () => {
  let stack: TestStack;
  let proxy: RecordingProxy;
  let browser: Browser;
  let noScript: BrowserContext;
  beforeAll(async () => {
    browser = await launchChromium();
    noScript = await browser.newContext({ javaScriptEnabled: false });
    stack = await startTestStack({ scenario: { pipelines: { pl_continue: { durationMs: 100 } }, unknownPipelines: 'notFound' } });
    proxy = await startRecordingProxy(stack.host.url);
  });
  afterAll(async () => {
    await noScript?.close();
    await browser?.close();
    await proxy?.close();
    await stack?.close();
  });

  /** A fresh page that records every dialog (and dismisses it), every console message and every CSP refusal. */
  async function watchedPage(context?: BrowserContext): Promise<{ page: Page; dialogs: string[]; console: string[] }> {
    const page = await (context ?? browser).newPage();
    const dialogs: string[] = [];
    const console: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    page.on('console', (m) => console.push(m.text()));
    if (!context) await page.addInitScript(RECORD_VIOLATIONS);
    return { page, dialogs, console };
  }

  /** A pause created through the proxy, so the emailed link points at it and every request is recorded. */
  async function pauseWithMail(body: Record<string, unknown>): Promise<{ pauseId: string; token: string; mail: OutboxEntry; link: string }> {
    const res = await fetch(`${proxy.url}/api/pauses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status).toBe(201);
    const json = (await res.json()) as { pauseId: string; token: string; restartUrl: string };
    const mail = (await readOutbox(stack.outbox)).find((m) => m.text.includes(json.pauseId));
    if (!mail) throw new Error('no email for the pause in the outbox');
    const link = /https?:\/\/\S+\/api\/restart#token=[A-Za-z0-9_-]{86}/.exec(mail.text)?.[0];
    if (!link) throw new Error('no approval link in the email text');
    expect(link).toBe(json.restartUrl);
    return { pauseId: json.pauseId, token: json.token, mail, link };
  }

  /** Opens the emailed link; the page's script posts the token, and the confirmation page loads. */
  async function openLink(page: Page, link: string) {
    const first = await page.goto(link, { waitUntil: 'commit' });
    await page.waitForSelector('#outcome, #approve, #reject');
    await page.waitForLoadState('load');
    return first!;
  }

  /** What the servers received for this token: only bodies may hold it, never a request line or a Referer. */
  function expectNoTokenInRequestLines(token: string) {
    expect(proxy.seen.flatMap((r) => tokenSightings(`${r.method} ${r.target}`, token))).toEqual([]);
    expect(proxy.seen.filter((r) => r.headers.referer !== undefined)).toEqual([]);
  }

  it('when data, message and subject carry script, then the confirmation page and the email show it as text, and no script runs and no dialog opens', async () => {
    const { mail, link } = await pauseWithMail({
      continuation: { pipeline: 'pl_continue' },
      data: { ...XSS, list: HOSTILE },
      notify: { to: ['approver@example.com'], subject: XSS.scriptSentinel, message: HOSTILE.join('\n') },
    });

    const { page, dialogs, console } = await watchedPage();
    expect((await openLink(page, link)).status()).toBe(200);
    expect(await page.locator('h1').textContent()).toBe(XSS.scriptSentinel);
    const dataText = (await page.locator('#data').textContent()) ?? '';
    const messageText = (await page.locator('.message').textContent()) ?? '';
    for (const p of HOSTILE) {
      expect(dataText).toContain(JSON.stringify(p).slice(1, -1));
      expect(messageText).toContain(p);
    }
    expect(await page.evaluate(COUNT_FOREIGN)).toBe(0);
    expect(await page.evaluate(COUNT_SCRIPTS)).toBe(1);
    expect(await page.evaluate(SENTINEL)).toBeUndefined();
    expect(dialogs).toEqual([]);
    // The inline stylesheet (and, on the link's page, the inline script) match their CSP hashes: nothing was refused.
    expect(cspRefusals(console)).toEqual([]);
    expect(await page.evaluate('window.__violations')).toEqual([]);
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

  it('when the approver opens the emailed link, then its script reads the token from the fragment and posts it, the page shows the pause, and Approve runs the continuation with its parameters and the pauseId', async () => {
    const { pauseId, token, link } = await pauseWithMail({
      continuation: { pipeline: 'pl_continue', parameters: { region: 'EU', month: '2026-02' } },
      data: { rows: 1200 },
      notify: { to: ['approver@example.com'], message: 'February load is ready.' },
    });
    const seenBefore = proxy.seen.length;
    const { page, dialogs, console } = await watchedPage();
    const first = await openLink(page, link);

    // The link's own page allows one script, by hash (which one: the next test), and sends no referrer.
    expect((await first.allHeaders())['content-security-policy']).toMatch(/; script-src 'sha256-[A-Za-z0-9+/]{43}='; /);
    expect((await first.allHeaders())['referrer-policy']).toBe('no-referrer');

    // The servers saw the bare path, then the token in a POST body: the fragment never left the browser.
    const seen = proxy.seen.slice(seenBefore);
    expect(seen.map((r) => `${r.method} ${r.target}`)).toEqual(['GET /api/restart', 'POST /api/restart']);
    expect(new URLSearchParams(seen[1]!.body).get('token')).toBe(token);
    expect(new URLSearchParams(seen[1]!.body).get('decision')).toBe('view');
    expect(page.url()).not.toContain('#');
    expect(page.url()).not.toContain(token);

    expect(await page.locator('.message').textContent()).toBe('February load is ready.');
    expect(await page.locator('dl code').first().textContent()).toBe(pauseId);
    expect(stack.emulator.runs().filter((r) => r.parameters.pauseId === pauseId)).toEqual([]);

    await Promise.all([page.waitForNavigation(), page.click('#approve')]);
    expect(await page.locator('#outcome').textContent()).toContain('Approved.');
    const runs = stack.emulator.runs().filter((r) => r.parameters.pauseId === pauseId);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ pipelineName: 'pl_continue', parameters: { region: 'EU', month: '2026-02', pauseId } });
    expect(await page.locator('#runId').textContent()).toBe(runs[0]!.runId);
    expect((await stack.call('GET', `/pauses/${pauseId}`)).json).toMatchObject({ status: 'Approved', runId: runs[0]!.runId });

    // The link again, in the same tab: only the fragment changes, so no page loads, but the script sees the
    // new fragment and posts the token; the 409 page shows the outcome, with no buttons.
    await page.goto(link, { waitUntil: 'commit' });
    await page.waitForSelector('#outcome:has-text("already")');
    expect(await page.locator('#outcome').textContent()).toContain('already approved');
    expect(await page.locator('#approve').count()).toBe(0);
    expect(stack.emulator.runs().filter((r) => r.parameters.pauseId === pauseId)).toHaveLength(1);
    expect(dialogs).toEqual([]);
    expect(cspRefusals(console)).toEqual([]);
    expectNoTokenInRequestLines(token);
    await page.close();
  });

  it('when another inline script is put into the link page, even a copy of its own script with one character changed, then the CSP refuses it', async () => {
    const { page, console } = await watchedPage();
    // No fragment (a scanner, or a bare link): the page's script finds no token and does nothing.
    const res = await page.goto(`${proxy.url}/api/restart`);
    expect(res?.status()).toBe(200);
    expect(await page.locator('#open').isVisible()).toBe(true);
    expect(await page.evaluate('window.__violations')).toEqual([]);
    const ours = /<script>([\s\S]*?)<\/script>/.exec(await res!.text())?.[1] ?? '';
    expect(ours).toContain('location.hash');
    // The CSP allows exactly the inline script the page carries, by its hash, and no other source of script.
    const csp = (await res!.allHeaders())['content-security-policy'] ?? '';
    expect(/script-src [^;]*/.exec(csp)?.[0]).toBe(`script-src 'sha256-${createHash('sha256').update(ours, 'utf8').digest('base64')}'`);

    const inject = (code: string) =>
      page.evaluate(`(() => { const s = document.createElement('script'); s.textContent = ${JSON.stringify(code)}; document.body.appendChild(s); })()`);
    await inject('window.__injected = 1');
    await inject(`${ours} window.__injected = 2;`);
    await inject(ours.replace('(function', ' (function'));
    // An inline event handler is no inline script the hash allows either.
    await page.evaluate(`(() => { const b = document.createElement('button'); b.id = 'x'; b.setAttribute('onclick', 'window.__injected = 3'); document.body.appendChild(b); })()`);
    await page.click('#x');

    expect(await page.evaluate('window.__injected')).toBeUndefined();
    const violations = await page.evaluate<Array<{ directive: string; blocked: string }>>('window.__violations');
    expect(violations.map((v) => [v.directive, v.blocked])).toEqual([
      ['script-src-elem', 'inline'],
      ['script-src-elem', 'inline'],
      ['script-src-elem', 'inline'],
      ['script-src-attr', 'inline'],
    ]);
    expect(cspRefusals(console).length).toBeGreaterThanOrEqual(4);
    // Its own script, unchanged, is allowed: it runs and finds no token, as on load.
    await inject(ours);
    expect(await page.evaluate<unknown[]>('window.__violations')).toHaveLength(4);
    await page.close();
  });

  it('when JavaScript is off, then the link page shows nothing of the pause and a form to paste the link into, and pasting it leads to Approve, which works', async () => {
    const { pauseId, token, link } = await pauseWithMail({
      continuation: { pipeline: 'pl_continue', parameters: { region: 'US' } },
      data: { secretish: 'only-after-the-token-7340' },
      notify: { to: ['approver@example.com'], subject: 'Approve the US load', message: 'US rows are in.' },
    });
    const { page } = await watchedPage(noScript);
    const res = await page.goto(link);
    expect(res?.status()).toBe(200);
    expect(await page.locator('#noscript').isVisible()).toBe(true);
    expect(await page.locator('#opening').isVisible()).toBe(false);
    const before = (await page.locator('body').textContent()) ?? '';
    for (const secret of [pauseId, 'pl_continue', 'only-after-the-token-7340', 'Approve the US load', 'US rows are in.']) expect(before).not.toContain(secret);
    expect(await page.locator('#approve').count()).toBe(0);

    // The person pastes the whole link from the email (the form also takes the bare token).
    await page.fill('#token', link);
    await Promise.all([page.waitForNavigation(), page.click('#show')]);
    expect(await page.locator('h1').textContent()).toBe('Approve the US load');
    expect(await page.locator('#data').textContent()).toContain('only-after-the-token-7340');
    expect(stack.emulator.runs().filter((r) => r.parameters.pauseId === pauseId)).toEqual([]);

    await Promise.all([page.waitForNavigation(), page.click('#approve')]);
    expect(await page.locator('#outcome').textContent()).toContain('Approved.');
    const runs = stack.emulator.runs().filter((r) => r.parameters.pauseId === pauseId);
    expect(runs).toHaveLength(1);
    expect(runs[0]!.parameters).toEqual({ region: 'US', pauseId });
    expectNoTokenInRequestLines(token);
    await page.close();
  });
});
