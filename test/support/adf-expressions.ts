/**
 * Just enough of ADF's expression language for the template tests: literals, function calls
 * (pipeline(), activity(), concat, string, json, union, coalesce) and property paths. A property that is
 * not there throws, so a template reading a field nobody sends fails the test, as it would fail in ADF.
 */
export interface AdfContext {
  parameters: Record<string, unknown>;
  system: Record<string, string>;
  /** What each activity put out; reading another activity's output fails. Absent: any activity outputs a string. */
  outputs?: Record<string, unknown>;
}

/** Parses and runs one expression (the text after '@', or inside '@{…}'). */
export function runExpression(src: string, ctx: AdfContext): unknown {
  let i = 0;
  const skip = () => {
    while (src[i] === ' ' || src[i] === '\n') i++;
  };
  const primary = (): unknown => {
    skip();
    if (src[i] === "'") {
      let out = '';
      for (i++; ; i++) {
        if (i >= src.length) throw new Error(`unterminated string in ${src}`);
        if (src[i] === "'" && src[i + 1] === "'") out += src[i++];
        else if (src[i] === "'") break;
        else out += src[i];
      }
      i++;
      return out;
    }
    const num = /^-?\d+(\.\d+)?/.exec(src.slice(i));
    if (num) {
      i += num[0].length;
      return Number(num[0]);
    }
    const name = /^[A-Za-z_]\w*/.exec(src.slice(i))?.[0];
    if (!name) throw new Error(`unexpected ${src.slice(i)} in ${src}`);
    i += name.length;
    skip();
    if (src[i] !== '(') throw new Error(`expected ( after ${name} in ${src}`);
    i++;
    const args: unknown[] = [];
    skip();
    while (src[i] !== ')') {
      args.push(postfix());
      skip();
      if (src[i] === ',') i++;
      else if (src[i] !== ')') throw new Error(`expected , or ) at ${i} in ${src}`);
      skip();
    }
    i++;
    return call(name, args);
  };
  const call = (name: string, args: unknown[]): unknown => {
    switch (name) {
      case 'pipeline':
        return { parameters: ctx.parameters, ...ctx.system };
      case 'activity': {
        if (!ctx.outputs) return { output: new Proxy({}, { get: () => 'activity-output' }) };
        const a = String(args[0]);
        if (!(a in ctx.outputs)) throw new Error(`activity('${a}') has no output here`);
        return { output: ctx.outputs[a] };
      }
      case 'concat':
        return args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join('');
      case 'string':
        return typeof args[0] === 'string' ? args[0] : JSON.stringify(args[0]);
      case 'json':
        return JSON.parse(String(args[0]));
      case 'union': {
        if (args.every(Array.isArray)) return [...new Set((args as unknown[][]).flat())];
        if (args.every((a) => a !== null && typeof a === 'object' && !Array.isArray(a))) return Object.assign({}, ...(args as object[]));
        throw new Error('union() takes arrays or objects, not a mix');
      }
      case 'coalesce':
        return args.find((a) => a !== null && a !== undefined) ?? null;
      default:
        throw new Error(`function ${name}() is not supported by this test`);
    }
  };
  const postfix = (): unknown => {
    let v = primary();
    for (;;) {
      skip();
      const prop = /^\.([A-Za-z_]\w*)/.exec(src.slice(i));
      if (!prop) return v;
      i += prop[0].length;
      if (v === null || typeof v !== 'object' || !(prop[1]! in v)) throw new Error(`${src.slice(0, i)}: no property ${prop[1]}`);
      v = (v as Record<string, unknown>)[prop[1]!];
    }
  };
  const result = postfix();
  skip();
  if (i !== src.length) throw new Error(`trailing input at ${i} in ${src}`);
  return result;
}

/** An ADF value: `@expr` is evaluated; other text has its `@{expr}` parts interpolated; `@@` is a literal `@`. */
export function evaluateAdf(value: unknown, ctx: AdfContext): unknown {
  const text = value !== null && typeof value === 'object' && (value as { type?: string }).type === 'Expression' ? (value as { value: string }).value : value;
  if (typeof text !== 'string') return text;
  if (text.startsWith('@@')) return text.slice(1);
  if (text.startsWith('@') && !text.startsWith('@{')) return runExpression(text.slice(1), ctx);
  return text.replace(/@\{([^}]+)\}/g, (_, e: string) => {
    const v = runExpression(e, ctx);
    return typeof v === 'string' ? v : JSON.stringify(v);
  });
}
