import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EnqueueRequest } from '../../../src/functions/queues';

interface Expression {
  value: string;
  type: 'Expression';
}
interface Activity {
  name: string;
  type: string;
  typeProperties: Record<string, unknown> & { url: Expression; body: Expression; headers: Record<string, string | Expression> };
}

const template = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'templates', 'adf', 'enqueue-job.json'), 'utf8')) as {
  properties: { parameters: Record<string, { type: string; defaultValue?: unknown }>; activities: Activity[] };
};

/** Evaluates the few ADF expression forms the template uses: 'strings', concat(…), string(…), pipeline().parameters.x. */
function evaluate(expr: Expression, parameters: Record<string, unknown>): unknown {
  expect(expr.value.startsWith('@')).toBe(true);
  const src = expr.value.slice(1);
  let i = 0;
  const skipSpaces = () => {
    while (src[i] === ' ') i++;
  };
  const term = (): unknown => {
    skipSpaces();
    if (src[i] === "'") {
      let out = '';
      for (i++; !(src[i] === "'" && src[i + 1] !== "'"); i++) out += src[i] === "'" ? src[++i] : src[i];
      i++;
      return out;
    }
    const ref = /^pipeline\(\)\.parameters\.(\w+)/.exec(src.slice(i));
    if (ref) {
      i += ref[0].length;
      return parameters[ref[1]!];
    }
    const fn = /^(\w+)\(/.exec(src.slice(i));
    if (!fn) throw new Error(`unsupported expression at ${i}: ${src.slice(i)}`);
    i += fn[0].length;
    const args: unknown[] = [];
    for (skipSpaces(); src[i] !== ')'; skipSpaces()) {
      args.push(term());
      skipSpaces();
      if (src[i] === ',') i++;
    }
    i++;
    if (fn[1] === 'concat') return args.join('');
    if (fn[1] === 'string') return typeof args[0] === 'string' ? args[0] : JSON.stringify(args[0]);
    throw new Error(`unsupported function ${fn[1]}`);
  };
  const value = term();
  expect(i).toBe(src.length);
  return value;
}

describe('templates/adf/enqueue-job.json', () => {
  const web = template.properties.activities.find((a) => a.type === 'WebActivity')!;
  const parameters = {
    ...Object.fromEntries(Object.entries(template.properties.parameters).map(([k, v]) => [k, v.defaultValue])),
    conductorUrl: 'https://conductor.example.net',
    jobParameters: { region: 'EU', full: true },
  };

  it('when its Web activity runs, then it POSTs to EnqueueJob with the function key header and does not follow the 202', () => {
    expect(web.typeProperties.method).toBe('POST');
    expect(web.typeProperties.turnOffAsync).toBe(true);
    expect(evaluate(web.typeProperties.url, parameters)).toBe('https://conductor.example.net/api/queues/catalog-import/jobs');
    expect(web.typeProperties.headers['x-functions-key']).toEqual({ value: '@pipeline().parameters.functionKey', type: 'Expression' });
    expect(template.properties.parameters.functionKey?.type).toBe('securestring');
  });

  it('when its body expression is evaluated, then it is a valid EnqueueJob request', () => {
    const body = JSON.parse(String(evaluate(web.typeProperties.body, parameters))) as unknown;
    const parsed = EnqueueRequest.safeParse(body);
    expect(parsed.success).toBe(true);
    expect(parsed.data).toEqual({ pipeline: 'pl_import_catalog', parameters: { region: 'EU', full: true }, timeoutSeconds: 3600 });
  });
});
