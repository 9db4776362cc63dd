import { runSweep } from '../core/sweep/sweep';
import { timerFunction } from './define';

export const Sweep = timerFunction({
  name: 'Sweep',
  schedule: '%SWEEP_SCHEDULE%',
  make: (deps) => async (_timer, ctx) => {
    const d = deps(ctx);
    const report = await runSweep(d);
    d.log.info('sweep pass', { ...report });
  },
});
