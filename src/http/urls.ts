import type { HttpRequest } from '@azure/functions';
import type { Deps } from '../core/deps';

/** Base URL for links we hand out: PUBLIC_BASE_URL, or the origin the request came in on. */
export function baseUrl(deps: Deps, req: HttpRequest): string {
  if (deps.settings.publicBaseUrl) return deps.settings.publicBaseUrl;
  const u = new URL(req.url);
  return `${u.protocol}//${u.host}`;
}
