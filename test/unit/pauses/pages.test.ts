import { createHash } from 'node:crypto';
import { createPause } from '../../../src/core/pauses/create';
import { pageView, pastedToken } from '../../../src/http/views/pauses';
import { htmlPage } from '../../../src/http/pages';
import { tokenSightings } from '../../support/token-sightings';
import { BASE, unescapeHtml, unitWorld } from './fakes';

const PAYLOADS = ['<img src=x onerror=alert(1)>', '</script><script>alert(1)</script>', '"><svg onload=alert(1)>', "' onmouseover='alert(1)"] as const;

async function hostilePause() {
  const w = unitWorld();
  const created = await createPause(
    w.deps,
    { continuation: { pipeline: 'pl_continue', parameters: { p: PAYLOADS[2] } }, data: { a: PAYLOADS[0], b: [PAYLOADS[1]], [PAYLOADS[3]]: 1 }, notify: { to: ['a@example.com'], subject: PAYLOADS[1], message: PAYLOADS.join('\n') } },
    BASE,
  );
  return { w, ...created };
}

describe('pages and emails escape everything a request supplied', () => {
  it('when the confirmation page shows hostile data, message and title, then no tag or attribute of theirs survives, yet the text reads the same', async () => {
    const { pause, token } = await hostilePause();
    const page = htmlPage(200, 'confirm', { ...pageView(pause), pageTitle: 'Approve', token, action: '/api/restart' });
    const html = String(page.body);
    for (const bad of ['<img', '<svg', '<script', 'onerror=alert', "' onmouseover"]) expect(html.toLowerCase()).not.toContain(bad);
    for (const p of PAYLOADS) expect(unescapeHtml(html)).toContain(p);
  });

  it('when the approval email carries hostile values, then its HTML escapes them and its text keeps them verbatim', async () => {
    const { w } = await hostilePause();
    const mail = w.mailer.sent[0]!;
    for (const bad of ['<img', '<svg', '<script']) expect(mail.html.toLowerCase()).not.toContain(bad);
    expect(unescapeHtml(mail.html)).toContain(PAYLOADS[1]);
    expect(mail.text).toContain(PAYLOADS[0]);
    expect(mail.subject).toBe(PAYLOADS[1]);
  });

  it('when a page is sent without a script, then it is uncacheable, unframeable, sends no referrer and its CSP allows no script and only its own style', async () => {
    const { pause, token } = await hostilePause();
    const page = htmlPage(200, 'confirm', { ...pageView(pause), pageTitle: 'Approve', token, action: '/api/restart' });
    const h = page.headers as Record<string, string>;
    expect(h['cache-control']).toBe('no-store');
    expect(h['referrer-policy']).toBe('no-referrer');
    expect(h['x-frame-options']).toBe('DENY');
    expect(h['x-content-type-options']).toBe('nosniff');
    const csp = h['content-security-policy']!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/script-src|unsafe-inline|unsafe-eval/);
    const css = /<style>([\s\S]*?)<\/style>/.exec(String(page.body))?.[1] ?? '';
    expect(csp).toContain(`'sha256-${createHash('sha256').update(css).digest('base64')}'`);
    expect(String(page.body)).not.toMatch(/<script|\son[a-z]+=/i);
  });

  it('when an approval page carries the link script, then its CSP allows exactly that inline script, by the hash of the text between its tags, and still nothing unsafe', async () => {
    const { pause, token } = await hostilePause();
    for (const page of [
      htmlPage(200, 'open', { pageTitle: 'Review', action: '/api/restart' }, {}, { script: 'open-link.js' }),
      htmlPage(200, 'confirm', { ...pageView(pause), pageTitle: 'Approve', token, action: '/api/restart' }, {}, { script: 'open-link.js' }),
    ]) {
      const body = String(page.body);
      const scripts = [...body.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
      expect(scripts).toHaveLength(1);
      expect(scripts[0]).toContain('location.hash');
      const csp = (page.headers as Record<string, string>)['content-security-policy']!;
      expect(/script-src [^;]*/.exec(csp)?.[0]).toBe(`script-src 'sha256-${createHash('sha256').update(scripts[0]!, 'utf8').digest('base64')}'`);
      expect(csp).not.toMatch(/unsafe-|strict-dynamic|\*/);
      expect(body).not.toMatch(/\son[a-z]+=/i);
    }
    expect((htmlPage(200, 'open', { pageTitle: 'x', action: '/api/restart' }).headers as Record<string, string>)['content-security-policy']).not.toContain('script-src');
  });
});

describe('the approval link and the page it opens', () => {
  it('when a pause is created, then its link, in the answer and both parts of the email, carries the token in the fragment and nowhere else', async () => {
    const { w, restartUrl, token } = await hostilePause();
    expect(restartUrl).toBe(`${BASE}/api/restart#token=${token}`);
    const mail = w.mailer.sent[0]!;
    for (const part of [mail.text, mail.html]) {
      expect(tokenSightings(part, token).map((s) => s.placement)).toEqual(part === mail.html ? ['fragment', 'fragment'] : ['fragment']);
    }
  });

  it('when the link opens its page, then the page holds nothing of any pause: a form that posts a pasted link or token to view the request', () => {
    const page = htmlPage(200, 'open', { pageTitle: 'Review', action: '/api/restart' }, {}, { script: 'open-link.js' });
    const body = unescapeHtml(String(page.body));
    expect(body).toMatch(/<form method="post" action="\/api\/restart" id="open"/);
    expect(body).toContain('<input type="hidden" name="decision" value="view">');
    expect(body).toMatch(/<input type="text" name="token" id="token" required/);
    expect(body).toContain('<noscript>');
  });

  it.each([
    ['the bare token', (t: string) => t],
    ['the link with spaces around it', (t: string) => `  ${BASE}/api/restart#token=${t}\n`],
    ['a legacy query link', (t: string) => `${BASE}/api/restart?token=${t}`],
    ['the link as a mail gateway rewrote it', (t: string) => `https://eur01.safelinks.example/?url=${encodeURIComponent(`${BASE}/api/restart#token=${t}`)}&data=05%7C02`],
  ])('when a person pastes %s, then the form reads the token', (_, paste) => {
    const token = 'A1_-'.repeat(21) + 'zz';
    expect(pastedToken(paste(token))).toBe(token);
  });

  it('when the pasted text is not a link and not a token, then it is passed on as it is, to be refused as an unknown token', () => {
    expect(pastedToken(' %E0%A4%A not a link ')).toBe('%E0%A4%A not a link');
    expect(pastedToken('https://x/api/restart#token=')).toBe('https://x/api/restart#token=');
  });
});
