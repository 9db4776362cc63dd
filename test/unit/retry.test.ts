import { Conflict, NotFound } from '../../src/core/errors';
import { ignore, jitterMs, retryOnConflict } from '../../src/core/retry';
import { unitDeps } from '../support/fake-factory';

describe('retryOnConflict (the one ETag transition loop)', () => {
  it('when the write loses twice, then it re-reads and re-decides, and the third decision wins', async () => {
    const d = unitDeps();
    const reads: number[] = [];
    let version = 0;
    const result = await retryOnConflict(
      d,
      async () => {
        reads.push(version);
        return version;
      },
      async (seen) => {
        if (version++ < 2) throw new Conflict('stale etag');
        return `decided on ${seen}`;
      },
    );
    expect(result).toBe('decided on 2');
    expect(reads).toEqual([0, 1, 2]);
  });

  it('when every write loses, then it gives up after the bound and rethrows the Conflict', async () => {
    const d = unitDeps();
    let decisions = 0;
    await expect(retryOnConflict(d, async () => 1, async () => { decisions++; throw new Conflict('always'); }, 4)).rejects.toBeInstanceOf(Conflict);
    expect(decisions).toBe(4);
  });

  it('when the decision fails otherwise, then it is not retried', async () => {
    const d = unitDeps();
    let decisions = 0;
    await expect(retryOnConflict(d, async () => 1, async () => { decisions++; throw new NotFound('gone'); })).rejects.toBeInstanceOf(NotFound);
    expect(decisions).toBe(1);
  });

  it('when losers back off, then their waits are spread (jitter) and bounded', () => {
    const d = unitDeps();
    const waits = Array.from({ length: 50 }, () => jitterMs(d, 6));
    expect(Math.max(...waits)).toBeLessThanOrEqual(200);
    expect(new Set(waits).size).toBeGreaterThan(10);
  });

  it('when ignore names the kinds to swallow, then others still throw', () => {
    expect(ignore(NotFound, Conflict)(new Conflict('x'))).toBeUndefined();
    expect(() => ignore(NotFound)(new Error('boom'))).toThrow('boom');
  });
});
