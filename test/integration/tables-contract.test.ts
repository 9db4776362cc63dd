import { Conflict, NotFound } from '../../src/core/errors';
import type { Tables } from '../../src/core/ports';
import { InMemoryTables } from '../support/in-memory-tables';
import { azuriteTables } from '../support/storage';

/** One contract, two implementations: the in-memory double cannot drift from Azurite. */
const implementations: Array<[string, () => Tables]> = [
  ['InMemoryTables', () => new InMemoryTables()],
  ['TableStorageTables on Azurite', () => azuriteTables().tables],
];

describe.each(implementations)('Table contract: %s', (_name, make) => {
  let tables: Tables;
  beforeEach(() => {
    tables = make();
  });

  it('when a row is inserted, then get returns its props and an etag', async () => {
    const t = tables.table('Runs');
    const row = await t.insert('p', 'r', { a: 'x', n: 3, b: true });
    const got = await t.get('p', 'r');
    expect(got?.props).toEqual({ a: 'x', n: 3, b: true });
    expect(got?.etag).toBe(row.etag);
  });

  it.each(['a/b', 'a\\b', 'a#b', 'a?b', 'a\u0000b', '\ud800', 'x'.repeat(513), ''])('when a key Table Storage cannot hold (%j) is used, then reads find nothing and writes refuse it, quickly', async (bad) => {
    const t = tables.table('Runs');
    const t0 = Date.now();
    expect(await t.get(bad, 'r')).toBeUndefined();
    expect(await t.get('p', bad)).toBeUndefined();
    expect(await t.query(bad)).toEqual([]);
    await expect(t.insert('p', bad, { a: 'x' })).rejects.toThrow(/not a valid table key/);
    await expect(t.transact('p', [{ kind: 'insert', rowKey: bad, props: {} }])).rejects.toThrow(/not a valid table key/);
    expect(Date.now() - t0).toBeLessThan(2000); // never a retry loop against the service
  });

  it('when values carry U+2028 and U+2029, then transactions and single writes keep them exactly, and later transactions still work (fuzz finding: raw, they broke Azurite)', async () => {
    const t = tables.table('Queues');
    const v = 'a\u2028b\u2029c';
    await t.transact('p', [{ kind: 'insert', rowKey: 'x1', props: { v, j: JSON.stringify({ p: v }) } }]);
    await t.insert('p', 'x2', { v });
    await t.transact('p', [{ kind: 'insert', rowKey: 'x3', props: { v: 'plain' } }]);
    expect((await t.get('p', 'x1'))?.props).toEqual({ v, j: JSON.stringify({ p: v }) });
    expect((await t.get('p', 'x2'))?.props.v).toBe(v);
    expect((await t.get('p', 'x3'))?.props.v).toBe('plain');
  });

  it('when a key is inserted twice, then the second insert is a Conflict', async () => {
    const t = tables.table('Runs');
    await t.insert('p', 'dup', { a: '1' });
    await expect(t.insert('p', 'dup', { a: '2' })).rejects.toBeInstanceOf(Conflict);
    expect((await t.get('p', 'dup'))?.props.a).toBe('1');
  });

  it('when a row is missing, then get is undefined and update/delete are NotFound', async () => {
    const t = tables.table('Runs');
    expect(await t.get('p', 'none')).toBeUndefined();
    await expect(t.update('p', 'none', { a: '1' }, 'W/"x"')).rejects.toBeInstanceOf(NotFound);
    await expect(t.delete('p', 'none', 'W/"x"')).rejects.toBeInstanceOf(NotFound);
  });

  it('when an update carries a stale etag, then it is a Conflict and the row is unchanged', async () => {
    const t = tables.table('Runs');
    const v1 = await t.insert('p', 'u', { s: 'a' });
    const v2 = await t.update('p', 'u', { s: 'b' }, v1.etag);
    expect(v2.etag).not.toBe(v1.etag);
    await expect(t.update('p', 'u', { s: 'c' }, v1.etag)).rejects.toBeInstanceOf(Conflict);
    await expect(t.delete('p', 'u', v1.etag)).rejects.toBeInstanceOf(Conflict);
    expect((await t.get('p', 'u'))?.props).toEqual({ s: 'b' });
  });

  it('when an update replaces props, then removed props are gone', async () => {
    const t = tables.table('Runs');
    const v1 = await t.insert('p', 'rep', { a: '1', b: '2' });
    await t.update('p', 'rep', { a: '3' }, v1.etag);
    expect((await t.get('p', 'rep'))?.props).toEqual({ a: '3' });
  });

  it('when a partition is queried, then rows come in RowKey order within the range only', async () => {
    const t = tables.table('Queues');
    for (const rk of ['job-003', 'head', 'job-001', 'job-002']) await t.insert('q1', rk, { v: rk });
    await t.insert('q2', 'job-000', { v: 'other' });
    const rows = await t.query('q1', { from: 'job-', to: 'job.' });
    expect(rows.map((r) => r.rowKey)).toEqual(['job-001', 'job-002', 'job-003']);
    expect((await t.query('q1', { from: 'job-', to: 'job.', limit: 2 })).length).toBe(2);
    expect((await t.query('q1')).map((r) => r.rowKey)).toEqual(['head', 'job-001', 'job-002', 'job-003']);
  });

  it('when a transaction has a stale etag, then none of its operations apply', async () => {
    const t = tables.table('Executions');
    const head = await t.insert('e', 'head', { n: 1 });
    await t.update('e', 'head', { n: 2 }, head.etag);
    await expect(
      t.transact('e', [
        { kind: 'insert', rowKey: 'w1', props: { s: 'x' } },
        { kind: 'update', rowKey: 'head', props: { n: 3 }, etag: head.etag },
      ]),
    ).rejects.toBeInstanceOf(Conflict);
    expect(await t.get('e', 'w1')).toBeUndefined();
    expect((await t.get('e', 'head'))?.props.n).toBe(2);
  });

  it('when a transaction is valid, then all its operations apply', async () => {
    const t = tables.table('Executions');
    const head = await t.insert('e2', 'head', { n: 1 });
    await t.transact('e2', [
      { kind: 'insert', rowKey: 'w1', props: { s: 'x' } },
      { kind: 'update', rowKey: 'head', props: { n: 9 }, etag: head.etag },
    ]);
    expect((await t.get('e2', 'w1'))?.props.s).toBe('x');
    expect((await t.get('e2', 'head'))?.props.n).toBe(9);
  });

  it('when the table is scanned, then every row of every partition is listed', async () => {
    const t = tables.table('ActiveRuns');
    await t.insert('f1', 'a', { x: 1 });
    await t.insert('f2', 'b', { x: 2 });
    const keys = (await t.scanAll()).map((r) => `${r.partitionKey}/${r.rowKey}`).sort();
    expect(keys).toEqual(['f1/a', 'f2/b']);
  });

  it('when 20 writers race one etag, then exactly one wins', async () => {
    const t = tables.table('Pauses');
    const v1 = await t.insert('race', 'r', { winner: '' });
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => t.update('race', 'r', { winner: String(i) }, v1.etag)),
    );
    expect(results.filter((r) => r.status === 'fulfilled').length).toBe(1);
    expect(results.filter((r) => r.status === 'rejected' && r.reason instanceof Conflict).length).toBe(19);
  });

  it('when a string of 30,000 characters is stored, then it comes back whole', async () => {
    const t = tables.table('Pauses');
    const big = 'é'.repeat(30_000);
    await t.insert('big', 'r', { d0: big });
    expect((await t.get('big', 'r'))?.props.d0).toBe(big);
  });
});
