/**
 * ARM's write budget, shared by every instance. ARM refills 10 writes/s per principal, subscription and
 * region (bucket of 200); a createRun or a cancel spends one. One token bucket per subscription lives in
 * Table Storage. An instance takes half a second's worth of tokens in one conditional write and spends
 * them locally, so the shared row sees about two writes a second however many starts go through it.
 * A 429 empties the bucket for every instance until its Retry-After has passed.
 */
import type { Deps } from '../deps';
import { Conflict, Throttled } from '../errors';
import { ignore, retryOnConflict } from '../retry';
import type { FactoryTarget } from '../ports';
import { RunStore } from './store';

interface Lease {
  tokens: number;
  /** Unspent tokens lapse: they were counted as spent in the shared bucket. */
  until: number;
}

const LEASE_MS = 1000;

export class WritePacer {
  private readonly leases = new Map<string, Lease>();
  private readonly turns = new Map<string, Promise<void>>();

  /** Waits until one ARM write to this subscription is within budget. */
  async take(deps: Deps, subscriptionId: string): Promise<void> {
    const key = subscriptionId.toLowerCase();
    // One taker at a time per subscription in this process: the others spend what it leased.
    const previous = this.turns.get(key) ?? Promise.resolve();
    let done!: () => void;
    const mine = new Promise<void>((r) => (done = r));
    this.turns.set(key, mine);
    await previous;
    try {
      await this.takeOne(deps, key);
    } finally {
      if (this.turns.get(key) === mine) this.turns.delete(key);
      done();
    }
  }

  private async takeOne(deps: Deps, key: string): Promise<void> {
    const store = new RunStore(deps);
    const { armWritesPerSecond: rate, armWriteBurst: burst } = deps.settings;
    for (;;) {
      const now = deps.clock.now().getTime();
      const lease = this.leases.get(key);
      if (lease && lease.tokens >= 1 && lease.until > now) {
        lease.tokens--;
        return;
      }
      const bucket = await store.writeBucket(key);
      if (bucket && bucket.blockedUntil > now) {
        await deps.sleep(bucket.blockedUntil - now);
        continue;
      }
      const tokens = bucket ? Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * rate) : burst;
      if (tokens < 1) {
        await deps.sleep(Math.ceil(((1 - tokens) / rate) * 1000));
        continue;
      }
      const grab = Math.max(1, Math.min(Math.floor(tokens), Math.ceil(rate / 2)));
      try {
        await store.saveWriteBucket(key, { tokens: tokens - grab, at: now, blockedUntil: 0 }, bucket?.etag);
      } catch (e) {
        if (!(e instanceof Conflict)) throw e;
        continue; // another instance took tokens: read again
      }
      this.leases.set(key, { tokens: grab - 1, until: now + LEASE_MS });
      return;
    }
  }

  /** ARM said 429: nobody writes to this subscription before Retry-After. */
  async throttled(deps: Deps, subscriptionId: string, retryAfterSeconds: number): Promise<void> {
    const key = subscriptionId.toLowerCase();
    this.leases.delete(key);
    const store = new RunStore(deps);
    const now = deps.clock.now().getTime();
    const blockedUntil = now + retryAfterSeconds * 1000;
    await retryOnConflict(
      deps,
      () => store.writeBucket(key),
      async (bucket) => {
        if (bucket && bucket.blockedUntil >= blockedUntil) return;
        await store.saveWriteBucket(key, { tokens: 0, at: now, blockedUntil }, bucket?.etag);
        deps.log.warn('ARM throttled writes; pausing them', { retryAfterSeconds });
      },
    ).catch(ignore(Conflict)); // another instance is recording the same 429
  }
}

/** One per process: the leases are this instance's share of the shared bucket. */
export const writePacer = new WritePacer();

/** Cancels a run (an ARM write, so within the shared write budget). Cancelling a finished run is not an error. */
export async function cancelRun(deps: Deps, factory: FactoryTarget, runId: string): Promise<void> {
  await writePacer.take(deps, factory.subscriptionId);
  try {
    await deps.factory.cancel(factory, runId);
  } catch (e) {
    if (e instanceof Throttled) await writePacer.throttled(deps, factory.subscriptionId, e.retryAfter);
    throw e;
  }
}
