/**
 * The failure-handler rules, as pure functions: which rule a failed attempt matches, whether
 * it is retried, and how much more a retry asks for. The runner decides with these before it
 * calls retry; the store decides again with the same functions inside the retry transaction,
 * so a client can never retry past what the workflow's rules allow.
 */
import type { PlanFailureRule, ResourceNeed } from '../spec/plan.js';

export type FailureDecision =
  | { action: 'retry'; rule: PlanFailureRule; rule_index: number }
  | { action: 'fail'; reason: 'no_handler' | 'no_matching_rule' | 'retries_exhausted'; rule_index: number | null };

/**
 * The rule for a return code: a rule listing the code wins over a catch-all
 * (`match_all_exit_codes`) whatever their order, as in torc; the first of each kind wins. −1: none.
 */
export function matchRule(rules: readonly PlanFailureRule[], returnCode: number): number {
  const specific = rules.findIndex((r) => r.exit_codes.includes(returnCode));
  return specific >= 0 ? specific : rules.findIndex((r) => r.match_all_exit_codes);
}

/**
 * Retry or fail an attempt that ended with `returnCode` (not 0). `attempt` is the attempt that
 * just failed (1 for the first run). As in torc, a rule's `max_retries` bounds the attempt id:
 * an attempt is retried while attempt < max_retries, so `max_retries: 3` runs at most 3
 * attempts (torc's runner and server both refuse at attempt_id >= max_retries).
 */
export function decideFailure(rules: readonly PlanFailureRule[] | null, returnCode: number, attempt: number): FailureDecision {
  if (rules === null) return { action: 'fail', reason: 'no_handler', rule_index: null };
  const index = matchRule(rules, returnCode);
  if (index < 0) return { action: 'fail', reason: 'no_matching_rule', rule_index: null };
  const rule = rules[index]!;
  if (attempt >= rule.max_retries) return { action: 'fail', reason: 'retries_exhausted', rule_index: index };
  return { action: 'retry', rule, rule_index: index };
}

/** The two requirements a rule can raise. */
export type RaisableNeed = Pick<ResourceNeed, 'memory_bytes' | 'runtime_seconds'>;

export interface RaiseCaps {
  /** The most memory any runner offers (bytes per node), or null when nothing is known. */
  memory_bytes: number | null;
  /** The longest runtime any runner offers (seconds), or null for no limit. */
  runtime_seconds: number | null;
}

export interface RaisedNeed extends RaisableNeed {
  /** Which fields the cap held below what the multiplier asked for. */
  capped: ('memory_bytes' | 'runtime_seconds')[];
}

/**
 * What a retry under `rule` asks for: memory and runtime times their multipliers, held at the
 * caps (a requirement no runner can meet would never be claimed), never below the current
 * values. null when the rule raises nothing or nothing changes.
 */
export function raisedNeed(current: RaisableNeed, rule: Pick<PlanFailureRule, 'memory_multiplier' | 'runtime_multiplier'>, caps: RaiseCaps): RaisedNeed | null {
  const capped: RaisedNeed['capped'] = [];
  const raise = (value: number, multiplier: number | null, cap: number | null, field: RaisedNeed['capped'][number]) => {
    if (multiplier === null || !(multiplier > 1)) return value;
    const wanted = Math.ceil(value * multiplier);
    if (cap !== null && wanted > cap) {
      capped.push(field);
      return Math.max(value, Math.floor(cap));
    }
    return wanted;
  };
  const memory_bytes = raise(current.memory_bytes, rule.memory_multiplier, caps.memory_bytes, 'memory_bytes');
  const runtime_seconds = raise(current.runtime_seconds, rule.runtime_multiplier, caps.runtime_seconds, 'runtime_seconds');
  if (memory_bytes === current.memory_bytes && runtime_seconds === current.runtime_seconds) return null;
  return { memory_bytes, runtime_seconds, capped };
}
