import { openApiJson } from '../http/openapi';
import { API_HEADERS, respond } from '../http/respond';
import { functions, httpFunction, type HttpFunction } from './define';

/** The OpenAPI 3.1 document, generated from the handlers' own zod schemas (src/http/openapi.ts); built once. */
export const OpenApi = httpFunction({
  name: 'OpenApi',
  route: 'openapi.json',
  methods: ['GET'],
  authLevel: 'anonymous',
  make: (deps) => (_req, ctx) =>
    respond(ctx, async () => ({
      status: 200,
      // The same for every caller until the app is deployed again: a client may keep it for a few minutes.
      headers: { 'content-type': 'application/json; charset=utf-8', ...API_HEADERS, 'cache-control': 'public, max-age=300' },
      body: openApiJson(deps(ctx), functions.filter((f): f is HttpFunction => f.kind === 'http')),
    })),
});
