/**
 * SLA warnings: `warnAfterSeconds` on a worker, a stage or the whole execution. Past it, the work goes on,
 * the dashboard marks it late, and the subscribers of `Late` get one email (through the outbox: recorded
 * under an id of the execution, its restart, the scope and the name, then marked, so a crash between the
 * two records the same email again, which is one email).
 */
import { subscribers } from '../alerts/recipients';
import { formatDuration } from '../dashboard/timeline';
import type { Deps } from '../deps';
import { Conflict, NotFound } from '../errors';
import { deliver, effectId, recordEmail } from '../outbox/outbox';
import { ignore } from '../retry';
import { addSeconds, iso } from '../util';
import { LATE_OUTCOME } from './metadata';
import { loadMetadataVersion } from './metadata-store';
import type { Execution, Worker } from './model';
import { isTerminalWorker } from './rules';
import type { ExecutionStore } from './store';

interface LateScope {
  scope: 'worker' | 'stage' | 'execution';
  name: string;
  since: string;
  warnAfterSeconds: number;
  workers: Worker[];
}

/** Marks and reports what just became late. True when it wrote anything (the caller reloads). */
export async function checkLate(deps: Deps, store: ExecutionStore, e: Execution, workers: Worker[]): Promise<boolean> {
  const now = deps.clock.now();
  const over = (since: string | undefined, secs: number | undefined): since is string => since !== undefined && secs !== undefined && addSeconds(new Date(since), secs) < now;
  let changed = false;
  for (const w of workers) {
    if (w.lateAt || isTerminalWorker(w.status) || !over(w.startedAt, w.warnAfterSeconds)) continue;
    await reportLate(deps, e, { scope: 'worker', name: w.name, since: w.startedAt, warnAfterSeconds: w.warnAfterSeconds as number, workers: [w] });
    await store.saveWorker(e.executionId, { ...w, lateAt: iso(now) }).catch(ignore(Conflict, NotFound));
    changed = true;
  }
  const late = new Set(e.late ?? []);
  const added: string[] = [];
  for (const [stage, secs] of Object.entries(e.stageWarnAfterSeconds ?? {})) {
    const ws = workers.filter((w) => w.stage === stage);
    const first = ws.flatMap((w) => (w.startedAt ? [w.startedAt] : [])).sort()[0];
    if (late.has(`stage:${stage}`) || ws.every((w) => isTerminalWorker(w.status)) || !over(first, secs)) continue;
    await reportLate(deps, e, { scope: 'stage', name: stage, since: first, warnAfterSeconds: secs, workers: ws });
    added.push(`stage:${stage}`);
  }
  if (!late.has('execution') && over(e.startedAt, e.warnAfterSeconds)) {
    await reportLate(deps, e, { scope: 'execution', name: e.batch ?? '(all stages)', since: e.startedAt, warnAfterSeconds: e.warnAfterSeconds as number, workers });
    added.push('execution');
  }
  if (added.length) {
    await store.saveHead({ ...e, late: [...late, ...added] }).catch(ignore(Conflict));
    changed = true;
  }
  return changed;
}

async function reportLate(deps: Deps, e: Execution, s: LateScope): Promise<void> {
  const running = formatDuration(deps.clock.now().getTime() - Date.parse(s.since));
  deps.log.warn('late', { executionId: e.executionId, scope: s.scope, name: s.name, warnAfterSeconds: s.warnAfterSeconds });
  const recipients = (await loadMetadataVersion(deps, e.metadataVersion))?.metadata.recipients ?? [];
  const to = subscribers(recipients, { kind: 'execution', outcome: LATE_OUTCOME, batch: e.batch, workers: s.workers });
  if (to.length === 0) return;
  const base = deps.settings.publicBaseUrl;
  const view = {
    scope: s.scope,
    name: s.name,
    executionId: e.executionId,
    batch: e.batch ?? '(all stages)',
    since: s.since,
    running,
    warnAfter: formatDuration(s.warnAfterSeconds * 1000),
    running_workers: s.workers.filter((w) => w.status === 'Running').map((w) => ({ name: w.name, startedAt: w.startedAt ?? '', runId: w.runId ?? '' })),
    dashboardUrl: base ? `${base}/api/dashboard#execution-${e.executionId}` : '',
  };
  const { html, text } = deps.templates.render('late-alert', view);
  const id = effectId('late', e.executionId, e.restarts, s.scope, s.name);
  const subject = `[adf-conductor] Late: ${s.scope} ${s.name} of ${view.batch} (running ${running}, warn after ${view.warnAfter})`;
  if (await recordEmail(deps, id, `execution ${e.executionId}`, { to, subject, html, text })) await deliver(deps, id).catch(() => undefined);
}
