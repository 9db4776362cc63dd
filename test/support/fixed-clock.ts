import type { Clock } from '../../src/core/ports';

/** A clock that moves only when told to (`advance`, or `sleep` in the unit deps). */
export class FixedClock implements Clock {
  private t: number;
  constructor(start: number | string | Date = '2030-01-01T00:00:00.000Z') {
    this.t = typeof start === 'number' ? start : new Date(start).getTime();
  }
  now(): Date {
    return new Date(this.t);
  }
  advance(ms: number): void {
    this.t += ms;
  }
}
