/**
 * Issue 10, item 6: no secret in any URL that a server logs. Pauses are created with notify through the
 * real stack, behind a proxy that records every request as an access log or Application Insights would.
 * The token (what the 201's restartUrl fragment carries) must show up in a URL only ever in a fragment:
 * in the emails, the 201, every page served, every request a server received, and the app's logs.
 */
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { startRecordingProxy, type RecordingProxy } from '../support/recording-proxy';
import { startTestStack, type TestStack } from '../support/test-stack';
import { inPathOrQuery, tokenSightings } from '../support/token-sightings';
import { runsOf } from './pauses-support';

const scenario = { pipelines: { pl_continue: { durationMs: 100 }, pl_on_reject: { durationMs: 100 } }, unknownPipelines: 'notFound' as const };
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

describe('the token sighting scanner (the detector the tests below rely on)', () => {
  const T = 'Tk_-'.repeat(21) + 'ab';
  it('when the token sits in a query, a path, a fragment, a wrapped link or a body field, then each is classified as such', () => {
    const cases: Array<[string, string]> = [
      [`https://h/api/restart?token=${T}`, 'query'],
      [`GET /api/restart?a=1&token=${T} 200`, 'query'],
      [`https://h/api/restart/${T}`, 'path'],
      [`https://h/api/restart#token=${T}`, 'fragment'],
      [`<a href="https:&#x2F;&#x2F;h&#x2F;api&#x2F;restart?token&#x3D;${T}">`, 'query'],
      [`https://gw.example/?url=https%3A%2F%2Fh%2Fapi%2Frestart%23token%3D${T}`, 'query'],
      [`{"token":"${T}"}`, 'elsewhere'],
      [`<input name="token" value="${T}">`, 'elsewhere'],
    ];
    for (const [text, placement] of cases) expect([text, tokenSightings(text, T).map((s) => s.placement)]).toEqual([text, [placement]]);
    expect(inPathOrQuery(`see https://h/api/restart#token=${T} and https://h/api/restart?token=${T}`, T)).toHaveLength(1);
  });
});

describe('no approval URL in any email, page, request line or log carries the token in its path or query', () => {
  let stack: TestStack;
  let proxy: RecordingProxy;
  beforeAll(async () => {
    stack = await startTestStack({ scenario });
    proxy = await startRecordingProxy(stack.host.url);
  });
  afterAll(async () => {
    await proxy?.close();
    await stack?.close();
  });

  /** A request through the proxy, the way a browser makes it: the fragment stays on the client. */
  async function send(method: string, url: string, body?: string, headers: Record<string, string> = {}): Promise<Answer> {
    const target = url.startsWith('http') ? url : `${proxy.url}${url}`;
    const res = await fetch(target.split('#')[0]!, { method, headers, ...(body === undefined ? {} : { body }) });
    return { status: res.status, headers: res.headers, text: await res.text() };
  }

  async function createWithNotify(body: Record<string, unknown>) {
    const res = await send('POST', '/api/pauses', JSON.stringify(body), { 'content-type': 'application/json' });
    expect(res.status).toBe(201);
    const json = JSON.parse(res.text) as { pauseId: string; token: string; restartUrl: string; notified: boolean };
    const link = new URL(json.restartUrl);
    const token = /^#token=([A-Za-z0-9_-]{86})$/.exec(link.hash)?.[1];
    expect(token).toBeDefined();
    expect([link.origin, link.pathname, link.search, token, json.notified]).toEqual([proxy.url, '/api/restart', '', json.token, true]);
    return { ...json, token: token!, answer: res };
  }

  it('when pauses are created with notify and taken through every page, then the token is only ever in a fragment, and no request line, Referer or log holds it', async () => {
    const details = { pipeline: 'pl_continue', message: 'Row counts are 3% lower', subject: 'Approve the March load', data: 'data-marker-7781' };
    const approved = await createWithNotify({
      continuation: { pipeline: details.pipeline, parameters: { month: '2026-03' } },
      data: { marker: details.data },
      notify: { to: ['approver@example.com'], cc: ['ops@example.com'], subject: details.subject, message: details.message },
    });
    const rejected = await createWithNotify({ continuation: { pipeline: 'pl_continue' }, onReject: { pipeline: 'pl_on_reject' }, notify: { to: ['approver@example.com'] } });
    const waiting = await createWithNotify({ continuation: { pipeline: 'pl_continue' }, notify: { to: ['approver@example.com'] } });
    const pauses = [approved, rejected, waiting];
    const texts: Array<{ where: string; text: string }> = pauses.map((p) => ({ where: `201 of ${p.pauseId}`, text: p.answer.text }));
    const page = (where: string, a: Answer) => {
      texts.push({ where, text: a.text });
      return a;
    };

    // What a scanner prefetching the link gets: a page that knows nothing about the pause.
    const csp = (a: Answer) => a.headers.get('content-security-policy') ?? '';
    const linkPageCsp = csp(await send('GET', '/api/restart'));
    expect(linkPageCsp).toMatch(/; script-src 'sha256-[A-Za-z0-9+/]{43}='; /);
    for (const method of ['GET', 'HEAD']) {
      const open = page(`${method} link`, await send(method, approved.restartUrl));
      expect(open.status).toBe(200);
      expect(csp(open)).toBe(linkPageCsp);
      expect(open.headers.get('referrer-policy')).toBe('no-referrer');
      for (const secret of [approved.pauseId, details.pipeline, details.message, details.subject, details.data]) expect(open.text).not.toContain(secret);
    }
    const asJson = page('GET link as JSON', await send('GET', approved.restartUrl, undefined, { accept: 'application/json' }));
    expect([asJson.status, JSON.parse(asJson.text).code]).toEqual([404, 'TokenNotFound']);
    expect(asJson.text).not.toContain(approved.pauseId);

    // The page's script (or the person, pasting) POSTs the token: the confirmation page, nothing decided.
    const view = page('view page', await send('POST', '/api/restart', form({ token: approved.token, decision: 'view' }), FORM));
    expect(view.status).toBe(200);
    for (const shown of [approved.pauseId, details.pipeline, details.message, details.data]) expect(view.text).toContain(shown);
    // Every page of the flow allows the same one script (a new link may be opened from any of them), and no other.
    expect(csp(view)).toBe(linkPageCsp);
    const viewJson = page('view JSON', await send('POST', '/api/restart', JSON.stringify({ token: approved.token, decision: 'view' }), { 'content-type': 'application/json', accept: 'application/json' }));
    expect(JSON.parse(viewJson.text)).toMatchObject({ pauseId: approved.pauseId, status: 'Waiting' });
    expect(runsOf(stack, approved.pauseId)).toEqual([]);

    expect(page('approve', await send('POST', '/api/restart', form({ token: approved.token, decision: 'approve' }), FORM)).text).toContain('Approved.');
    expect(page('approve again', await send('POST', '/api/restart', form({ token: approved.token, decision: 'approve' }), FORM)).status).toBe(409);
    expect(page('view decided', await send('POST', '/api/restart', form({ token: approved.token, decision: 'view' }), FORM)).status).toBe(409);
    expect(runsOf(stack, approved.pauseId)).toHaveLength(1);
    expect(page('reject', await send('POST', '/api/restart', form({ token: rejected.token, decision: 'reject' }), FORM)).text).toContain('Rejected.');
    page('view waiting', await send('POST', '/api/restart', form({ token: waiting.token, decision: 'view' }), FORM));
    page('unknown token', await send('POST', '/api/restart', form({ token: 'A'.repeat(86), decision: 'view' }), FORM));
    for (const p of pauses) page(`GetPause ${p.pauseId}`, await send('GET', `/api/pauses/${p.pauseId}`));

    const outbox = await readdir(stack.outbox);
    const mails = outbox.filter((n) => n.endsWith('.json') || n.endsWith('.html'));
    expect(outbox.filter((n) => n.endsWith('.json'))).toHaveLength(3);
    for (const name of mails) texts.push({ where: `outbox ${name}`, text: await readFile(path.join(stack.outbox, name), 'utf8') });

    for (const { token, pauseId } of pauses) {
      // Emails and answers: wherever the token is in a URL, it is in the fragment.
      const bad = texts.flatMap(({ where, text }) => inPathOrQuery(text, token).map((s) => `${where}: ${s.placement} in ${s.excerpt}`));
      expect(bad).toEqual([]);
      const mine = texts.filter((t) => t.text.includes(token) || t.where.includes(pauseId));
      const fragments = mine.flatMap(({ where, text }) => tokenSightings(text, token).filter((s) => s.placement === 'fragment').map(() => where));
      // The 201, and the email's text part and HTML link, text and file.
      expect(fragments.filter((w) => w.startsWith('201')).length).toBe(1);
      expect(fragments.filter((w) => w.startsWith('outbox')).length).toBeGreaterThanOrEqual(4);

      // What the servers received: the token only ever in a body, never in a request line or a Referer.
      const lines = proxy.seen.map((r) => `${r.method} ${r.target}`).join('\n');
      expect(lines).toContain('/api/restart');
      expect(tokenSightings(lines, token)).toEqual([]);
      expect(proxy.seen.filter((r) => r.headers.referer !== undefined)).toEqual([]);
      expect(proxy.seen.filter((r) => r.body.includes(token)).length).toBeGreaterThanOrEqual(1);

      // The app's logs: ids only, never the token.
      expect(stack.logs.some((l) => l.includes(pauseId))).toBe(true);
      expect(tokenSightings(stack.logs.join('\n'), token)).toEqual([]);
    }
  });

  it('when an approval link sent before the token moved to the fragment is opened, then it still shows its confirmation page, and the detector sees that request line carry the token', async () => {
    const { pauseId, token } = await createWithNotify({ continuation: { pipeline: 'pl_continue' }, data: { old: 'link' }, notify: { to: ['approver@example.com'] } });
    const legacy = await send('GET', `/api/restart?token=${token}`);
    expect(legacy.status).toBe(200);
    expect(legacy.text).toContain(pauseId);
    expect(legacy.text).toContain('name="decision" value="approve"');
    expect(legacy.headers.get('referrer-policy')).toBe('no-referrer');
    // Its URL has a query, so a link opened from it loads a page of its own: it needs, and allows, no script.
    expect(legacy.headers.get('content-security-policy')).not.toContain('script-src');
    // The positive control: the very exposure this change removes is visible to the scan.
    expect(inPathOrQuery(proxy.seen.map((r) => `${r.method} ${r.target}`).join('\n'), token)).toHaveLength(1);
    expect(stack.logs.filter((l) => l.includes('legacy approval link') && l.includes(pauseId))).toHaveLength(1);
    expect(tokenSightings(stack.logs.join('\n'), token)).toEqual([]);
    expect(runsOf(stack, pauseId)).toEqual([]);
  });

  it('when a person pastes the whole link, or the link as a mail gateway rewrote it, into the page, then the form finds the token', async () => {
    const { pauseId, token, restartUrl } = await createWithNotify({ continuation: { pipeline: 'pl_continue' }, notify: { to: ['approver@example.com'] } });
    const wrapped = `https://eur01.safelinks.example/?url=${encodeURIComponent(restartUrl)}&data=05%7C02`;
    for (const pasted of [token, ` ${restartUrl} `, wrapped, restartUrl.replace('#', '?')]) {
      const res = await send('POST', '/api/restart', form({ token: pasted, decision: 'view' }), FORM);
      expect([pasted, res.status, res.text.includes(pauseId)]).toEqual([pasted, 200, true]);
    }
    const garbage = await send('POST', '/api/restart', form({ token: `${restartUrl.split('#')[0]}#token=nope`, decision: 'view' }), FORM);
    expect(garbage.status).toBe(404);
  });
});
