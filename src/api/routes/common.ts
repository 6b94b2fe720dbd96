/** What every route module shares: the dependencies handlers see and the paging parameters. */
import { MAX_PAGE_LIMIT, type Store } from '../../store/index.js';
import type { DashboardService } from '../dashboard/service.js';
import { p, type ParamSpec, type Params } from '../params.js';
import type { Route } from '../route.js';

export interface ApiDeps {
  store: Store;
  /** The web dashboard's reads and live hub (routes under /dashboard and a few job routes). */
  dashboard?: DashboardService;
}

export type ApiRoute = Route<ApiDeps>;

/**
 * torc's `offset` / `limit`. As torc's server, a list without a limit gets the largest page
 * (${MAX_PAGE_LIMIT}) and a larger limit is clamped to it (torc's max_limit): a torc client that
 * does not page sees what it would see from torc.
 */
export const PAGING: ParamSpec[] = [
  p.queryInt('offset', 'Skip this many records', { default: 0 }),
  p.queryInt('limit', `Page size (default and maximum ${MAX_PAGE_LIMIT}; larger values are clamped to it)`, {
    default: MAX_PAGE_LIMIT,
  }),
];

/** torc's sort_by / reverse_sort of list operations. */
export const LIST_SORT: ParamSpec[] = [
  p.queryString('sort_by', 'Sort by this field (default: id, i.e. creation order)', { maxLength: 64 }),
  p.queryBool('reverse_sort', 'Sort in descending order', false),
];

export const WORKFLOW_FILTER: ParamSpec = p.queryInt('workflow_id', 'Only records of this workflow', { required: true });

export function paging(params: Params): { offset: number; limit: number } {
  return { offset: params.offset as number, limit: Math.min(params.limit as number, MAX_PAGE_LIMIT) };
}
