/**
 * Jobs per status in each DAG group, read from the store: per id run in the status index when
 * the groups are few runs of consecutive ids (sweeps stored in one go: ~100 ms for 1M jobs),
 * else job by job.
 */
import { countStatusesInRanges, indexOfIds, jobStatusString } from '../../store/dashboard.js';
import type { Queryable } from '../../store/db.js';
import { groupCountsFromRuns, groupStatusCounts, MAX_COUNTED_RUNS, type DagModel } from './dag.js';

export async function readGroupCounts(q: Queryable, workflowId: number, model: DagModel): Promise<Int32Array> {
  if (model.runLo.length <= MAX_COUNTED_RUNS) {
    return groupCountsFromRuns(model, await countStatusesInRanges(q, workflowId, model.runLo, model.runHi));
  }
  const { ids, statuses } = await jobStatusString(q, workflowId);
  const codes = new Uint8Array(model.groupOf.length);
  const index = indexOfIds(model.structure.ids);
  for (let k = 0; k < ids.length; k++) {
    const i = index(ids[k]!);
    if (i >= 0) codes[i] = statuses.charCodeAt(k) - 48;
  }
  return groupStatusCounts(model, (i) => codes[i]!);
}
