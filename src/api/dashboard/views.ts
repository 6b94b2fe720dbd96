/**
 * The dashboard routes' wire shapes: torc's string job statuses (`completed`, not 5),
 * `attempt_id`, and times as epoch milliseconds — the shapes the torc-compatible API moves to,
 * so these routes do not change when it does.
 */
import type { EventRecord } from '../../store/index.js';
import type { JobTableRow } from '../../store/dashboard.js';
import { JOB_STATUS_NAMES, statusName } from '../../contract/status.js';

/** ISO text → epoch ms; null for null or unparsable. */
export function ms(iso: string | null | undefined): number | null {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : null;
}

/** Counts by status code → by status name (every name, or only the non-zero ones). */
export function namedCounts(counts: ArrayLike<number>, nonZeroOnly = false): Record<string, number> {
  const out: Record<string, number> = {};
  for (let code = 0; code < JOB_STATUS_NAMES.length; code++) {
    const n = counts[code] ?? 0;
    if (!nonZeroOnly || n !== 0) out[JOB_STATUS_NAMES[code]!] = n;
  }
  return out;
}

export function eventView(e: EventRecord) {
  return { id: e.id, workflow_id: e.workflow_id, timestamp_ms: e.timestamp, category: e.category, data: e.data };
}

export type EventView = ReturnType<typeof eventView>;

export function jobRowView(r: JobTableRow) {
  const started = ms(r.started_at);
  const completed = ms(r.completed_at);
  return {
    id: r.id,
    name: r.name,
    status: statusName(r.status),
    attempt_id: r.attempt,
    return_code: r.return_code,
    started_ms: started,
    completed_ms: completed,
    duration_ms: started !== null && completed !== null ? Math.max(0, completed - started) : null,
    compute_node_id: r.compute_node_id,
    hostname: r.hostname,
    resource_requirements: r.resource_requirements,
  };
}
