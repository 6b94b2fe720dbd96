/**
 * The grouped DAG of the dashboard (`GET /dashboard/workflows/{id}/dag`) as stages: each group
 * sits one stage after the latest of the groups it depends on (longest path), so a
 * setup → sweep → gather workflow reads as three stages with their counts. Groups can depend on
 * each other both ways (a_1 → b_1 → a_2 puts a_# and b_# in a cycle); such a cycle is broken at
 * its first group, so every group still gets a stage.
 */
import type { DashboardDag } from '../../api/dashboard/service.js';

export type DagNode = DashboardDag['nodes'][number];

export interface Stage {
  /** 1-based. */
  number: number;
  nodes: DagNode[];
  /** Jobs in the stage. */
  jobs: number;
}

export function stagesOf(dag: Pick<DashboardDag, 'nodes' | 'edges'>): Stage[] {
  const index = new Map(dag.nodes.map((n, i) => [n.key, i]));
  const preds: number[][] = dag.nodes.map(() => []);
  const succs: number[][] = dag.nodes.map(() => []);
  for (const e of dag.edges) {
    const from = index.get(e.from);
    const to = index.get(e.to);
    if (from === undefined || to === undefined || from === to) continue;
    preds[to]!.push(from);
    succs[from]!.push(to);
  }
  const indegree = preds.map((p) => p.length);
  const level = new Array<number>(dag.nodes.length).fill(-1);
  const ready: number[] = [];
  indegree.forEach((d, i) => d === 0 && ready.push(i));
  let placed = 0;
  const place = (i: number) => {
    level[i] = preds[i]!.reduce((m, p) => (level[p]! >= 0 ? Math.max(m, level[p]! + 1) : m), 0);
    placed++;
    for (const s of succs[i]!) if (--indegree[s]! === 0) ready.push(s);
  };
  while (placed < dag.nodes.length) {
    const next = ready.shift();
    if (next !== undefined) {
      if (level[next]! < 0) place(next);
      continue;
    }
    // Only cycles are left: break one at its first group.
    const first = level.findIndex((l) => l < 0);
    indegree[first] = 0;
    place(first);
  }
  const stages: Stage[] = [];
  dag.nodes.forEach((n, i) => {
    const l = level[i]!;
    stages[l] ??= { number: l + 1, nodes: [], jobs: 0 };
    stages[l]!.nodes.push(n);
    stages[l]!.jobs += n.size;
  });
  return stages.filter(Boolean);
}
