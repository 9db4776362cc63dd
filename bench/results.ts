/** The shape of bench/results/latest.json. */
import type { ApprovalsResult, OrchestrationResult, QueueResult } from './flows';
import type { machine } from './support';
import type { SweepSectionResult } from './sweep';

export interface Results {
  date: string;
  loadAverage1m: { start: number; end?: number };
  machine: ReturnType<typeof machine>;
  settings: Record<string, unknown>;
  durationSeconds: number;
  /** Every headline figure under a flat key (e.g. armCallRatio_1000_noise). */
  figures: Record<string, number>;
  sweep?: SweepSectionResult;
  orchestration?: OrchestrationResult[];
  approvals?: ApprovalsResult;
  queue?: QueueResult;
  errors: Array<{ section: string; error: string }>;
}
