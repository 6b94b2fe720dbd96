/** Service routes: ping and version. (openapi.json is added in routes/index.ts: it needs the whole table.) */
import { API_VERSION, VERSION } from '../../version.js';
import type { ApiRoute } from './common.js';

export const metaRoutes: ApiRoute[] = [
  {
    operationId: 'ping',
    method: 'GET',
    path: '/ping',
    summary: 'Is the service up',
    mutating: false,
    response: { status: 200, schema: 'ping_response', description: 'It is' },
    handler: () => ({ status: 'ok' }),
  },
  {
    operationId: 'get_version',
    method: 'GET',
    path: '/version',
    summary: 'Product and API version',
    mutating: false,
    response: { status: 200, schema: 'version_response', description: 'Versions' },
    handler: () => ({ version: VERSION, api_version: API_VERSION }),
  },
];
