import { app, type HttpHandler, type HttpMethod, type InvocationContext, type Timer } from '@azure/functions';
import { appDeps } from '../composition';
import { inFunctionsHost } from '../config';
import type { Deps } from '../core/deps';

export type DepsProvider = (ctx: InvocationContext) => Deps;

export interface HttpFunction {
  kind: 'http';
  name: string;
  route: string;
  methods: HttpMethod[];
  authLevel: 'anonymous' | 'function' | 'admin';
  make(deps: DepsProvider): HttpHandler;
}

export interface TimerFunction {
  kind: 'timer';
  name: string;
  /** NCRONTAB with seconds; `%SETTING%` is resolved from app settings by the host. */
  schedule: string;
  make(deps: DepsProvider): (timer: Timer, ctx: InvocationContext) => Promise<void>;
}

/** Every function, so the local host can serve exactly what the Functions host registers. */
export const functions: Array<HttpFunction | TimerFunction> = [];

const registering = inFunctionsHost();

export function httpFunction(def: Omit<HttpFunction, 'kind'>): HttpFunction {
  const fn: HttpFunction = { kind: 'http', ...def };
  functions.push(fn);
  if (registering) app.http(fn.name, { route: fn.route, methods: fn.methods, authLevel: fn.authLevel, handler: fn.make(appDeps) });
  return fn;
}

export function timerFunction(def: Omit<TimerFunction, 'kind'>): TimerFunction {
  const fn: TimerFunction = { kind: 'timer', ...def };
  functions.push(fn);
  if (registering) app.timer(fn.name, { schedule: fn.schedule, handler: fn.make(appDeps), useMonitor: true });
  return fn;
}
