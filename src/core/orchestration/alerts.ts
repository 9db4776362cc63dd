import type { Deps } from '../deps';
import { effectId, recordEmail } from '../outbox/outbox';
import { loadMetadataVersion } from './metadata-store';
import type { Execution } from './model';

/** The outbox id of an execution's alert: one per outcome of each run of the execution (restarts count). */
export const alertEffectId = (e: Execution) => effectId('execution-alert', e.executionId, e.restarts, e.status);

/**
 * Records the email to the recipients whose `on` outcomes and `batches` match this finished execution, in the
 * durable outbox (idempotent: recording one outcome twice is one email). Returns the effect id, if any.
 */
export async function recordExecutionAlert(deps: Deps, e: Execution): Promise<string | undefined> {
  const stored = await loadMetadataVersion(deps, e.metadataVersion);
  const recipients = (stored?.metadata.recipients ?? []).filter(
    (r) => r.on.includes(e.status) && (r.batches.includes('*') || (e.batch !== null && r.batches.includes(e.batch))),
  );
  if (recipients.length === 0) return undefined;
  const view = {
    executionId: e.executionId,
    batch: e.batch ?? '(all stages)',
    status: e.status,
    startedAt: e.startedAt,
    endedAt: e.endedAt ?? '',
    link: deps.settings.publicBaseUrl ? `${deps.settings.publicBaseUrl}/api/executions/${e.executionId}` : '',
  };
  const { html, text } = deps.templates.render('execution-alert', view);
  const id = alertEffectId(e);
  const to = [...new Set(recipients.map((r) => r.email))];
  if (await recordEmail(deps, id, `execution ${e.executionId}`, { to, subject: `[adf-conductor] ${view.batch}: ${e.status}`, html, text }))
    deps.log.info('execution alert recorded', { executionId: e.executionId, status: e.status, recipients: to.length });
  return id;
}
