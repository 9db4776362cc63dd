import http from 'node:http';
import { HttpRequest, HttpResponse, InvocationContext, type HttpResponseInit, type Timer } from '@azure/functions';
import type { Deps } from '../../src/core/deps';
import { contextLogger } from '../../src/adapters/system';
import { functions } from '../../src/functions/all';
import type { HttpFunction } from '../../src/functions/define';
import { problem, problemResponse } from '../../src/http/problem';
import { scheduleTimer, type TimerSchedule } from './timer-schedule';

export interface LocalHostOptions {
  deps: Deps;
  port?: number;
  host?: string;
  /** App settings used to resolve `%NAME%` schedules. */
  settings?: Record<string, string | undefined>;
  /** Runs the timers on their schedules (default true). */
  timers?: boolean;
  /** Log each request line. */
  verbose?: boolean;
  /** Where function logs go (default: warnings and errors to the console). */
  onLog?: (functionName: string, level: string, message: string) => void;
}

export interface LocalHost {
  url: string;
  port: number;
  /** Runs the Sweep now (waits for a pass already running). */
  runTimer(name: string): Promise<void>;
  close(): Promise<void>;
}

interface Route {
  fn: HttpFunction;
  pattern: RegExp;
  names: string[];
}

function compile(fn: HttpFunction): Route {
  const names: string[] = [];
  const src = fn.route
    .split('/')
    .map((seg: string) => {
      const m = /^\{(\w+)(\?)?\}$/.exec(seg);
      if (!m) return `/${seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`;
      names.push(m[1] as string);
      return m[2] ? '(?:/([^/]+))?' : '/([^/]+)';
    })
    .join('');
  return { fn, pattern: new RegExp(`^/api${src}/?$`, 'i'), names };
}

const resolveSetting = (schedule: string, settings: Record<string, string | undefined>) =>
  schedule.replace(/%(\w+)%/g, (_, k: string) => settings[k] ?? (k === 'SWEEP_SCHEDULE' ? '*/30 * * * * *' : ''));

/** The request's absolute URL; a Host header that is not a host falls back to the listening address. */
function requestUrl(path: string, host: string | undefined): URL | undefined {
  for (const base of [`http://${host ?? '127.0.0.1'}`, 'http://127.0.0.1']) {
    try {
      return new URL(path, base);
    } catch {
      // try the next base
    }
  }
  return undefined;
}

/** decodeURIComponent, or undefined for malformed percent-encoding (`%E0%A4%A`). */
export function decodeSegment(v: string): string | undefined {
  try {
    return decodeURIComponent(v);
  } catch {
    return undefined;
  }
}

async function send(res: http.ServerResponse, init: HttpResponseInit | HttpResponse, head: boolean) {
  const r = init instanceof HttpResponse ? init : new HttpResponse(init);
  const body = Buffer.from(await r.arrayBuffer());
  const headers: Record<string, string> = {};
  r.headers.forEach((v, k) => (headers[k] = v));
  headers['content-length'] = String(body.length);
  res.writeHead(r.status, headers);
  res.end(head ? undefined : body);
}

/**
 * Serves the same handlers as the Functions host on http://127.0.0.1:7071/api/... and runs the timers.
 * Like `func start`, it does not check function keys.
 */
export async function startLocalHost(opts: LocalHostOptions): Promise<LocalHost> {
  const routes = functions.filter((f): f is HttpFunction => f.kind === 'http').map(compile);
  const depsFor = (ctx: InvocationContext): Deps => ({ ...opts.deps, log: contextLogger(ctx) });
  const handlers = new Map(routes.map((r) => [r.fn.name, r.fn.make(depsFor)]));
  let invocation = 0;
  const ctxFor = (name: string) =>
    new InvocationContext({
      invocationId: `local-${++invocation}`,
      functionName: name,
      logHandler: (level, ...args) => {
        const message = args.map(String).join(' ');
        if (opts.onLog) opts.onLog(name, level, message);
        else if (level === 'error' || level === 'warning' || opts.verbose) console.log(`[${name}] ${level}: ${message}`);
      },
    });

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        try {
          const url = requestUrl(req.url ?? '/', req.headers.host);
          if (!url) return void (await send(res, problemResponse(problem(400, 'MalformedUrl', 'The request URL is not valid.')), false));
          const method = (req.method ?? 'GET').toUpperCase();
          const matches = routes.map((r) => ({ r, m: r.pattern.exec(url.pathname) })).filter((x) => x.m);
          if (matches.length === 0) return void (await send(res, problemResponse(problem(404, 'RouteNotFound', `No route ${url.pathname}`)), false));
          const hit = matches.find((x) => x.r.fn.methods.includes(method as never) || (method === 'HEAD' && x.r.fn.methods.includes('GET')));
          if (!hit) return void (await send(res, problemResponse(problem(405, 'MethodNotAllowed', `${method} is not allowed here`)), false));
          const params: Record<string, string> = {};
          for (const [i, n] of hit.r.names.entries()) {
            const v = hit.m?.[i + 1];
            if (v === undefined) continue;
            const decoded = decodeSegment(v);
            // Like the Functions host, a segment that is not valid percent-encoding is the caller's mistake.
            if (decoded === undefined) return void (await send(res, problemResponse(problem(400, 'MalformedUrl', `The path segment for '${n}' is not valid percent-encoding.`)), false));
            params[n] = decoded;
          }
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
          const body = Buffer.concat(chunks);
          const request = new HttpRequest({
            method,
            url: url.toString(),
            headers,
            query: Object.fromEntries(url.searchParams),
            params,
            ...(body.length && method !== 'GET' && method !== 'HEAD' ? { body: { bytes: body } } : {}),
          });
          const ctx = ctxFor(hit.r.fn.name);
          const handler = handlers.get(hit.r.fn.name);
          const out = await handler!(request, ctx);
          if (opts.verbose) console.log(`${method} ${url.pathname} -> ${out instanceof HttpResponse ? out.status : (out.status ?? 200)}`);
          await send(res, out ?? { status: 204 }, method === 'HEAD');
        } catch (e) {
          console.error('local host error', e);
          if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/problem+json' });
          res.end(JSON.stringify({ status: 500, code: 'InternalError', title: 'Internal Server Error', detail: 'local host error' }));
        }
      })();
    });
  });
  server.keepAliveTimeout = 5000;

  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 7071, opts.host ?? '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });

  // Timers: a singleton per host, like the Functions host's timer lock: passes never overlap.
  const timers = functions.filter((f) => f.kind === 'timer');
  const running = new Map<string, Promise<void>>();
  const fire = (name: string): Promise<void> => {
    const existing = running.get(name);
    if (existing) return existing;
    const t = timers.find((f) => f.name === name);
    if (!t) return Promise.reject(new Error(`no timer ${name}`));
    const handler = t.make(depsFor);
    const timer: Timer = { isPastDue: false, schedule: { adjustForDST: false }, scheduleStatus: { last: '', next: '', lastUpdated: '' } };
    const p = handler(timer, ctxFor(name))
      .catch((e: unknown) => console.error(`[${name}] failed:`, (e as Error).message))
      .finally(() => running.delete(name));
    running.set(name, p);
    return p;
  };
  const schedules: TimerSchedule[] = [];
  if (opts.timers ?? true) {
    try {
      for (const t of timers) schedules.push(scheduleTimer(resolveSetting(t.schedule, opts.settings ?? process.env), () => void fire(t.name)));
    } catch (e) {
      // A bad schedule fails the start, and leaves nothing listening or ticking.
      schedules.forEach((s) => s.stop());
      await new Promise<void>((r) => server.close(() => r()));
      throw e;
    }
  }

  return {
    url: `http://${opts.host ?? '127.0.0.1'}:${port}`,
    port,
    runTimer: fire,
    close: async () => {
      schedules.forEach((s) => s.stop());
      await Promise.allSettled([...running.values()]);
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
