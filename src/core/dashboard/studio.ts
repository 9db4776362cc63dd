import type { PipelineTarget } from '../ports';

/** A run's page in ADF Studio's monitor (the factory's resource id goes in the query as ADF Studio writes it). */
export function studioRunUrl(t: Pick<PipelineTarget, 'subscriptionId' | 'resourceGroup' | 'factory'>, runId: string): string {
  const e = encodeURIComponent;
  return `https://adf.azure.com/en/monitoring/pipelineruns/${e(runId)}?factory=/subscriptions/${e(t.subscriptionId)}/resourceGroups/${e(t.resourceGroup)}/providers/Microsoft.DataFactory/factories/${e(t.factory)}`;
}
