/**
 * The one ETag transition loop and the one error filter. Every state change is a conditional write;
 * whoever loses re-reads and re-decides, a bounded number of times, with jittered backoff.
 */
import { Conflict } from './errors';
import type { Ids, Sleep } from './ports';

export interface RetryDeps {
  sleep: Sleep;
  ids: Pick<Ids, 'randomBytes'>;
}

/** Enough for any realistic pile-up on one row; past it the caller's own recovery (next pass, 409) takes over. */
export const CONFLICT_ATTEMPTS = 8;
/** For a row every request of one queue writes (its head): dozens of racing enqueues must all get through. */
export const HOT_ROW_ATTEMPTS = 120;

/**
 * Reads the current state, then decides and writes conditionally. When the write loses (Conflict), it
 * re-reads and re-decides, at most `attempts` times in all, then rethrows the last Conflict. `decide`
 * returns without writing when there is nothing (left) to do.
 */
export async function retryOnConflict<S, R>(deps: RetryDeps, read: () => Promise<S>, decide: (state: S) => Promise<R>, attempts = CONFLICT_ATTEMPTS): Promise<R> {
  for (let attempt = 1; ; attempt++) {
    const state = await read();
    try {
      return await decide(state);
    } catch (e) {
      if (!(e instanceof Conflict) || attempt >= attempts) throw e;
      await deps.sleep(jitterMs(deps, attempt));
    }
  }
}

/** Up to 4·2^attempt ms (capped at 200 ms), spread evenly: losers of one race do not meet again. */
export function jitterMs(deps: RetryDeps, attempt: number): number {
  const unit = deps.ids.randomBytes(2).readUInt16BE(0) / 0xffff;
  return Math.round(unit * Math.min(200, 4 * 2 ** Math.min(attempt, 6)));
}

type ErrorClass = abstract new (...args: never[]) => Error;

/** `.catch(ignore(NotFound, Conflict))`: swallows those kinds, rethrows anything else. */
export const ignore =
  (...kinds: ErrorClass[]) =>
  (e: unknown): undefined => {
    if (!kinds.some((k) => e instanceof k)) throw e;
    return undefined;
  };
