import { subscribers } from '../alerts/recipients';
import { studioRunUrl } from '../dashboard/studio';
import { blockers, executionSummary, timelineSvg } from '../dashboard/timeline';
import type { Deps } from '../deps';
import { effectId, recordEmail } from '../outbox/outbox';
import { loadMetadataVersion } from './metadata-store';
import type { Execution, Worker } from './model';
import { ExecutionStore } from './store';

/** The outbox id of an execution's alert: one per outcome of each run of the execution (restarts count). */
export const alertEffectId = (e: Execution) => effectId('execution-alert', e.executionId, e.restarts, e.status);

/** Past this many workers, the email's timeline shows each stage's counts plus its failed and running workers. */
const TIMELINE_MAX_ROWS = 120;

/**
 * Records ONE email for this finished execution, to the recipients subscribed to its outcome (by batch and
 * worker), in the durable outbox: idempotent, so recording one outcome twice is one email. It carries a
 * summary, the timeline (inline SVG), the failed workers with their activity errors and ADF Studio links, the
 * Blocked dependants, and links to the dashboard. Returns the effect id, if any.
 */
export async function recordExecutionAlert(deps: Deps, e: Execution): Promise<string | undefined> {
  const recipients = (await loadMetadataVersion(deps, e.metadataVersion))?.metadata.recipients ?? [];
  if (!recipients.some((r) => r.on.includes(e.status))) return undefined;
  const workers = (await new ExecutionStore(deps).load(e.executionId))?.workers ?? [];
  const to = subscribers(recipients, { kind: 'execution', outcome: e.status, batch: e.batch, workers });
  if (to.length === 0) return undefined;
  const id = alertEffectId(e);
  const { view, svg } = alertView(deps, e, workers);
  const { html, text } = deps.templates.render('execution-alert', view);
  const failed = view.failures.length;
  const subject = `[adf-conductor] ${view.batch}: ${e.status}${failed ? ` (${failed} failed)` : ''}`;
  const inline = [{ contentId: 'timeline', name: `timeline-${e.executionId}.svg`, contentType: 'image/svg+xml', contentBase64: Buffer.from(svg, 'utf8').toString('base64') }];
  if (await recordEmail(deps, id, `execution ${e.executionId}`, { to, subject, html, text, inline }))
    deps.log.info('execution alert recorded', { executionId: e.executionId, status: e.status, recipients: to.length });
  return id;
}

function alertView(deps: Deps, e: Execution, workers: Worker[]) {
  const now = deps.clock.now();
  const base = deps.settings.publicBaseUrl;
  const byName = new Map(workers.map((w) => [w.name, w]));
  const ordered = e.stages.flatMap((s) => workers.filter((w) => w.stage === s).sort((a, b) => a.order - b.order));
  const view = {
    ...executionSummary(e, workers, now),
    failures: ordered
      .filter((w) => w.status === 'Failed')
      .map((w) => ({
        name: w.name,
        stage: w.stage,
        pipeline: w.target.pipeline,
        activity: w.error?.activity ?? '',
        code: w.error?.code ?? '',
        message: w.error?.message ?? '(no error message)',
        runId: w.runId ?? '',
        studioUrl: w.runId ? studioRunUrl(w.target, w.runId) : '',
      })),
    blocked: ordered.filter((w) => w.status === 'Blocked').map((w) => ({ name: w.name, stage: w.stage, blockedBy: blockers(w, byName).join(', ') })),
    dashboardUrl: base ? `${base}/api/dashboard#execution-${e.executionId}` : '',
    executionUrl: base ? `${base}/api/executions/${e.executionId}` : '',
    timelineUrl: base ? `${base}/api/executions/${e.executionId}/timeline.svg` : '',
  };
  return { view, svg: timelineSvg(e, workers, now, { maxRows: TIMELINE_MAX_ROWS }) };
}
