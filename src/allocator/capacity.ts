/**
 * Runner capacities from the two forms a runner may send: torc's pooled
 * `{num_cpus, memory_gb, num_gpus, num_nodes, …}` (num_nodes identical nodes, values per node,
 * as torc documents them) and our per-node `{nodes: [...], …}`. Both validate their input and
 * name the offending field.
 */
import { InputError, type InputIssue } from '../errors.js';
import { parseDuration } from '../spec/units.js';
import { GIB } from './fit.js';
import type { NodeCapacity, RunnerCapacity } from './types.js';

export interface PooledCapacityInput {
  /** Per node. */
  num_cpus: number;
  /** Per node, GiB (1024^3 bytes); fractions allowed. */
  memory_gb: number;
  /** Per node; default 0. */
  num_gpus?: number;
  /** Default 1. */
  num_nodes?: number;
  /** ISO8601 duration left to run jobs, or null/absent for no limit. */
  time_limit?: string | null;
  scheduler_config_id?: number | null;
}

export interface NodeInput {
  name: string;
  num_cpus: number;
  memory_gb: number;
  num_gpus?: number;
  /** Jobs already run there (see NodeCapacity.busy). */
  busy?: boolean;
}

export interface NodesCapacityInput {
  nodes: NodeInput[];
  time_limit?: string | null;
  scheduler_config_id?: number | null;
}

/** Upper bound on nodes of one runner: keeps a pooled request from allocating millions of nodes. */
export const MAX_NODES = 100_000;

/**
 * torc's pooled form → num_nodes nodes named `node0`, `node1`, … each with the given
 * resources. `at` prefixes the field paths in errors (e.g. "body").
 */
export function capacityFromPooled(input: PooledCapacityInput, at = ''): RunnerCapacity {
  const v = new Validator(at);
  const obj = v.object(input, '');
  const num_cpus = v.count(obj.num_cpus, 'num_cpus');
  const memory_bytes = v.memoryGb(obj.memory_gb, 'memory_gb');
  const num_gpus = obj.num_gpus === undefined ? 0 : v.count(obj.num_gpus, 'num_gpus');
  let num_nodes = obj.num_nodes === undefined ? 1 : v.count(obj.num_nodes, 'num_nodes');
  if (num_nodes === 0) v.fail('num_nodes', 'must be at least 1');
  else if (num_nodes > MAX_NODES) v.fail('num_nodes', `must be at most ${MAX_NODES}`);
  const time_limit_seconds = v.timeLimit(obj.time_limit, 'time_limit');
  const scheduler_config_id = v.schedulerId(obj.scheduler_config_id, 'scheduler_config_id');
  v.throwIfAny();
  num_nodes = Math.max(1, num_nodes);
  const nodes: NodeCapacity[] = [];
  for (let i = 0; i < num_nodes; i++) nodes.push({ name: `node${i}`, num_cpus, memory_bytes, num_gpus });
  return { nodes, time_limit_seconds, scheduler_config_id };
}

/** Our per-node form: each node with its own free resources. Names must be unique. */
export function capacityFromNodes(input: NodesCapacityInput, at = ''): RunnerCapacity {
  const v = new Validator(at);
  const obj = v.object(input, '');
  const nodes: NodeCapacity[] = [];
  if (!Array.isArray(obj.nodes)) {
    v.fail('nodes', 'expected a list of nodes');
  } else if (obj.nodes.length === 0) {
    v.fail('nodes', 'must list at least one node');
  } else if (obj.nodes.length > MAX_NODES) {
    v.fail('nodes', `must list at most ${MAX_NODES} nodes`);
  } else {
    const seen = new Set<string>();
    obj.nodes.forEach((raw: unknown, i: number) => {
      const p = `nodes[${i}]`;
      const n = v.object(raw, p);
      const name = n.name;
      if (typeof name !== 'string' || name.trim() === '') v.fail(`${p}.name`, 'expected a non-empty string');
      else if (seen.has(name)) v.fail(`${p}.name`, `duplicate node name "${name}"`);
      else seen.add(name);
      const node: NodeCapacity = {
        name: typeof name === 'string' ? name : '',
        num_cpus: v.count(n.num_cpus, `${p}.num_cpus`),
        memory_bytes: v.memoryGb(n.memory_gb, `${p}.memory_gb`),
        num_gpus: n.num_gpus === undefined ? 0 : v.count(n.num_gpus, `${p}.num_gpus`),
      };
      if (n.busy !== undefined) {
        if (typeof n.busy !== 'boolean') v.fail(`${p}.busy`, 'expected true or false');
        else if (n.busy) node.busy = true;
      }
      nodes.push(node);
    });
  }
  const time_limit_seconds = v.timeLimit(obj.time_limit, 'time_limit');
  const scheduler_config_id = v.schedulerId(obj.scheduler_config_id, 'scheduler_config_id');
  v.throwIfAny();
  return { nodes, time_limit_seconds, scheduler_config_id };
}

/** Collects every problem so that one error lists them all. */
class Validator {
  private readonly issues: InputIssue[] = [];
  constructor(private readonly at: string) {}

  fail(field: string, message: string): void {
    const path = [this.at, field].filter(Boolean).join('.');
    this.issues.push({ path, message });
  }

  throwIfAny(): void {
    if (this.issues.length) throw new InputError(this.issues);
  }

  object(value: unknown, field: string): Record<string, any> {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      this.fail(field, 'expected an object');
      return {};
    }
    return value as Record<string, any>;
  }

  /** A whole number ≥ 0 (CPUs, GPUs, nodes). */
  count(value: unknown, field: string): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      this.fail(field, `expected a whole number ≥ 0, got ${describe(value)}`);
      return 0;
    }
    return value;
  }

  memoryGb(value: unknown, field: string): number {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      this.fail(field, `expected a number of GiB ≥ 0, got ${describe(value)}`);
      return 0;
    }
    const bytes = Math.floor(value * GIB);
    if (!Number.isSafeInteger(bytes)) {
      this.fail(field, `${value} GiB is too large`);
      return 0;
    }
    return bytes;
  }

  timeLimit(value: unknown, field: string): number | null {
    if (value === undefined || value === null) return null;
    if (typeof value !== 'string') {
      this.fail(field, `expected an ISO8601 duration such as "PT4H" or null, got ${describe(value)}`);
      return null;
    }
    try {
      return parseDuration(value, field);
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      for (const issue of err.issues) this.fail(field, issue.message);
      return null;
    }
  }

  schedulerId(value: unknown, field: string): number | null {
    if (value === undefined || value === null) return null;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      this.fail(field, `expected a scheduler id (whole number ≥ 0) or null, got ${describe(value)}`);
      return null;
    }
    return value;
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined) return 'nothing';
  if (typeof value === 'object') return value === null ? 'null' : Array.isArray(value) ? 'a list' : 'an object';
  return String(value);
}
