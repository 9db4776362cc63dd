import { scheduleTimer, type TimerSchedule } from '../../../../local/host/timer-schedule';

describe('scheduleTimer (NCRONTAB with seconds, UTC)', () => {
  let schedule: TimerSchedule | undefined;
  let ticks = 0;
  const tick = () => void ticks++;

  beforeEach(() => {
    ticks = 0;
    jest.useFakeTimers({ now: new Date('2026-03-01T10:15:10.000Z') });
  });
  afterEach(() => {
    schedule?.stop();
    schedule = undefined;
    jest.useRealTimers();
  });

  test('when the schedule is every 30 seconds, then it fires on each half minute and not before', () => {
    schedule = scheduleTimer('*/30 * * * * *', tick);

    expect(schedule.nextRun()).toEqual(new Date('2026-03-01T10:15:30.000Z'));
    jest.advanceTimersByTime(19_900);
    expect(ticks).toBe(0);
    jest.advanceTimersByTime(100);
    expect(ticks).toBe(1);
    jest.advanceTimersByTime(30_000);
    expect(ticks).toBe(2);
  });

  test('when the next firing is years away (29 February), then the timer does not fire within a second nor an hour', () => {
    // About 730 days ahead: a single setTimeout of that delay overflows 2^31-1 ms and Node fires it after 1 ms.
    schedule = scheduleTimer('0 0 0 29 2 *', tick);

    expect(schedule.nextRun()).toEqual(new Date('2028-02-29T00:00:00.000Z'));
    jest.advanceTimersByTime(1_000);
    expect(ticks).toBe(0);
    jest.advanceTimersByTime(3600 * 1000);
    expect(ticks).toBe(0);
  });

  test('when a yearly schedule is months away and the clock reaches it, then it fires once, on time', () => {
    schedule = scheduleTimer('0 0 0 1 1 *', tick);
    expect(schedule.nextRun()).toEqual(new Date('2027-01-01T00:00:00.000Z'));
    jest.advanceTimersByTime(1_000);
    expect(ticks).toBe(0);

    jest.setSystemTime(new Date('2026-12-31T23:59:50.000Z')); // the wall clock jumps; the waiting timer checks again within 30 s
    jest.advanceTimersByTime(31_000);

    expect(ticks).toBe(1);
    expect(schedule.nextRun()).toEqual(new Date('2028-01-01T00:00:00.000Z'));
  });

  test('when both day of month and day of week are given, then both must match, as in NCRONTAB', () => {
    schedule = scheduleTimer('0 0 12 13 * 5', tick); // Friday the 13th; 6 March 2026 is a Friday, 13 March is both

    expect(schedule.nextRun()).toEqual(new Date('2026-03-13T12:00:00.000Z'));
  });

  test('when the schedule is stopped, then it never fires again', () => {
    schedule = scheduleTimer('* * * * * *', tick);
    jest.advanceTimersByTime(1_000);
    expect(ticks).toBe(1);

    schedule.stop();
    jest.advanceTimersByTime(10_000);

    expect(ticks).toBe(1);
  });

  test('when the expression does not have six fields or a value is out of range, then it throws naming it', () => {
    expect(() => scheduleTimer('*/5 * * * *', tick)).toThrow("bad NCRONTAB schedule '*/5 * * * *'");
    expect(() => scheduleTimer('0 0 25 * * *', tick)).toThrow("bad NCRONTAB schedule '0 0 25 * * *'");
  });
});
