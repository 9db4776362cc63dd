import { dashboardData } from '../core/dashboard/dashboard';
import { timelineSvg } from '../core/dashboard/timeline';
import { getExecution } from '../core/orchestration/executions';
import { htmlPage } from '../http/pages';
import { z } from 'zod';
import { API_HEADERS, json, respond, validate, wantsJson } from '../http/respond';
import { REFRESH_SECONDS, toDashboardJson, toDashboardPage } from '../http/views/dashboard';
import { httpFunction } from './define';

export const DashboardQuery = z.object({
  /** Seconds between the page's own refreshes. */
  refresh: z.coerce.number().int('must be a whole number of seconds').min(1, 'must be at least 1').max(3600, 'must be at most 3600').default(REFRESH_SECONDS),
});

export const Dashboard = httpFunction({
  name: 'Dashboard',
  route: 'dashboard',
  methods: ['GET'],
  authLevel: 'function',
  make: (deps) => (req, ctx) =>
    respond(ctx, async () => {
      const { refresh } = validate(DashboardQuery, { refresh: req.query.get('refresh') ?? undefined });
      const data = await dashboardData(deps(ctx));
      if (wantsJson(req)) return json(200, toDashboardJson(data));
      return htmlPage(200, 'dashboard', { pageTitle: 'Dashboard', ...toDashboardPage(data, refresh) }, {}, { script: 'dashboard-refresh.js', connect: true });
    }),
});

/** The execution's Gantt as an SVG image (for the README, alert emails and anything that shows images). */
export const ExecutionTimeline = httpFunction({
  name: 'ExecutionTimeline',
  route: 'executions/{executionId}/timeline.svg',
  methods: ['GET'],
  authLevel: 'function',
  make: (deps) => (req, ctx) =>
    respond(ctx, async () => {
      const d = deps(ctx);
      const { execution, workers } = await getExecution(d, req.params.executionId ?? '');
      return {
        status: 200,
        // An image that never runs script, even when opened on its own.
        headers: { ...API_HEADERS, 'content-type': 'image/svg+xml; charset=utf-8', 'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'" },
        body: timelineSvg(execution, workers, d.clock.now()),
      };
    }),
});
