import { randomBytes } from 'node:crypto';
import { defaultCoreSettings, type Deps } from '../../../src/core/deps';
import type { Ids, Table, TableName } from '../../../src/core/ports';
import { MustacheMailTemplates } from '../../../src/http/templates';
import { FakeFactory } from '../../support/fake-factory';
import { FixedClock } from '../../support/fixed-clock';
import { InMemoryTables } from '../../support/in-memory-tables';
import { RecordingCallbacks, RecordingLogger, RecordingMailer } from '../../support/recorders';

class SeqIds implements Ids {
  private n = 0;
  newId(): string {
    return `id-${++this.n}`;
  }
  randomBytes(n: number): Buffer {
    return randomBytes(n);
  }
}

/** Counts `scanAll` per table, to prove a step never scans a table it must not. */
export class CountingTables extends InMemoryTables {
  readonly scans = new Map<string, number>();
  override table(name: TableName): Table {
    const t = super.table(name);
    const scans = this.scans;
    return new Proxy(t, {
      get(target, prop, receiver) {
        if (prop === 'scanAll' || prop === 'pages') scans.set(name, (scans.get(name) ?? 0) + 1);
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  }
}

export interface UnitWorld {
  deps: Deps;
  clock: FixedClock;
  factory: FakeFactory;
  mailer: RecordingMailer;
  log: RecordingLogger;
  tables: CountingTables;
}

/** The pause tests' world: only `pipelines` exist, run ids are `run-1`, `run-2`, …, and a throttled start says 7 s. */
export function unitWorld(pipelines: string[] = ['pl_continue', 'pl_on_reject']): UnitWorld {
  const clock = new FixedClock('2026-03-01T10:15:00.000Z');
  const factory = new FakeFactory(clock, pipelines);
  factory.throttleRetryAfterSeconds = 7;
  const mailer = new RecordingMailer();
  const log = new RecordingLogger();
  const tables = new CountingTables();
  const deps: Deps = {
    tables,
    factory,
    mailer,
    callbacks: new RecordingCallbacks(),
    templates: new MustacheMailTemplates(),
    clock,
    log,
    ids: new SeqIds(),
    sleep: async (ms) => clock.advance(ms),
    settings: {
      ...defaultCoreSettings,
      defaultFactory: { subscriptionId: '00000000-0000-0000-0000-000000000000', resourceGroup: 'rg', factory: 'adf-unit' },
      armWritesPerSecond: 1000,
      armWriteBurst: 1000,
      reconcileGraceSeconds: 30,
    },
  };
  return { deps, clock, factory, mailer, log, tables };
}

export const BASE = 'https://conductor.example.com';

const ALL_TABLES: TableName[] = ['Runs', 'ActiveRuns', 'Pauses', 'PauseExpiry', 'Executions', 'ActiveExecutions', 'Metadata', 'Queues', 'ActiveQueues', 'Idempotency', 'Sweep'];

/** Every row of every table, as `table/PK/RK` → props (for "nothing was stored" and secret scans). */
export async function everyRow(tables: InMemoryTables): Promise<Map<string, Record<string, unknown>>> {
  const out = new Map<string, Record<string, unknown>>();
  for (const name of ALL_TABLES) for (const r of await tables.table(name).scanAll()) out.set(`${name}/${r.partitionKey}/${r.rowKey}`, r.props);
  return out;
}

/** Undoes Mustache's HTML escaping, to find a value in rendered HTML. */
export function unescapeHtml(html: string): string {
  const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"' };
  return html.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot);/gi, (_, e: string) =>
    e[0] === '#' ? String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10)) : (named[e] ?? ''),
  );
}

/** The error a promise rejects with, which must be a `kind` (a resolved promise fails the test). */
export async function rejection<E extends Error>(p: Promise<unknown>, kind: new (...a: never[]) => E): Promise<E> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  if (!(e instanceof kind)) throw new Error(`expected a ${kind.name}, got ${String(e)}`);
  return e;
}
