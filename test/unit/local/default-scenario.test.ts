import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { loadScenario } from '../../../local/factory-emulator/scenario';

const root = path.join(__dirname, '..', '..', '..');
const read = (...p: string[]) => fs.readFileSync(path.join(root, ...p), 'utf8');

/** Pipelines a newcomer may start by copying an example: curl bodies, the example metadata, the ADF templates. */
function documentedPipelines(): Map<string, string> {
  const found = new Map<string, string>();
  const docs = ['README.md', ...fs.readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => path.join('docs', f))];
  for (const doc of docs) for (const m of read(doc).matchAll(/"pipeline"\s*:\s*"([A-Za-z0-9_][\w-]*)"/g)) found.set(m[1]!, doc);

  const example = parse(read('examples', 'conductor.yaml')) as { stages: Array<{ pipelines: Array<{ name: string; pipeline?: string }> }> };
  for (const w of example.stages.flatMap((s) => s.pipelines)) found.set(w.pipeline ?? w.name, 'examples/conductor.yaml');

  for (const file of fs.readdirSync(path.join(root, 'templates', 'adf')).filter((f) => f.endsWith('.json'))) {
    const t = JSON.parse(read('templates', 'adf', file)) as { name: string; properties: { parameters?: Record<string, { defaultValue?: unknown }> } };
    found.set(t.name, `templates/adf/${file}`);
    for (const [name, p] of Object.entries(t.properties.parameters ?? {}))
      if (/pipeline/i.test(name) && typeof p.defaultValue === 'string') found.set(p.defaultValue, `templates/adf/${file} (${name})`);
  }
  return found;
}

describe('local/scenarios/default.json', () => {
  const pipelines = loadScenario(path.join(root, 'local', 'scenarios', 'default.json')).pipelines ?? {};

  test('when a pipeline is named by the README, the example metadata, an ADF template or a docs curl example, then the default scenario has it', () => {
    const documented = documentedPipelines();
    expect(documented.size).toBeGreaterThan(15); // the scan itself works
    const missing = [...documented].filter(([name]) => !(name in pipelines)).map(([name, where]) => `${name} (${where})`);
    expect(missing).toEqual([]);
  });

  test('when a documented pipeline other than the wk_ test pipelines runs, then it succeeds in under a second', () => {
    const slow = Object.entries(pipelines)
      .filter(([name]) => !name.startsWith('wk_'))
      .filter(([, p]) => (p.outcome ?? 'Succeeded') !== 'Succeeded' || p.outcomes !== undefined || p.durationMs === null || (p.durationMs ?? 100) >= 1000);
    expect(slow).toEqual([]);
  });
});
