/**
 * Reading failures of @kubernetes/client-node calls: its ApiException carries the HTTP code and
 * the response body as text (a metav1.Status in JSON); watch errors carry `statusCode`.
 */
import { ApiException } from '@kubernetes/client-node';

export interface KubeStatus {
  code: number;
  reason: string;
  message: string;
}

/** The Status of a failed API call, or null when `err` is not an API error (network, bug). */
export function kubeStatus(err: unknown): KubeStatus | null {
  if (err instanceof ApiException) {
    let body: { reason?: string; message?: string; code?: number } = {};
    try {
      body = typeof err.body === 'string' ? JSON.parse(err.body) : (err.body ?? {});
    } catch {
      body = {};
    }
    return { code: err.code, reason: body.reason ?? '', message: body.message ?? String(err.body ?? '') };
  }
  const e = err as { statusCode?: number; code?: unknown; reason?: string; message?: string } | null;
  if (e && typeof e.statusCode === 'number') return { code: e.statusCode, reason: '', message: e.message ?? '' };
  // A watch ERROR event hands over the Status object itself.
  if (e && typeof e.code === 'number' && (e as { kind?: string }).kind === 'Status') {
    return { code: e.code, reason: e.reason ?? '', message: e.message ?? '' };
  }
  return null;
}

export const isNotFound = (err: unknown) => kubeStatus(err)?.code === 404;
export const isAlreadyExists = (err: unknown) => {
  const s = kubeStatus(err);
  return s?.code === 409 && s.reason === 'AlreadyExists';
};
/** 409 from a stale resourceVersion (optimistic concurrency). */
export const isConflict = (err: unknown) => {
  const s = kubeStatus(err);
  return s?.code === 409 && s.reason !== 'AlreadyExists';
};
export const isGone = (err: unknown) => kubeStatus(err)?.code === 410;
