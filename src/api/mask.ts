/**
 * Secrets in answers: job `env` values and token-like string fields, replaced by a mask for a
 * viewer who may not write the workflow (access-control.ts decides who; the route answers and
 * the dashboard's live streams both go through maskSecrets).
 */
export const MASK = '********';
const SECRET_KEY = /(^|_)(token|password|secret|api_key)s?$/i;

/** A copy of an answer with job `env` values and token-like string fields masked. */
export function maskSecrets(value: unknown, key?: string): unknown {
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v));
  if (value === null || typeof value !== 'object') {
    return typeof value === 'string' && key !== undefined && SECRET_KEY.test(key) ? MASK : value;
  }
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => {
      if (k === 'env' && v !== null && typeof v === 'object' && !Array.isArray(v)) return [k, Object.fromEntries(Object.keys(v).map((name) => [name, MASK]))];
      if (k === 'env' && typeof v === 'string' && v.startsWith('{')) return [k, maskEnvText(v)];
      return [k, maskSecrets(v, k)];
    }),
  );
}

/** `env` stored as JSON text in some answers. */
function maskEnvText(text: string): string {
  try {
    const env = JSON.parse(text) as Record<string, unknown>;
    return JSON.stringify(Object.fromEntries(Object.keys(env).map((name) => [name, MASK])));
  } catch {
    return MASK;
  }
}
