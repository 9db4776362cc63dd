/**
 * The ADF templates in templates/adf/, driven against the local stack: the pause step's Web activity body
 * (its pipeline expressions evaluated) is a valid PausePipeline request, and the continuation it starts is
 * declared to take exactly the parameters it gets, and finds its data with GetPause.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startTestStack, type TestStack } from '../support/test-stack';
import { JSON_ACCEPT } from './pauses-support';

interface AdfActivity {
  name: string;
  type: string;
  policy?: Record<string, unknown>;
  typeProperties: Record<string, any>;
}
interface AdfPipeline {
  name: string;
  properties: { parameters: Record<string, { type: string; defaultValue?: unknown }>; activities: AdfActivity[] };
}

const load = (name: string) => JSON.parse(fs.readFileSync(path.join(__dirname, '../../templates/adf', name), 'utf8')) as AdfPipeline;
const activity = (p: AdfPipeline, name: string) => {
  const a = p.properties.activities.find((x) => x.name === name);
  if (!a) throw new Error(`no activity ${name} in ${p.name}`);
  return a;
};

interface Ctx {
  parameters: Record<string, unknown>;
  system: Record<string, string>;
  outputs?: Record<string, unknown>;
}

/** The few ADF expressions these templates use; anything else fails the test loudly. */
function evaluate(expr: string, ctx: Ctx): unknown {
  let m: RegExpExecArray | null;
  if ((m = /^pipeline\(\)\.parameters\.(\w+)$/.exec(expr))) {
    if (!(m[1]! in ctx.parameters)) throw new Error(`parameter ${m[1]} has no value`);
    return ctx.parameters[m[1]!];
  }
  if ((m = /^string\((.+)\)$/.exec(expr))) return JSON.stringify(evaluate(m[1]!, ctx));
  if ((m = /^pipeline\(\)\.(RunId|Pipeline|DataFactory)$/.exec(expr))) return ctx.system[m[1]!];
  if ((m = /^activity\('([^']+)'\)\.output((?:\.\w+)*)$/.exec(expr)))
    return m[2]!.split('.').filter(Boolean).reduce<any>((v, k) => v?.[k], ctx.outputs?.[m[1]!]);
  throw new Error(`expression not supported by this test: ${expr}`);
}
const interpolate = (text: string, ctx: Ctx) => text.replace(/@\{([^}]+)\}/g, (_, e: string) => String(evaluate(e, ctx)));
const expression = (value: { value: string; type: string }, ctx: Ctx) => (value.value.startsWith('@{') || !value.value.startsWith('@') ? interpolate(value.value, ctx) : evaluate(value.value.slice(1), ctx));

const defaults = (p: AdfPipeline) => Object.fromEntries(Object.entries(p.properties.parameters).flatMap(([k, v]) => (v.defaultValue === undefined ? [] : [[k, v.defaultValue]])));

describe('templates/adf against the local stack', () => {
  const pauseStep = load('pause-step.json');
  const continuation = load('continuation.json');
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({
      scenario: { pipelines: { [continuation.name]: { durationMs: null, parameters: Object.keys(continuation.properties.parameters) } }, unknownPipelines: 'notFound' },
    });
  });
  afterAll(() => stack.close());

  it('when the pause step runs and the pause is approved, then the continuation gets declared parameters plus pauseId and reads the data it uses with GetPause', async () => {
    const web = activity(pauseStep, 'Pause for approval');
    expect(web.type).toBe('WebActivity');
    expect(web.policy).toMatchObject({ retry: 0, secureOutput: true });
    expect(Object.keys(web.typeProperties.headers)).toContain('x-functions-key');
    const ctx: Ctx = {
      parameters: { ...defaults(pauseStep), conductorBaseUrl: stack.host.url, functionKey: 'test-key' },
      system: { RunId: 'a1b2c3d4-0000-4000-8000-000000000001', Pipeline: pauseStep.name, DataFactory: 'adf-test' },
    };
    const url = expression(web.typeProperties.url, ctx) as string;
    expect(url).toBe(`${stack.host.url}/api/pauses`);
    const body = JSON.parse(expression(web.typeProperties.body, ctx) as string);
    const created = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-functions-key': 'test-key' }, body: JSON.stringify(body) });
    const pause = (await created.json()) as { pauseId: string; token: string };
    expect(created.status).toBe(201);

    const approved = await stack.call('POST', '/restart', { token: pause.token, decision: 'approve' }, JSON_ACCEPT);
    expect(approved.status).toBe(200);
    const run = stack.emulator.runs().find((r) => r.pipelineName === continuation.name);
    expect(run?.parameters).toEqual({ loadDate: '2026-02-28', sourceRunId: ctx.system.RunId, pauseId: pause.pauseId });

    const read = activity(continuation, 'Read pause data');
    const cctx: Ctx = { parameters: { ...defaults(continuation), ...run!.parameters, conductorBaseUrl: stack.host.url }, system: { RunId: run!.runId, Pipeline: continuation.name, DataFactory: 'adf-test' } };
    expect(read.typeProperties.method).toBe('GET');
    const got = await fetch(expression(read.typeProperties.url, cctx) as string, { headers: { 'x-functions-key': 'from-key-vault' } });
    expect(got.status).toBe(200);
    cctx.outputs = { 'Read pause data': await got.json() };
    const forEach = activity(continuation, 'Load each approved table');
    expect(expression(forEach.typeProperties.items, cctx)).toEqual(['sales', 'customers']);
    expect(evaluate("activity('Read pause data').output.data.loadDate", cctx)).toBe('2026-02-28');
    expect(evaluate("activity('Read pause data').output.data.sourceRunId", cctx)).toBe(ctx.system.RunId);
  });
});
