/**
 * The dashboard's DAG, grouped so that a 100k-job workflow draws as tens of nodes. Jobs are
 * grouped by the pattern of their names with the numbers taken out (`sim_{i}` expanded to
 * sim_1 … sim_33333 gives one group `sim_#`): a parameter sweep is one group, whatever its
 * size. A workflow whose names do not repeat that way (more than MAX_GROUPS patterns) is
 * grouped by DAG level and resource requirements instead. Edges between groups carry how many
 * job dependencies they stand for. Expanding a group shows its jobs (the first
 * MAX_EXPANDED_JOBS, then one "more" node). Pure functions over the stored structure.
 */
import type { DagStructure } from '../../store/dashboard.js';

/** Above this many name patterns, groups are DAG levels × resource requirements. */
export const MAX_GROUPS = 150;
/** Jobs drawn for one expanded group; the rest become one "more" node. */
export const MAX_EXPANDED_JOBS = 200;
/** Status codes 0..10 (store/status.ts). */
export const STATUS_CODES = 11;

export interface DagGroup {
  index: number;
  /** The name pattern (`sim_#`), or `level 3 · small` for the fallback grouping. */
  label: string;
  size: number;
  /** The first job's name, an example for the label. */
  example: string;
  /** Dependencies between two jobs of this group (a chain inside a sweep). */
  internal_edges: number;
}

export interface DagModel {
  structure: DagStructure;
  grouping: 'name_pattern' | 'level';
  /** Group of each job (by index into structure.ids). */
  groupOf: Uint32Array;
  groups: DagGroup[];
  /** Members of group g: memberIndex[memberStart[g] .. memberStart[g + 1]), in id order. */
  memberStart: Uint32Array;
  memberIndex: Uint32Array;
  /** Edges between distinct groups: from (blocker group) → to, with the dependency count. */
  groupEdges: { from: number; to: number; count: number }[];
  /**
   * Each group's members as runs of consecutive job ids: runs runStart[g] .. runStart[g + 1]
   * of runLo / runHi. A sweep stored in one go is one run, so its status counts can be
   * counted in the status index (store countStatusesInRanges) instead of job by job.
   */
  runStart: Uint32Array;
  runLo: Float64Array;
  runHi: Float64Array;
}

/** `sim_0042` → `sim_#`, `lr_0.001_bs_64` → `lr_#_bs_#`: numbers (with decimals and exponents) out. */
export function namePattern(name: string): string {
  return name.replace(/\d+(?:\.\d+)?(?:[eE][-+]?\d+)?/g, '#');
}

/**
 * Groups the jobs. `levelGrouping` supplies what the fallback grouping needs (each job's
 * resource requirements id and their names); it is called only when the names have more
 * than MAX_GROUPS patterns.
 */
export async function buildDagModel(
  structure: DagStructure,
  levelGrouping: () => Promise<{ resourceRequirements: (number | null)[]; resourceNames: Map<number, string> }> = async () => ({
    resourceRequirements: structure.resourceRequirements ?? [],
    resourceNames: new Map(),
  }),
): Promise<DagModel> {
  const n = structure.ids.length;
  const groupOf = new Uint32Array(n);
  const keys = new Map<string, number>();
  const labels: string[] = [];
  for (let i = 0; i < n; i++) {
    const key = namePattern(structure.names[i]!);
    let g = keys.get(key);
    if (g === undefined) {
      g = labels.length;
      keys.set(key, g);
      labels.push(key);
      if (labels.length > MAX_GROUPS) break;
    }
    groupOf[i] = g;
  }
  let grouping: DagModel['grouping'] = 'name_pattern';
  if (labels.length > MAX_GROUPS) {
    grouping = 'level';
    labels.length = 0;
    keys.clear();
    const level = dagLevels(n, structure.blockers, structure.dependents);
    const { resourceRequirements, resourceNames } = await levelGrouping();
    for (let i = 0; i < n; i++) {
      const rr = resourceRequirements[i];
      const key = `level ${level[i]}${rr != null && resourceNames.has(rr) ? ` · ${resourceNames.get(rr)}` : ''}`;
      let g = keys.get(key);
      if (g === undefined) {
        g = labels.length;
        keys.set(key, g);
        labels.push(key);
      }
      groupOf[i] = g;
    }
  }
  const count = labels.length;
  const sizes = new Uint32Array(count);
  for (let i = 0; i < n; i++) sizes[groupOf[i]!]!++;
  const memberStart = new Uint32Array(count + 1);
  for (let g = 0; g < count; g++) memberStart[g + 1] = memberStart[g]! + sizes[g]!;
  const fill = memberStart.slice(0, count);
  const memberIndex = new Uint32Array(n);
  for (let i = 0; i < n; i++) memberIndex[fill[groupOf[i]!]!++] = i;
  const internal = new Uint32Array(count);
  const edgeCounts = new Map<number, number>();
  const { blockers, dependents } = structure;
  for (let k = 0; k < blockers.length; k++) {
    const from = groupOf[blockers[k]!]!;
    const to = groupOf[dependents[k]!]!;
    if (from === to) internal[from]!++;
    else {
      const key = from * count + to;
      edgeCounts.set(key, (edgeCounts.get(key) ?? 0) + 1);
    }
  }
  const groups: DagGroup[] = labels.map((label, g) => ({
    index: g,
    label,
    size: sizes[g]!,
    example: structure.names[memberIndex[memberStart[g]!]!] ?? '',
    internal_edges: internal[g]!,
  }));
  const groupEdges = [...edgeCounts].map(([key, c]) => ({ from: Math.floor(key / count), to: key % count, count: c }));
  const runStart = new Uint32Array(count + 1);
  const lo: number[] = [];
  const hi: number[] = [];
  const ids = structure.ids;
  for (let g = 0; g < count; g++) {
    for (let m = memberStart[g]!; m < memberStart[g + 1]!; m++) {
      const id = ids[memberIndex[m]!]!;
      if (lo.length > runStart[g]! && hi[hi.length - 1] === id - 1) hi[hi.length - 1] = id;
      else {
        lo.push(id);
        hi.push(id);
      }
    }
    runStart[g + 1] = lo.length;
  }
  return { structure, grouping, groupOf, groups, memberStart, memberIndex, groupEdges, runStart, runLo: Float64Array.from(lo), runHi: Float64Array.from(hi) };
}

/** Longest-path level of each job from the roots (Kahn's algorithm over the dependency pairs). */
export function dagLevels(n: number, blockers: Uint32Array, dependents: Uint32Array): Uint32Array {
  const indegree = new Uint32Array(n);
  const outStart = new Uint32Array(n + 1);
  for (let k = 0; k < blockers.length; k++) {
    indegree[dependents[k]!]!++;
    outStart[blockers[k]! + 1]!++;
  }
  for (let i = 0; i < n; i++) outStart[i + 1]! += outStart[i]!;
  const out = new Uint32Array(blockers.length);
  const fill = outStart.slice(0, n);
  for (let k = 0; k < blockers.length; k++) out[fill[blockers[k]!]!++] = dependents[k]!;
  const level = new Uint32Array(n);
  const queue = new Uint32Array(n);
  let head = 0;
  let tail = 0;
  for (let i = 0; i < n; i++) if (indegree[i] === 0) queue[tail++] = i;
  while (head < tail) {
    const i = queue[head++]!;
    for (let e = outStart[i]!; e < outStart[i + 1]!; e++) {
      const d = out[e]!;
      if (level[i]! + 1 > level[d]!) level[d] = level[i]! + 1;
      if (--indegree[d]! === 0) queue[tail++] = d;
    }
  }
  return level;
}

/** Above this many id runs, group counts are taken job by job (groupStatusCounts) rather than per run. */
export const MAX_COUNTED_RUNS = 256;

/** Group counts from per-run counts (countStatusesInRanges over the model's runs, in order). */
export function groupCountsFromRuns(model: DagModel, runCounts: Int32Array): Int32Array {
  const counts = new Int32Array(model.groups.length * STATUS_CODES);
  for (let g = 0; g < model.groups.length; g++) {
    for (let r = model.runStart[g]!; r < model.runStart[g + 1]!; r++) {
      for (let c = 0; c < STATUS_CODES; c++) counts[g * STATUS_CODES + c]! += runCounts[r * STATUS_CODES + c]!;
    }
  }
  return counts;
}

/** The job indices drawn as job nodes for the expanded groups. */
export function shownMembers(model: DagModel, expanded: ReadonlySet<number>): number[] {
  const out: number[] = [];
  for (const g of expanded) {
    if (g >= model.groups.length) continue;
    const start = model.memberStart[g]!;
    const end = Math.min(model.memberStart[g + 1]!, start + MAX_EXPANDED_JOBS);
    for (let m = start; m < end; m++) out.push(model.memberIndex[m]!);
  }
  return out;
}

/** Jobs per status code in each group: counts[g * STATUS_CODES + code]. */
export function groupStatusCounts(model: DagModel, statusAt: (i: number) => number): Int32Array {
  const counts = new Int32Array(model.groups.length * STATUS_CODES);
  const n = model.groupOf.length;
  for (let i = 0; i < n; i++) counts[model.groupOf[i]! * STATUS_CODES + statusAt(i)]!++;
  return counts;
}

export interface DagViewNode {
  /** `g3` (a group), `j1234` (a job), `m3` (the jobs of group 3 not drawn). */
  key: string;
  kind: 'group' | 'job' | 'more';
  group: number;
  label: string;
  size: number;
  /** Job nodes: the job id and its status code. */
  job_id?: number;
  status?: number;
  /** Group and more nodes: jobs per status code (length STATUS_CODES). */
  counts?: number[];
  expanded?: boolean;
  internal_edges?: number;
  example?: string;
}

export interface DagView {
  nodes: DagViewNode[];
  edges: { from: string; to: string; count: number }[];
}

/**
 * The nodes and edges to draw: groups, except the expanded ones, which show their jobs.
 * `statusAt(i)` gives the status code of a drawn job (shownMembers); `counts` the group counts.
 */
export function dagView(model: DagModel, counts: Int32Array, statusAt: (i: number) => number, expanded: ReadonlySet<number>): DagView {
  const nodes: DagViewNode[] = [];
  const { ids, names } = model.structure;
  const countsOf = (g: number) => Array.from(counts.subarray(g * STATUS_CODES, (g + 1) * STATUS_CODES));
  // Visible key of each member of an expanded group (others map through their group).
  const jobKey = new Map<number, string>();
  for (const group of model.groups) {
    const g = group.index;
    if (!expanded.has(g)) {
      nodes.push({ key: `g${g}`, kind: 'group', group: g, label: group.label, size: group.size, counts: countsOf(g), expanded: false, internal_edges: group.internal_edges, example: group.example });
      continue;
    }
    const start = model.memberStart[g]!;
    const end = model.memberStart[g + 1]!;
    const shown = Math.min(end - start, MAX_EXPANDED_JOBS);
    for (let m = start; m < start + shown; m++) {
      const i = model.memberIndex[m]!;
      const key = `j${ids[i]}`;
      jobKey.set(i, key);
      nodes.push({ key, kind: 'job', group: g, label: names[i]!, size: 1, job_id: ids[i]!, status: statusAt(i) });
    }
    if (end - start > shown) {
      // The group's counts less the jobs drawn: statusAt is only asked about drawn jobs.
      const rest = countsOf(g);
      for (let m = start; m < start + shown; m++) rest[statusAt(model.memberIndex[m]!)]!--;
      nodes.push({ key: `m${g}`, kind: 'more', group: g, label: group.label, size: end - start - shown, counts: rest });
    }
  }
  const keyOf = (i: number) => {
    const g = model.groupOf[i]!;
    if (!expanded.has(g)) return `g${g}`;
    return jobKey.get(i) ?? `m${g}`;
  };
  let edges: DagView['edges'];
  if (expanded.size === 0) {
    edges = model.groupEdges.map((e) => ({ from: `g${e.from}`, to: `g${e.to}`, count: e.count }));
  } else {
    const agg = new Map<string, number>();
    const { blockers, dependents } = model.structure;
    for (let k = 0; k < blockers.length; k++) {
      const b = blockers[k]!;
      const d = dependents[k]!;
      const gb = model.groupOf[b]!;
      const gd = model.groupOf[d]!;
      if (gb === gd && !expanded.has(gb)) continue;
      const from = keyOf(b);
      const to = keyOf(d);
      if (from === to) continue;
      const key = `${from}>${to}`;
      agg.set(key, (agg.get(key) ?? 0) + 1);
    }
    edges = [...agg].map(([key, count]) => {
      const [from, to] = key.split('>') as [string, string];
      return { from, to, count };
    });
  }
  return { nodes, edges };
}
