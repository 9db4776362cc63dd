import { Cron } from 'croner';

export interface TimerSchedule {
  readonly expression: string;
  /** The next firing, or null when the expression never fires again. */
  nextRun(): Date | null;
  stop(): void;
}

/**
 * Calls `onTick` on an NCRONTAB expression, the way the Functions host runs a timer trigger:
 * six fields with seconds (`*\/30 * * * * *`), in UTC, day of month AND day of week.
 *
 * croner never hands setTimeout more than 30 s at a time, so a firing months away (`0 0 0 29 2 *`)
 * cannot overflow Node's 2^31-1 ms limit, above which the delay becomes 1 ms and the timer fires back to back.
 */
export function scheduleTimer(expression: string, onTick: () => void): TimerSchedule {
  let job: Cron;
  try {
    job = new Cron(expression, { mode: '6-part', timezone: 'UTC', domAndDow: true }, onTick);
  } catch (e) {
    throw new Error(`bad NCRONTAB schedule '${expression}' (six fields, with seconds): ${(e as Error).message}`);
  }
  return {
    expression,
    nextRun: () => job.nextRun(),
    stop: () => job.stop(),
  };
}
