import type { Deps } from '../deps';
import { loadMetadataVersion } from './metadata-store';
import type { Execution } from './model';

/** Emails the recipients whose `on` outcomes and `batches` match this finished execution. */
export async function sendExecutionAlert(deps: Deps, e: Execution): Promise<void> {
  const stored = await loadMetadataVersion(deps, e.metadataVersion);
  const recipients = (stored?.metadata.recipients ?? []).filter(
    (r) => r.on.includes(e.status) && (r.batches.includes('*') || (e.batch !== null && r.batches.includes(e.batch))),
  );
  if (recipients.length === 0) return;
  const view = {
    executionId: e.executionId,
    batch: e.batch ?? '(all stages)',
    status: e.status,
    startedAt: e.startedAt,
    endedAt: e.endedAt ?? '',
    link: deps.settings.publicBaseUrl ? `${deps.settings.publicBaseUrl}/api/executions/${e.executionId}` : '',
  };
  const { html, text } = deps.templates.render('execution-alert', view);
  await deps.mailer.send({ to: [...new Set(recipients.map((r) => r.email))], subject: `[adf-conductor] ${view.batch}: ${e.status}`, html, text });
  deps.log.info('execution alert sent', { executionId: e.executionId, status: e.status, recipients: recipients.length });
}
