/**
 * The typed client: server errors come back as the same classes with the server's message and
 * field; 401 and unreachable servers as ApiError; ids are checked before they reach a URL.
 */
import test from 'ava';
import { ApiError, TorcClient, errorFrom } from '../../src/api/client.js';
import { toErrorResponse } from '../../src/api/errors.js';
import { ConflictError, InputError, NotFoundError, TooLargeError } from '../../src/errors.js';
import { JobStatus } from '../../src/contract/status.js';
import { startTestApi } from '../support/api.js';
import { makePlan } from '../support/plans.js';

test('errors keep their class, message and field across HTTP', async (t) => {
  const api = await startTestApi(t);
  const wf = (await api.store.createWorkflowFromPlan(makePlan({ jobs: [{ name: 'a' }] }))).id;
  await api.client.initializeJobs(wf);

  const missing = await t.throwsAsync(() => api.client.getWorkflow(4242));
  t.true(missing instanceof NotFoundError);
  t.is(missing?.message, 'workflow 4242 not found');

  const claimed = await api.client.claimNextJobs(wf, 1);
  const conflict = await t.throwsAsync(() =>
    api.client.completeJob(claimed.jobs[0]!.id, 'completed', 1, { return_code: 0, exec_time_minutes: 0, completion_time: 'now' }),
  );
  t.true(conflict instanceof ConflictError);
  t.regex(conflict!.message, /pending, not running/);

  const bad = await t.throwsAsync(() => api.client.claimJobsBasedOnResources(wf, {
    capacity: { nodes: [{ name: 'n', num_cpus: -1, memory_bytes: 0, num_gpus: 0 }], time_limit_seconds: null, scheduler_config_id: null },
    limit: 1,
  }));
  t.true(bad instanceof InputError);
  t.is((bad as InputError).field, 'body.nodes[0].num_cpus');

  const idErr = await t.throwsAsync(() => api.client.getJob(-3));
  t.true(idErr instanceof InputError, 'a bad id is refused before any request');
});

test('401 and an unreachable server are ApiErrors', async (t) => {
  const api = await startTestApi(t, { token: 'right' });
  const wrong = new TorcClient(api.server.url, { token: 'wrong' });
  const unauthorized = await t.throwsAsync(() => wrong.createWorkflow({ name: 'x' }));
  t.true(unauthorized instanceof ApiError);
  t.is((unauthorized as ApiError).status, 401);
  // A wrong token is refused everywhere, even where no sign-in is needed; no token pings fine.
  t.is(((await t.throwsAsync(() => wrong.ping())) as ApiError).status, 401);
  t.deepEqual(await new TorcClient(api.server.url).ping(), { status: 'ok' });

  const port = api.server.port;
  await api.server.close();
  const gone = await t.throwsAsync(() => new TorcClient(`http://127.0.0.1:${port}`).ping());
  t.true(gone instanceof ApiError);
  t.is((gone as ApiError).status, 0);
  t.regex(gone!.message, /cannot reach/);
});

test('every error class round-trips through toErrorResponse and errorFrom', (t) => {
  const cases: [Error, number, new (...a: any[]) => Error][] = [
    [new InputError('expected an integer', 'body.limit'), 400, InputError],
    [new NotFoundError('job 9'), 404, NotFoundError],
    [new ConflictError('job 9 is ready, not running'), 409, ConflictError],
    [new TooLargeError('too big', 'body'), 413, TooLargeError],
  ];
  for (const [err, status, cls] of cases) {
    const res = toErrorResponse(err);
    t.is(res.status, status);
    t.false(res.internal);
    const back = errorFrom(res.status, res.body, 'x');
    t.true(back instanceof cls, err.name);
    t.is(back.message, err.message);
  }
  t.is(toErrorResponse(new InputError('bad spec', 'spec.jobs'), 422).status, 422);
  // A bug answers 500 without leaking its message.
  const bug = toErrorResponse(new TypeError('cannot read properties of undefined (secret internals)'));
  t.is(bug.status, 500);
  t.true(bug.internal);
  t.notRegex(bug.body.message, /secret/);
  const unique = Object.assign(new Error('SQLITE_CONSTRAINT: UNIQUE constraint failed: t.c'), { code: 'SQLITE_CONSTRAINT' });
  t.is(toErrorResponse(unique).status, 409);
  t.notRegex(toErrorResponse(unique).body.message, /SQLITE/);
});
