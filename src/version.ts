/** Product version, reported by `torc --version` and `GET /torc-service/v1/version`. */
export const VERSION = '0.1.0';
/** The torc REST API version this server is compatible with. */
export const API_VERSION = 'v1';
