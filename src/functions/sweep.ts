import { sweepAndRecord } from '../core/sweep/passes';
import { timerFunction } from './define';

export const Sweep = timerFunction({
  name: 'Sweep',
  schedule: '%SWEEP_SCHEDULE%',
  make: (deps) => async (_timer, ctx) => {
    await sweepAndRecord(deps(ctx));
  },
});
