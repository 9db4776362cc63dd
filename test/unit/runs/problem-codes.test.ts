import fs from 'node:fs';
import path from 'node:path';
import { problem } from '../../../src/http/problem';

const root = path.join(__dirname, '..', '..', '..');

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? tsFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Every problem `code` the app can send, found in its sources. */
function problemCodes(): Set<string> {
  const codes = new Set<string>();
  const everywhere = [/(?:notFound|conflict|unprocessable)\(\s*'([A-Z]\w+)'/g, /new \w*Error\(\s*'([A-Z]\w+)',\s*\d{3}/g, /problem\(\s*\d{3},\s*'([A-Z]\w+)'/g];
  // HTTP layers build some problem bodies by hand.
  const httpOnly = /code: '([A-Z]\w+)'/g;
  for (const file of [...tsFiles(path.join(root, 'src')), ...tsFiles(path.join(root, 'local', 'host'))]) {
    const text = fs.readFileSync(file, 'utf8');
    const rel = path.relative(root, file);
    const patterns = /^(src[/\\](functions|http)|local[/\\]host)/.test(rel) ? [...everywhere, httpOnly] : everywhere;
    for (const re of patterns) for (const m of text.matchAll(re)) codes.add(m[1]!);
  }
  return codes;
}

describe('docs/errors.md', () => {
  const doc = fs.readFileSync(path.join(root, 'docs', 'errors.md'), 'utf8');
  const headings = [...doc.matchAll(/^### (\w+)\s*$/gm)].map((m) => m[1]!);

  it('when the sources are scanned, then every problem code has its own section', () => {
    const codes = problemCodes();
    expect(codes.size).toBeGreaterThan(10);
    expect([...codes].filter((c) => !headings.includes(c)).sort()).toEqual([]);
    expect(new Set(headings).size).toBe(headings.length);
  });

  it('when a problem is built, then its type is about:blank, its title the status phrase, and its code has a section', () => {
    expect(problem(404, 'RunNotFound', 'x')).toMatchObject({ type: 'about:blank', title: 'Not Found', code: 'RunNotFound' });
    expect(headings).toContain('RunNotFound');
  });
});
