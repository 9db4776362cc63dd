import { readFileSync } from 'fs';
import { join } from 'path';
import { main } from '../../bin/adf-conductor';
import { parseMetadataText } from '../../src/http/metadata-text';
import { fakeCliIo } from '../support/fake-cli-io';

const examples = join(__dirname, '..', '..', 'examples');

/** An in-memory terminal and file system. */
const fakeIo = (files: Record<string, string>) => fakeCliIo(files);

const validYaml = readFileSync(join(examples, 'conductor.yaml'), 'utf8');
const invalidYaml = readFileSync(join(examples, 'invalid.yaml'), 'utf8');

describe('conductor validate', () => {
  test('when the file is valid, then it prints the summary and returns 0', async () => {
    const { io, out, err } = fakeIo({ 'conductor.yaml': validYaml });

    expect(await main(['validate', 'conductor.yaml'], io)).toBe(0);
    expect(out).toEqual(['✔ conductor.yaml is valid: 4 stages, 10 workers, 2 batches']);
    expect(err).toEqual([]);
  });

  test('when the file is invalid, then it prints the same problems parseMetadataText returns and returns 1', async () => {
    const { io, out } = fakeIo({ 'bad.yaml': invalidYaml });
    const expected = parseMetadataText(invalidYaml);
    if (expected.ok) throw new Error('the invalid example must be invalid');

    expect(await main(['validate', 'bad.yaml'], io)).toBe(1);
    expect(out).toEqual([
      `✖ bad.yaml: ${expected.errors.length} problems`,
      ...expected.errors.map((e) => `  ${e.path}: ${e.message}`),
    ]);
    expect(out).toContain('  stages[1].pipelines[1].dependsOn[0]: worker "model" depends on itself');
    expect(out.length - 1).toBeGreaterThanOrEqual(6);
  });

  test('when --json is given for an invalid file, then it prints {valid, errors} and returns 1', async () => {
    const { io, out } = fakeIo({ 'bad.yaml': invalidYaml });
    const expected = parseMetadataText(invalidYaml);

    expect(await main(['validate', 'bad.yaml', '--json'], io)).toBe(1);
    expect(JSON.parse(out.join('\n'))).toEqual({ valid: false, errors: expected.ok ? [] : expected.errors });
  });

  test('when --json is given for a valid file, then it prints valid true with no errors and returns 0', async () => {
    const { io, out } = fakeIo({ 'ok.yaml': validYaml });

    expect(await main(['validate', '--json', 'ok.yaml'], io)).toBe(0);
    expect(JSON.parse(out.join('\n'))).toEqual({ valid: true, errors: [] });
  });

  test('when the YAML is broken, then the syntax problem is printed at $ and it returns 1', async () => {
    const { io, out } = fakeIo({ 'broken.yaml': 'stages: [\n' });

    expect(await main(['validate', 'broken.yaml'], io)).toBe(1);
    expect(out[0]).toBe('✖ broken.yaml: 1 problems');
    expect(out[1]).toMatch(/^ {2}\$: YAML syntax error: .*line/);
  });

  test('when the file does not exist, then it says so on stderr and returns 2', async () => {
    const { io, out, err } = fakeIo({});

    expect(await main(['validate', 'missing.yaml'], io)).toBe(2);
    expect(out).toEqual([]);
    expect(err).toEqual(['✖ cannot read missing.yaml: no such file']);
  });

  test('when the command is unknown or missing, then it prints usage and returns 2', async () => {
    for (const argv of [['lint', 'x.yaml'], [], ['validate'], ['validate', 'a.yaml', 'b.yaml'], ['validate', 'a.yaml', '--yaml']]) {
      const { io, err } = fakeIo({ 'a.yaml': validYaml, 'b.yaml': validYaml });

      expect(await main(argv, io)).toBe(2);
      expect(err.join('\n')).toContain('usage: adf-conductor validate <file> [--json]');
    }
  });

  test('when help is asked for, then usage goes to stdout and it returns 0', async () => {
    const { io, out } = fakeIo({});

    expect(await main(['--help'], io)).toBe(0);
    expect(out.join('\n')).toContain('usage: adf-conductor validate');
  });
});
