/**
 * Kubernetes names and label values from arbitrary workflow/job names. Deterministic (the same
 * job attempt always maps to the same pod name, so a re-created pod hits AlreadyExists instead
 * of running twice) and injective in practice: whenever the mapping loses information
 * (characters replaced, case folded, text cut) a short hash of the original is appended.
 */
import { createHash } from 'node:crypto';

export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const MAX_LABEL = 63;

function shortHash(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 8);
}

function trimEdges(s: string, edge: RegExp): string {
  let out = s;
  while (out.length > 0 && !edge.test(out[0]!)) out = out.slice(1);
  while (out.length > 0 && !edge.test(out[out.length - 1]!)) out = out.slice(0, -1);
  return out;
}

/** Any string → a DNS-1123 label (≤ 63 chars, [a-z0-9-], alphanumeric at both ends). */
export function toDnsLabel(raw: string): string {
  const cleaned = trimEdges(raw.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-{2,}/g, '-'), /[a-z0-9]/);
  if (cleaned === raw && cleaned.length <= MAX_LABEL && cleaned.length > 0) return cleaned;
  const hash = shortHash(raw);
  const room = MAX_LABEL - hash.length - 1;
  const head = trimEdges(cleaned.slice(0, room), /[a-z0-9]/);
  return head ? `${head}-${hash}` : hash;
}

/** Any string → a valid label value (≤ 63 chars of [A-Za-z0-9._-], alphanumeric at both ends). */
export function toLabelValue(raw: string): string {
  const cleaned = trimEdges(raw.replace(/[^A-Za-z0-9._-]+/g, '_'), /[A-Za-z0-9]/);
  if (cleaned === raw && cleaned.length <= MAX_LABEL) return cleaned;
  const hash = shortHash(raw);
  const head = trimEdges(cleaned.slice(0, MAX_LABEL - hash.length - 1), /[A-Za-z0-9]/);
  return head ? `${head}-${hash}` : hash;
}

/** The pod of one job attempt: `<workflow>-<job>-<attempt>` as a DNS-1123 label. */
export function podName(workflow: string, job: string, attempt: number): string {
  return toDnsLabel(`${workflow}-${job}-${attempt}`);
}
