/** The whole route table, in the order the OpenAPI document lists it. */
import { dashboardRoutes } from '../dashboard/routes.js';
import { buildOpenApi } from '../openapi.js';
import { COMPONENTS } from '../schemas.js';
import { accessRoutes } from './access.js';
import { claimRoutes } from './claims.js';
import type { ApiRoute } from './common.js';
import { jobBatchRoutes } from './job-batches.js';
import { jobRoutes } from './jobs.js';
import { metaRoutes } from './meta.js';
import { monitoringRoutes } from './monitoring.js';
import { nodeRoutes } from './nodes.js';
import { recordRoutes } from './records.js';
import { scheduledNodeRoutes } from './scheduled-nodes.js';
import { specRoutes } from './specs.js';
import { workflowRoutes } from './workflows.js';

export type { ApiDeps, ApiRoute } from './common.js';

export function apiRoutes(): ApiRoute[] {
  const routes: ApiRoute[] = [
    ...metaRoutes,
    ...specRoutes,
    ...workflowRoutes,
    ...jobRoutes,
    ...jobBatchRoutes,
    ...claimRoutes,
    ...nodeRoutes,
    ...recordRoutes,
    ...monitoringRoutes,
    ...scheduledNodeRoutes,
    ...accessRoutes,
    ...dashboardRoutes,
  ];
  let document: Record<string, unknown> | undefined;
  routes.push({
    operationId: 'get_openapi',
    method: 'GET',
    path: '/openapi.json',
    summary: 'This document',
    mutating: false,
    response: { status: 200, schema: 'openapi_document', description: 'The OpenAPI 3.1 document' },
    handler: () => (document ??= buildOpenApi(routes, COMPONENTS)),
  });
  return routes;
}
