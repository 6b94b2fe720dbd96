/**
 * watchCommits: a commit to the database file by another process (the real `torc` command,
 * `torc workflows cancel --db`) is noticed through the file's change notification and
 * `PRAGMA data_version`, as `torc tui --db` needs.
 */
import test from 'ava';
import { watchCommits } from '../../src/store/file-changes.js';
import { Store } from '../../src/store/index.js';
import { runTorc } from '../support/cli.js';
import { makePlan } from '../support/plans.js';
import { waitFor } from '../support/procs.js';
import { tempDbPath } from '../support/store.js';

test('a commit by another process is noticed, and one of our own writer', async (t) => {
  const file = await tempDbPath(t);
  const store = await Store.open(file);
  t.teardown(() => store.close());
  const wf = await store.createWorkflowFromPlan(makePlan({ jobs: [{ name: 'a' }, { name: 'b', after: ['a'] }] }));
  let commits = 0;
  const watch = await watchCommits(store.db, file, () => commits++);
  t.teardown(() => watch.close());

  const cancel = await runTorc(['workflows', 'cancel', String(wf.id), '--db', file]);
  t.is(cancel.code, 0, cancel.stderr);
  await waitFor(() => commits > 0, 60_000, 'the other process commit to be noticed');
  t.is((await store.getWorkflow(wf.id)).status, 'canceled', 'what was noticed is readable');

  // This process's own writer is "another connection" too: its commits count as well.
  const before = commits;
  await store.resetStatus(wf.id);
  await waitFor(() => commits > before, 60_000, 'our own commit to be noticed');
});
