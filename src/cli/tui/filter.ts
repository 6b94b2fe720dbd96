/**
 * The job table's filter as typed after `/`: words are searched in job names (as one text, case
 * does not matter), `status:failed,running` (or `s:failed`) keeps those statuses. `f` steps the
 * status filter through the statuses the workflow has.
 */
import { InputError } from '../../errors.js';
import { JOB_STATUS_NAMES } from '../../contract/status.js';

export interface TableFilter {
  statuses: string[];
  q: string;
}

export function parseFilter(text: string): TableFilter {
  const statuses: string[] = [];
  const words: string[] = [];
  for (const word of text.trim().split(/\s+/).filter(Boolean)) {
    const m = /^(?:status|s):(.*)$/i.exec(word);
    if (!m) {
      words.push(word);
      continue;
    }
    for (const s of m[1]!.split(',').filter(Boolean)) {
      const name = s.toLowerCase().replace(/-/g, '_');
      if (!(JOB_STATUS_NAMES as readonly string[]).includes(name))
        throw new InputError(`unknown status "${s}" (one of: ${JOB_STATUS_NAMES.join(', ')})`, 'filter');
      if (!statuses.includes(name)) statuses.push(name);
    }
  }
  return { statuses, q: words.join(' ') };
}

/** The filter as `/` shows it for editing. */
export function filterText(f: TableFilter): string {
  return [f.statuses.length ? `status:${f.statuses.join(',')}` : '', f.q].filter(Boolean).join(' ');
}

/** The next status for `f`: all → each status present (non-zero count), in `order` → all. */
export function nextStatus(current: string[], counts: Record<string, number>, order: readonly string[]): string[] {
  const present = order.filter((s) => (counts[s] ?? 0) > 0);
  if (present.length === 0) return [];
  if (current.length !== 1) return [present[0]!];
  const i = present.indexOf(current[0]!);
  return i < 0 || i === present.length - 1 ? [] : [present[i + 1]!];
}
