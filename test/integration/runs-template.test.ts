import fs from 'node:fs';
import path from 'node:path';
import { startTestStack, type TestStack } from '../support/test-stack';

/**
 * Just enough of the ADF expression language to run the template's Web activity:
 * string literals, concat(), string(), coalesce(), pipeline().parameters.x and pipeline().RunId.
 */
function evaluate(expression: string, ctx: { parameters: Record<string, unknown>; runId: string }): unknown {
  if (!expression.startsWith('@')) return expression;
  const src = expression.slice(1);
  let i = 0;
  const skip = () => {
    while (src[i] === ' ') i++;
  };
  const expect = (c: string) => {
    skip();
    if (src[i] !== c) throw new Error(`expected ${c} at ${i} in ${src}`);
    i++;
  };
  const value = (): unknown => {
    skip();
    if (src[i] === "'") {
      let out = '';
      for (i++; ; i++) {
        if (src[i] === "'" && src[i + 1] === "'") out += src[i++];
        else if (src[i] === "'") break;
        else out += src[i];
      }
      i++;
      return out;
    }
    const name = /^[A-Za-z]+/.exec(src.slice(i))?.[0] ?? '';
    i += name.length;
    expect('(');
    const args: unknown[] = [];
    skip();
    while (src[i] !== ')') {
      args.push(value());
      skip();
      if (src[i] === ',') i++;
    }
    expect(')');
    if (name === 'concat') return args.map(String).join('');
    if (name === 'string') return typeof args[0] === 'string' ? args[0] : JSON.stringify(args[0]);
    if (name === 'coalesce') return args.find((a) => a !== null && a !== undefined);
    if (name !== 'pipeline') throw new Error(`unsupported function ${name}`);
    const prop = /^\.(RunId|parameters\.(\w+))/.exec(src.slice(i));
    if (!prop) throw new Error(`unsupported pipeline() property at ${i}`);
    i += prop[0].length;
    return prop[1] === 'RunId' ? ctx.runId : ctx.parameters[prop[2]!];
  };
  const result = value();
  skip();
  if (i !== src.length) throw new Error(`trailing input in ${src}`);
  return result;
}

type Expr = string | { value: string; type: 'Expression' };
const text = (e: Expr) => (typeof e === 'string' ? e : e.value);

const template = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'templates', 'adf', 'fire-and-forget.json'), 'utf8')) as {
  name: string;
  properties: {
    parameters: Record<string, { type: string; defaultValue?: unknown }>;
    activities: Array<{ name: string; type: string; typeProperties: { method?: string; turnOffAsync?: boolean; url?: Expr; headers?: Record<string, Expr>; body?: Expr } }>;
  };
};

describe('templates/adf/fire-and-forget.json', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ scenario: { pipelines: { pipeline_Y: { durationMs: 100 } }, unknownPipelines: 'notFound' } });
  });
  afterAll(() => stack.close());

  it('when imported, then pipeline_X has one Web activity that POSTs to /api/runs with the function key and does not wait', () => {
    expect(template.name).toBe('pipeline_X');
    const web = template.properties.activities.filter((a) => a.type === 'WebActivity');
    expect(web).toHaveLength(1);
    expect(web[0]!.typeProperties).toMatchObject({ method: 'POST', turnOffAsync: true });
    expect(Object.keys(web[0]!.typeProperties.headers ?? {})).toEqual(expect.arrayContaining(['x-functions-key', 'Idempotency-Key']));
    expect(template.properties.parameters.functionKey?.type).toBe('securestring');
  });

  it('when its Web activity runs against the app, then pipeline_Y starts once, even if the activity is retried', async () => {
    const [web] = template.properties.activities.filter((a) => a.type === 'WebActivity');
    const parameters = {
      ...Object.fromEntries(Object.entries(template.properties.parameters).map(([k, v]) => [k, v.defaultValue])),
      conductorBaseUrl: stack.host.url,
      functionKey: 'local-host-ignores-keys',
    };
    const ctx = { parameters, runId: 'adf-run-of-pipeline-x' };
    const url = String(evaluate(text(web!.typeProperties.url!), ctx));
    const headers = Object.fromEntries(Object.entries(web!.typeProperties.headers ?? {}).map(([k, v]) => [k, String(evaluate(text(v), ctx))]));
    const body = String(evaluate(text(web!.typeProperties.body!), ctx));
    expect(url).toBe(`${stack.api}/runs`);
    expect(JSON.parse(body)).toEqual({ pipeline: 'pipeline_Y', parameters: { source: 'pipeline_X' } });

    const send = () => fetch(url, { method: 'POST', headers, body });
    const first = await send();
    const retry = await send();
    expect([first.status, retry.status]).toEqual([202, 202]);
    const a = (await first.json()) as { runId: string; statusUrl: string };
    expect(((await retry.json()) as { runId: string }).runId).toBe(a.runId);
    expect(stack.emulator.runs().filter((r) => r.pipelineName === 'pipeline_Y').map((r) => r.runId)).toEqual([a.runId]);
  });
});
