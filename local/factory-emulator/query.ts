/**
 * The factory emulator's queries: `queryPipelineRuns` and `queryActivityruns`, their RunFilterParameters
 * (filters, ordering) and continuation-token paging.
 */
import type { Scenario } from './scenario';
import { badRequest, compare, factoryKeyOf, type PipelineRunJson, type Run } from './model';
import type { FactoryService } from './state';
import { activityRunsOf, pipelineRunJson, type ActivityRunJson, type ActivityView } from './views';

const PAGE_SIZE = 100;

/** A filter operand: text compares case-insensitively, a time compares instants (ISO 8601 values). */
type FilterField<T> = { kind: 'text'; get: (item: T) => string } | { kind: 'time'; get: (item: T) => number | undefined };
type FilterFields<T> = Record<string, FilterField<T>>;
const text = <T>(get: (item: T) => string): FilterField<T> => ({ kind: 'text', get });
const time = <T>(get: (item: T) => number | undefined): FilterField<T> => ({ kind: 'time', get });

const OPERATORS = ['Equals', 'NotEquals', 'In', 'NotIn'];
/** Equals and In select; NotEquals and NotIn exclude. */
const isPositive = (operator: string) => ['equals', 'in'].includes(operator.toLowerCase());

/**
 * `queryPipelineRuns`. The default order (lastUpdated, runId) is read from the factory's index: a
 * `RunGroupId Equals/In` filter looks its groups up, a `PipelineName Equals/In` filter reads those
 * pipelines' change logs, anything else the factory's change log; each from the window's start (or the
 * continuation token) for one page only. An explicit `orderBy` sorts every match in the window.
 */
export function queryPipelineRuns(
  svc: FactoryService, subscriptionId: string, resourceGroup: string, factory: string, body: unknown,
): Page<PipelineRunJson> {
  svc.advance();
  const filter = parseRunFilter(body);
  const predicates = filter.filters.map((f) => compileFilter(f, pipelineRunFields(svc)));
  checkRunGroupFilters(svc.currentScenario, filter);
  const state = svc.existingFactory(factoryKeyOf(subscriptionId, resourceGroup, factory));
  const toJson = (run: Run) => pipelineRunJson(run, svc.isLatest(run));
  const inWindow = (run: Run) => run.lastUpdated >= filter.after && run.lastUpdated <= filter.before;
  const matches = (run: Run) => predicates.every((p) => p(run));
  if (filter.orderBy.length > 0) {
    const all = state ? [...state.runs.values()].filter((run) => inWindow(run) && matches(run)) : [];
    return paginate(all, filter, pipelineRunOrder, toJson);
  }
  const token = filter.continuationToken ? decodeToken(filter.continuationToken) : undefined;
  if (token && !token.k) throw badRequest('The continuation token is not valid.');
  if (!state) return { value: [] };
  const after = token?.k;
  const need = PAGE_SIZE + 1;

  let found: Run[];
  const groups = filter.filters.find((f) => f.operand.toLowerCase() === 'rungroupid' && isPositive(f.operator));
  const pipelines = filter.filters.find((f) => f.operand.toLowerCase() === 'pipelinename' && isPositive(f.operator));
  if (groups) {
    const pastToken = (run: Run) => !after || run.lastUpdated > after[0] || (run.lastUpdated === after[0] && run.runId > after[1]);
    found = [];
    for (const id of new Set(groups.values.map((v) => v.toLowerCase()))) {
      for (const run of state.index.group(id)) if (inWindow(run) && pastToken(run) && matches(run)) found.push(run);
    }
  } else if (pipelines) {
    found = [];
    for (const name of new Set(pipelines.values.map((v) => v.toLowerCase()))) {
      found.push(...(state.index.pipeline(name)?.collect(filter.after, filter.before, after, matches, need) ?? []));
    }
  } else {
    found = state.index.all.collect(filter.after, filter.before, after, matches, need);
  }
  found.sort((a, b) => a.lastUpdated - b.lastUpdated || compare(a.runId, b.runId));
  const page = found.slice(0, PAGE_SIZE);
  const last = page[page.length - 1];
  return {
    value: page.map(toJson),
    ...(found.length > PAGE_SIZE && last ? { continuationToken: encodeToken({ k: [last.lastUpdated, last.runId] }) } : {}),
  };
}

/** With `runGroupIdValues: "one"`, a RunGroupId filter with several values is refused, as ADF was reported to do. */
function checkRunGroupFilters(scenario: Scenario, filter: RunFilter): void {
  if (scenario.runGroupIdValues !== 'one') return;
  for (const f of filter.filters) {
    if (f.operand.toLowerCase() === 'rungroupid' && f.values.length > 1) {
      throw badRequest(`Filter operand '${f.operand}' does not support and array of values. Make sure to provide only one.`);
    }
  }
}

export function queryActivityRuns(svc: FactoryService, run: Run, body: unknown): Page<ActivityRunJson> {
  svc.advance();
  const filter = parseRunFilter(body);
  const predicates = filter.filters.map((f) => compileFilter(f, activityRunFields));
  const matching = activityRunsOf(run).filter(
    (a) => a.lastUpdated >= filter.after && a.lastUpdated <= filter.before && predicates.every((p) => p(a)),
  );
  return paginate(matching, filter, activityRunOrder, (a) => a.json);
}

/** ADF's pipeline-run operands, and only those: there is no RunId operand. */
const pipelineRunFields = (svc: FactoryService): FilterFields<Run> => ({
  PipelineName: text((r) => r.pipelineName),
  Status: text((r) => r.status),
  RunStart: time((r) => r.runStart),
  RunEnd: time((r) => r.runEnd),
  // Every emulated run is started by hand: ADF names the invoker "Manual", and there is no trigger run.
  TriggerName: text(() => 'Manual'),
  TriggerRunTimestamp: time(() => undefined),
  RunGroupId: text((r) => r.runGroupId),
  LatestOnly: text((r) => String(svc.isLatest(r))),
});

const pipelineRunOrder: Ordering<Run> = {
  defaultKey: (r) => [r.lastUpdated, r.runId],
  fields: {
    runstart: (r) => r.runStart,
    runend: (r) => r.runEnd ?? Number.MAX_SAFE_INTEGER,
    pipelinename: (r) => r.pipelineName.toLowerCase(),
    status: (r) => r.status,
    lastupdated: (r) => r.lastUpdated,
  },
  tieBreak: (r) => r.runId,
};

/** ADF's activity-run operands. */
const activityRunFields: FilterFields<ActivityView> = {
  ActivityName: text((a) => a.json.activityName),
  ActivityType: text((a) => a.json.activityType),
  ActivityRunStart: time((a) => a.start),
  ActivityRunEnd: time((a) => a.end),
  Status: text((a) => a.json.status),
};

const activityRunOrder: Ordering<ActivityView> = {
  defaultKey: (a) => [a.start, String(a.index).padStart(6, '0')],
  fields: {
    activityname: (a) => a.json.activityName.toLowerCase(),
    activityrunstart: (a) => a.start,
    activityrunend: (a) => a.end ?? Number.MAX_SAFE_INTEGER,
    status: (a) => a.json.status,
  },
  tieBreak: (a) => String(a.index).padStart(6, '0'),
};

// ---------------------------------------------------------------------------------------------
// RunFilterParameters, ordering and continuation tokens

interface RunFilter {
  after: number;
  before: number;
  continuationToken?: string;
  filters: { operand: string; operator: string; values: string[] }[];
  orderBy: { orderBy: string; order: 'ASC' | 'DESC' }[];
}

export interface Page<T> {
  value: T[];
  continuationToken?: string;
}

interface Ordering<T> {
  /** Default order: a time, then a unique string. Pages continue after the last key (a cursor). */
  defaultKey: (item: T) => [number, string];
  fields: Record<string, (item: T) => number | string>;
  tieBreak: (item: T) => string;
}

function parseTime(value: unknown, name: string): number {
  if (value === undefined || value === null || value === '') throw badRequest(`'${name}' is required.`);
  const ms = typeof value === 'string' ? Date.parse(value) : NaN;
  if (Number.isNaN(ms)) throw badRequest(`'${name}' is not a valid ISO 8601 date-time.`);
  return ms;
}

function parseRunFilter(body: unknown): RunFilter {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('The request body must be a RunFilterParameters object.');
  }
  const b = body as Record<string, unknown>;
  const after = parseTime(b.lastUpdatedAfter, 'lastUpdatedAfter');
  const before = parseTime(b.lastUpdatedBefore, 'lastUpdatedBefore');
  if (after > before) throw badRequest("'lastUpdatedAfter' must not be later than 'lastUpdatedBefore'.");
  const filters: RunFilter['filters'] = [];
  if (b.filters !== undefined && b.filters !== null) {
    if (!Array.isArray(b.filters)) throw badRequest("'filters' must be an array.");
    for (const [i, f] of (b.filters as unknown[]).entries()) {
      const r = (typeof f === 'object' && f !== null ? f : {}) as Record<string, unknown>;
      if (typeof r.operand !== 'string' || typeof r.operator !== 'string' || !Array.isArray(r.values) ||
          !r.values.every((v) => typeof v === 'string')) {
        throw badRequest(`'filters[${i}]' must have operand, operator and string values.`);
      }
      filters.push({ operand: r.operand, operator: r.operator, values: r.values });
    }
  }
  const orderBy: RunFilter['orderBy'] = [];
  if (b.orderBy !== undefined && b.orderBy !== null) {
    if (!Array.isArray(b.orderBy)) throw badRequest("'orderBy' must be an array.");
    for (const [i, o] of (b.orderBy as unknown[]).entries()) {
      const r = (typeof o === 'object' && o !== null ? o : {}) as Record<string, unknown>;
      const order = typeof r.order === 'string' ? r.order.toUpperCase() : '';
      if (typeof r.orderBy !== 'string' || (order !== 'ASC' && order !== 'DESC')) {
        throw badRequest(`'orderBy[${i}]' must have orderBy and order ASC or DESC.`);
      }
      orderBy.push({ orderBy: r.orderBy, order });
    }
  }
  const token = b.continuationToken;
  if (token !== undefined && token !== null && typeof token !== 'string') throw badRequest("'continuationToken' must be a string.");
  return { after, before, filters, orderBy, continuationToken: token ?? undefined };
}

function compileFilter<T>(filter: RunFilter['filters'][number], fields: FilterFields<T>): (item: T) => boolean {
  const name = Object.keys(fields).find((k) => k.toLowerCase() === filter.operand.toLowerCase());
  const field = name === undefined ? undefined : fields[name];
  if (!field) {
    throw badRequest(`The filter operand '${filter.operand}' is not supported. Supported operands: ${Object.keys(fields).join(', ')}.`);
  }
  if (!OPERATORS.some((o) => o.toLowerCase() === filter.operator.toLowerCase())) {
    throw badRequest(`The filter operator '${filter.operator}' is not supported. Supported operators: ${OPERATORS.join(', ')}.`);
  }
  let has: (item: T) => boolean;
  if (field.kind === 'text') {
    const values = new Set(filter.values.map((v) => v.toLowerCase()));
    has = (item) => values.has(field.get(item).toLowerCase());
  } else {
    const values = new Set(filter.values.map((v) => {
      const ms = Date.parse(v);
      if (Number.isNaN(ms)) throw badRequest(`The value '${v}' of filter operand '${name}' is not a valid ISO 8601 date-time.`);
      return ms;
    }));
    has = (item) => {
      const t = field.get(item);
      return t !== undefined && values.has(t);
    };
  }
  return isPositive(filter.operator) ? has : (item) => !has(item);
}


function encodeToken(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

function decodeToken(token: string): { k?: [number, string]; o?: number } {
  try {
    const value = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown;
    if (typeof value === 'object' && value !== null) {
      const v = value as { k?: unknown; o?: unknown };
      if (Array.isArray(v.k) && typeof v.k[0] === 'number' && typeof v.k[1] === 'string') return { k: [v.k[0], v.k[1]] };
      if (typeof v.o === 'number' && Number.isInteger(v.o) && v.o >= 0) return { o: v.o };
    }
  } catch {
    // fall through
  }
  throw badRequest('The continuation token is not valid.');
}

function paginate<T, J>(items: T[], filter: RunFilter, ordering: Ordering<T>, toJson: (item: T) => J): Page<J> {
  const token = filter.continuationToken ? decodeToken(filter.continuationToken) : undefined;
  if (filter.orderBy.length === 0) {
    // Keyset paging: stable even when runs change between pages.
    const keyed = items.map((item) => ({ item, key: ordering.defaultKey(item) }));
    keyed.sort((a, b) => compare(a.key[0], b.key[0]) || compare(a.key[1], b.key[1]));
    let start = 0;
    if (token) {
      if (!token.k) throw badRequest('The continuation token is not valid.');
      const [t, id] = token.k;
      start = keyed.findIndex((e) => e.key[0] > t || (e.key[0] === t && e.key[1] > id));
      if (start < 0) start = keyed.length;
    }
    const page = keyed.slice(start, start + PAGE_SIZE);
    const last = page[page.length - 1];
    const more = start + PAGE_SIZE < keyed.length;
    return {
      value: page.map((e) => toJson(e.item)),
      ...(more && last ? { continuationToken: encodeToken({ k: last.key }) } : {}),
    };
  }
  const keys = filter.orderBy.map((o) => {
    const field = ordering.fields[o.orderBy.toLowerCase()];
    if (!field) throw badRequest(`orderBy '${o.orderBy}' is not supported.`);
    return { field, sign: o.order === 'DESC' ? -1 : 1 };
  });
  const sorted = [...items].sort((a, b) => {
    for (const { field, sign } of keys) {
      const c = compare(field(a), field(b));
      if (c !== 0) return c * sign;
    }
    return compare(ordering.tieBreak(a), ordering.tieBreak(b));
  });
  if (token && token.o === undefined) throw badRequest('The continuation token is not valid.');
  const start = token?.o ?? 0;
  const page = sorted.slice(start, start + PAGE_SIZE);
  const more = start + PAGE_SIZE < sorted.length;
  return {
    value: page.map(toJson),
    ...(more ? { continuationToken: encodeToken({ o: start + PAGE_SIZE }) } : {}),
  };
}
