/**
 * Placement of one job on a runner's nodes during a decision. A single-node job goes on ONE
 * node with room (never pooled across nodes); a multi-node job takes num_nodes whole idle
 * nodes, which then take nothing else.
 *
 * Heuristic: best fit. Among the nodes with room, the job goes where the least is left
 * over: first the fewest spare GPUs (so CPU jobs do not strand GPU nodes), then the least
 * CPU + memory left (each as a fraction of the largest node). Packing the fullest node first
 * keeps large holes for large jobs.
 */
import { fitsOn, isMultiNode, subtract, type FreeResources } from './fit.js';
import type { NodeCapacity, ResourceNeed } from './types.js';

interface WorkingNode {
  name: string;
  free: FreeResources;
  /** No job runs or was placed here: a multi-node job may take it. */
  idle: boolean;
}

export class Placer {
  private readonly nodes: WorkingNode[];
  private readonly cpuScale: number;
  private readonly memScale: number;

  constructor(nodes: readonly NodeCapacity[]) {
    this.nodes = nodes.map((n) => ({
      name: n.name,
      free: { num_cpus: n.num_cpus, memory_bytes: n.memory_bytes, num_gpus: n.num_gpus },
      idle: !n.busy,
    }));
    let cpuScale = 1;
    let memScale = 1;
    for (const n of nodes) {
      cpuScale = Math.max(cpuScale, n.num_cpus);
      memScale = Math.max(memScale, n.memory_bytes);
    }
    this.cpuScale = cpuScale;
    this.memScale = memScale;
  }

  /** Places the job and returns its node names, or null (and changes nothing) when it does not fit. */
  place(need: ResourceNeed): string[] | null {
    return isMultiNode(need) ? this.placeMulti(need) : this.placeSingle(need);
  }

  private placeSingle(need: ResourceNeed): string[] | null {
    let best: WorkingNode | null = null;
    let bestGpus = Infinity;
    let bestRest = Infinity;
    for (const node of this.nodes) {
      if (!fitsOn(need, node.free)) continue;
      const spareGpus = node.free.num_gpus - need.num_gpus;
      const rest = this.leftover(node, need);
      if (spareGpus < bestGpus || (spareGpus === bestGpus && rest < bestRest)) {
        best = node;
        bestGpus = spareGpus;
        bestRest = rest;
      }
    }
    if (!best) return null;
    subtract(best.free, need);
    best.idle = false;
    return [best.name];
  }

  private placeMulti(need: ResourceNeed): string[] | null {
    const fitting = this.nodes.filter((n) => n.idle && fitsOn(need, n.free));
    if (fitting.length < need.num_nodes) return null;
    // Smallest sufficient nodes first, as for single-node jobs.
    const chosen = fitting
      .map((node, i) => ({ node, i, gpus: node.free.num_gpus - need.num_gpus, rest: this.leftover(node, need) }))
      .sort((a, b) => a.gpus - b.gpus || a.rest - b.rest || a.i - b.i)
      .slice(0, need.num_nodes)
      .map((c) => c.node);
    for (const node of chosen) {
      // Whole nodes: nothing else is placed beside a multi-node job.
      node.free = { num_cpus: 0, memory_bytes: 0, num_gpus: 0 };
      node.idle = false;
    }
    return chosen.map((n) => n.name);
  }

  private leftover(node: WorkingNode, need: ResourceNeed): number {
    return (node.free.num_cpus - need.num_cpus) / this.cpuScale + (node.free.memory_bytes - need.memory_bytes) / this.memScale;
  }
}
