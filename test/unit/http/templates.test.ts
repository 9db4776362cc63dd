import { hasEmailTemplate, renderEmail, renderTemplate, templateRoot } from '../../../src/http/templates';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const hostileMessage = '<img src=x onerror=alert(1)>';
const hostileData = '</script><script>alert(1)</script>';

const approvalView = (over: Record<string, unknown> = {}) => ({
  title: 'Approve the month-end load',
  message: hostileMessage,
  pipeline: 'pl_month_end',
  factory: 'adf-finance',
  expiresAt: '2030-01-02T03:04:05.000Z',
  restartUrl: 'https://conductor.example.com/api/restart?token=abc-DEF_123',
  dataPreview: JSON.stringify({ note: hostileData, rows: 3 }, null, 2),
  pauseId: 'p-0001',
  ...over,
});

describe('renderEmail("approval")', () => {
  it('when values carry markup, then the HTML part shows them escaped and never as live markup', () => {
    const { html } = renderEmail('approval', approvalView());
    expect(html).not.toContain(hostileMessage);
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('</script>');
    expect(html).toContain('&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;');
    expect(html).toContain('&lt;&#x2F;script&gt;&lt;script&gt;alert(1)&lt;&#x2F;script&gt;');
  });

  it('when values carry markup, then the text part shows them verbatim (no HTML entities)', () => {
    const { text } = renderEmail('approval', approvalView());
    expect(text).toContain(hostileMessage);
    expect(text).toContain(hostileData);
    expect(text).toContain('https://conductor.example.com/api/restart?token=abc-DEF_123');
    expect(text).not.toMatch(/&(lt|gt|amp|#x2F|#x3D|quot);/);
  });

  it('when rendered, then both parts name the pipeline, factory, pause, expiry and link, and say single-use', () => {
    const { html, text } = renderEmail('approval', approvalView());
    for (const part of [html, text]) {
      expect(part).toContain('pl_month_end');
      expect(part).toContain('adf-finance');
      expect(part).toContain('p-0001');
      expect(part).toContain('2030-01-02T03:04:05.000Z');
      expect(part).toMatch(/works once/);
      expect(part).toContain('Approve the month-end load');
    }
    // The link survives HTML escaping as an attribute the browser decodes back to the URL.
    expect(html).toContain('href="https:&#x2F;&#x2F;conductor.example.com&#x2F;api&#x2F;restart?token&#x3D;abc-DEF_123"');
    expect(html).toMatch(/>Review and approve<\/a>/);
  });

  it('when there is no message and no data, then those blocks are left out', () => {
    const { html, text } = renderEmail('approval', approvalView({ message: undefined, dataPreview: '' }));
    expect(html).not.toContain('Data passed to the continuation');
    expect(text).not.toContain('Data passed to the continuation');
    expect(text.startsWith('Approve the month-end load\n\nPipeline:')).toBe(true);
  });

  it('when the template name is unknown or tries to escape the folder, then it is refused', () => {
    expect(hasEmailTemplate('approval')).toBe(true);
    expect(hasEmailTemplate('nope')).toBe(false);
    expect(hasEmailTemplate('../pages/x')).toBe(false);
    expect(() => renderEmail('../../package', {})).toThrow(expect.objectContaining({ code: 'TemplateNotFound', status: 422 }));
    expect(() => renderTemplate('../package.json', {})).toThrow(/invalid template name/);
  });
});

describe('renderTemplate', () => {
  it('when called from the sources, then it finds the repository templates folder', () => {
    const root = templateRoot();
    expect(existsSync(join(root, 'package.json'))).toBe(true);
    expect(existsSync(join(root, 'templates', 'email', 'approval.html.mustache'))).toBe(true);
  });

  it('when a .txt template is rendered, then nothing is escaped; when .html, then everything is', () => {
    const view = approvalView({ title: 'a & b < c' });
    expect(renderTemplate('email/approval.txt', view).split('\n')[0]).toBe('a & b < c');
    expect(renderTemplate('email/approval.html.mustache', view)).toContain('<title>a &amp; b &lt; c</title>');
  });
});
