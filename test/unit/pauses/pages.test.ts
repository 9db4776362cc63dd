import { createHash } from 'node:crypto';
import { createPause } from '../../../src/core/pauses/create';
import { pageView } from '../../../src/http/views/pauses';
import { htmlPage } from '../../../src/http/pages';
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

  it('when a page is sent, then it is uncacheable, unframeable, sends no referrer and its CSP allows no script and only its own style', async () => {
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
});
