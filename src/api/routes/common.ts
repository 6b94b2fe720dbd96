/** What every route module shares: the dependencies handlers see and the paging parameters. */
import { DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT, type Store } from '../../store/index.js';
import type { DashboardService } from '../dashboard/service.js';
import { p, type ParamSpec, type Params } from '../params.js';
import type { Route } from '../route.js';

export interface ApiDeps {
  store: Store;
  /** The web dashboard's reads and live hub (routes under /dashboard and a few job routes). */
  dashboard?: DashboardService;
}

export type ApiRoute = Route<ApiDeps>;

/** torc's `offset` / `limit`; a limit above the maximum is clamped to it (torc's max_limit). */
export const PAGING: ParamSpec[] = [
  p.queryInt('offset', 'Skip this many records', { default: 0 }),
  p.queryInt('limit', `Page size (default ${DEFAULT_PAGE_LIMIT}; larger values are clamped to ${MAX_PAGE_LIMIT})`, {
    default: DEFAULT_PAGE_LIMIT,
  }),
];

export const WORKFLOW_FILTER: ParamSpec = p.queryInt('workflow_id', 'Only records of this workflow', { required: true });

export function paging(params: Params): { offset: number; limit: number } {
  return { offset: params.offset as number, limit: Math.min(params.limit as number, MAX_PAGE_LIMIT) };
}
