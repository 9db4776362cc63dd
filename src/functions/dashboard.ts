import { dashboardData } from '../core/dashboard/dashboard';
import { htmlPage } from '../http/pages';
import { json, respond, wantsJson } from '../http/respond';
import { toDashboardView } from '../http/views/dashboard';
import { httpFunction } from './define';

export const Dashboard = httpFunction({
  name: 'Dashboard',
  route: 'dashboard',
  methods: ['GET'],
  authLevel: 'function',
  make: (deps) => (req, ctx) =>
    respond(ctx, async () => {
      const data = toDashboardView(await dashboardData(deps(ctx)));
      if (wantsJson(req)) return json(200, data);
      return htmlPage(200, 'dashboard', {
        pageTitle: 'Dashboard',
        ...data,
        hasActive: data.active.length > 0,
        hasQueues: data.queues.length > 0,
        hasApprovals: data.approvals.length > 0,
        hasFailures: data.recentFailures.length > 0,
      });
    }),
});
