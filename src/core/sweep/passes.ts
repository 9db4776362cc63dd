import { Conflict } from '../errors';
import type { Factory, Props, Table, Tables } from '../ports';
import type { Deps } from '../deps';
import { ignore, retryOnConflict, type RetryDeps } from '../retry';
import { iso } from '../util';
import { runSweep, type SweepReport } from './sweep';

/** What one sweep pass did, as the dashboard shows it. */
export interface SweepPass {
  startedAt: string;
  ms: number;
  /** Every call to ADF during the pass (feed pages, re-checks, starts, cancels, activity errors). */
  armCalls: number;
  active: number;
  changed: number;
  settled: number;
  errors: number;
  /** Set when the pass itself failed (the next one retries); the error's name and message, never a secret. */
  failure?: string;
}

const PARTITION = 'pass';
const LAST = 'last';

/**
 * The last sweep pass (`SweepPasses` table, one row). Each pass replaces it conditionally: a pass that
 * loses the race to a newer one (another instance) keeps the newer one.
 */
export class SweepPassStore {
  private readonly t: Table;
  constructor(private readonly deps: RetryDeps & { tables: Tables }) {
    this.t = deps.tables.table('SweepPasses');
  }

  async last(): Promise<SweepPass | undefined> {
    const r = await this.t.get(PARTITION, LAST);
    return r && passFromProps(r.props);
  }

  async record(pass: SweepPass): Promise<void> {
    const props = passToProps(pass);
    await retryOnConflict(
      this.deps,
      () => this.t.get(PARTITION, LAST),
      async (current) => {
        if (!current) await this.t.insert(PARTITION, LAST, props);
        else if (String(current.props.startedAt) <= pass.startedAt) await this.t.update(PARTITION, LAST, props, current.etag);
      },
      3,
    ).catch(ignore(Conflict));
  }
}

function passToProps(p: SweepPass): Props {
  const { failure, ...rest } = p;
  return { ...rest, ...(failure ? { failure: failure.slice(0, 500) } : {}) };
}

function passFromProps(p: Props): SweepPass {
  const n = (k: string) => Number(p[k] ?? 0);
  return {
    startedAt: String(p.startedAt),
    ms: n('ms'),
    armCalls: n('armCalls'),
    active: n('active'),
    changed: n('changed'),
    settled: n('settled'),
    errors: n('errors'),
    ...(typeof p.failure === 'string' ? { failure: p.failure } : {}),
  };
}

/** The factory port, counting every call made through it (an async iterable counts once per page it yields). */
export function countingFactory(f: Factory): { factory: Factory; calls: () => number } {
  let calls = 0;
  const factory: Factory = {
    startTimeoutSeconds: f.startTimeoutSeconds,
    start: (...a) => (calls++, f.start(...a)),
    getRun: (...a) => (calls++, f.getRun(...a)),
    cancel: (...a) => (calls++, f.cancel(...a)),
    changedRuns: (...a) => (calls++, f.changedRuns(...a)),
    activityErrors: (...a) => (calls++, f.activityErrors(...a)),
    pipelineExists: (...a) => (calls++, f.pipelineExists(...a)),
  };
  return { factory, calls: () => calls };
}

/**
 * One timer pass: `runSweep`, with every ADF call counted, then the pass recorded for the dashboard.
 * A pass that throws is recorded as failed (best effort) and the error goes on to the host.
 */
export async function sweepAndRecord(base: Deps): Promise<SweepReport> {
  const counted = countingFactory(base.factory);
  const deps: Deps = { ...base, factory: counted.factory };
  const startedAt = deps.clock.now();
  const record = (r: Pick<SweepReport, 'active' | 'changed' | 'settled' | 'errors'>, failure?: string) =>
    new SweepPassStore(deps).record({
      startedAt: iso(startedAt),
      ms: deps.clock.now().getTime() - startedAt.getTime(),
      armCalls: counted.calls(),
      active: r.active,
      changed: r.changed,
      settled: r.settled,
      errors: r.errors,
      ...(failure ? { failure } : {}),
    });
  let report: SweepReport;
  try {
    report = await runSweep(deps);
  } catch (e) {
    await record({ active: 0, changed: 0, settled: 0, errors: 1 }, `${(e as Error).name}: ${(e as Error).message}`).catch(() => undefined);
    throw e;
  }
  deps.log.info('sweep pass', { ...report, armCalls: counted.calls() });
  await record(report);
  return report;
}
