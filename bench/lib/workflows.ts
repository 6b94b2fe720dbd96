/** Workflows the benchmarks store directly (not timed): through the real spec pipeline and store. */
import { loadWorkflowText, planDocument } from '../../src/spec/index.js';
import { Store } from '../../src/store/index.js';

/** N independent no-op jobs (`true`) in one resource class. */
export function noopSpec(n: number, name = `noop_${n}`): string {
  return `name: ${name}\njobs:\n  - name: job_{i}\n    command: "true"\n    parameters:\n      i: "1:${n}"\n`;
}

/** Stores `specText` in `store` (create + initialize); returns the workflow id. */
export async function storeWorkflow(store: Store, specText: string): Promise<number> {
  const docs = loadWorkflowText(specText);
  const plan = planDocument(docs[0]!);
  const applied = await store.applyPlan(plan);
  await store.initializeJobs(applied.workflow_id);
  return applied.workflow_id;
}

export async function createWorkflowFile(dbPath: string, specText: string): Promise<number> {
  const store = await Store.open(dbPath);
  try {
    return await storeWorkflow(store, specText);
  } finally {
    await store.close();
  }
}
