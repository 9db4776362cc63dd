/**
 * A counting decorator of the Tables port: every call of a Table method is one operation, named
 * `<table>.<method>`. A method that returns an async iterable (`pages()`) counts one operation per page,
 * since each page is one storage request. The decorator wraps whatever methods the port has, so a method
 * added to the port later is counted too.
 */
import type { Table, TableName, Tables } from '../src/core/ports';

export class OpCounter {
  private readonly counts = new Map<string, number>();

  add(key: string, n = 1): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + n);
  }

  total(): number {
    let sum = 0;
    for (const n of this.counts.values()) sum += n;
    return sum;
  }

  snapshot(): Map<string, number> {
    return new Map(this.counts);
  }

  /** Operations since `before`, by key (zeros left out), and their total. */
  since(before: Map<string, number>): { total: number; byOp: Record<string, number> } {
    const byOp: Record<string, number> = {};
    let total = 0;
    for (const [key, n] of this.counts) {
      const d = n - (before.get(key) ?? 0);
      if (d > 0) {
        byOp[key] = d;
        total += d;
      }
    }
    return { total, byOp: Object.fromEntries(Object.entries(byOp).sort(([, a], [, b]) => b - a)) };
  }
}

const isAsyncIterable = (v: unknown): v is AsyncIterable<unknown> =>
  typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then !== 'function' &&
  typeof (v as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function';

async function* countEach<T>(source: AsyncIterable<T>, count: () => void): AsyncIterable<T> {
  for await (const item of source) {
    count();
    yield item;
  }
}

function countingTable(inner: Table, name: string, counter: OpCounter): Table {
  return new Proxy(inner, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      const key = `${name}.${String(prop)}`;
      return (...args: unknown[]) => {
        const result: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (isAsyncIterable(result)) return countEach(result, () => counter.add(key));
        counter.add(key);
        return result;
      };
    },
  });
}

export function countingTables(inner: Tables, counter: OpCounter): Tables {
  const wrapped = new Map<TableName, Table>();
  return {
    table(name: TableName): Table {
      let t = wrapped.get(name);
      if (!t) wrapped.set(name, (t = countingTable(inner.table(name), name, counter)));
      return t;
    },
  };
}
