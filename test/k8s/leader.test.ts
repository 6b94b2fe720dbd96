/** Lease leader election against the API-server fake (or a real cluster with TORC_K8S_REAL=1). */
import test from 'ava';
import { CoordinationV1Api } from '@kubernetes/client-node';
import { LeaderElector, type LeaderElectionOptions } from '../../src/runners/k8s/leader.js';
import { waitFor } from '../support/k8s/cluster.js';
import { REAL, openCluster } from '../support/k8s/target.js';

const FAST = { leaseDurationSeconds: 2, renewDeadlineSeconds: 1, retryPeriodSeconds: 0.1 };

async function setup(t: Parameters<typeof openCluster>[0]) {
  const c = await openCluster(t, { crd: false });
  const api = c.kc.makeApiClient(CoordinationV1Api);
  const electors: LeaderElector[] = [];
  const make = (identity: string, extra: Partial<LeaderElectionOptions> = {}) => {
    const e = new LeaderElector(api, { namespace: c.namespace, name: 'torc-operator', identity, ...FAST, ...extra });
    electors.push(e);
    return e;
  };
  t.teardown(async () => { await Promise.all(electors.map((e) => e.stop({ release: false }))); });
  const lease = () => api.readNamespacedLease({ namespace: c.namespace, name: 'torc-operator' });
  return { ...c, api, make, lease };
}

test('one of two candidates leads; on release the other takes over at once', async (t) => {
  const { make, lease } = await setup(t);
  const log: string[] = [];
  const a = make('a', { onStartedLeading: () => log.push('a+'), onStoppedLeading: () => log.push('a-') });
  const b = make('b', { onStartedLeading: () => log.push('b+'), onStoppedLeading: () => log.push('b-') });
  void a.start();
  await waitFor(() => a.isLeader, 'a to lead');
  void b.start();
  // b keeps trying (retry period 0.1 s) and must not win while a renews.
  await new Promise((r) => setTimeout(r, 500));
  t.false(b.isLeader);
  t.is((await lease()).spec?.holderIdentity, 'a');
  await a.stop();
  await waitFor(() => b.isLeader, 'b to take over after release');
  const l = await lease();
  t.is(l.spec?.holderIdentity, 'b');
  t.is(l.spec?.leaseTransitions, 1);
  t.deepEqual(log, ['a+', 'a-', 'b+']);
});

test('a crashed leader (no release) is replaced only after the lease duration', async (t) => {
  const { make, lease } = await setup(t);
  const a = make('a');
  t.true(await a.tryAcquireOrRenew());
  const b = make('b');
  const seenAt = Date.now();
  t.false(await b.tryAcquireOrRenew(), 'the fresh lease belongs to a');
  void b.start();
  await waitFor(() => b.isLeader, 'b to take the expired lease');
  t.true(Date.now() - seenAt >= FAST.leaseDurationSeconds * 1000 - 50, 'not before the lease expired on b’s clock');
  t.is((await lease()).spec?.holderIdentity, 'b');
});

test('racing candidates: exactly one wins the create and the takeover (resourceVersion conflicts)', async (t) => {
  const { make } = await setup(t);
  const racers = ['r1', 'r2', 'r3', 'r4'].map((id) => make(id));
  const first = await Promise.all(racers.map((r) => r.tryAcquireOrRenew()));
  t.is(first.filter(Boolean).length, 1);
  // Everyone's clock jumps past the lease; they race for the takeover.
  let offset = 0;
  const clocked = ['s1', 's2', 's3'].map((id) => make(id, { now: () => Date.now() + offset }));
  t.deepEqual(await Promise.all(clocked.map((r) => r.tryAcquireOrRenew())), [false, false, false]);
  offset = 10_000;
  const second = await Promise.all(clocked.map((r) => r.tryAcquireOrRenew()));
  t.is(second.filter(Boolean).length, 1);
});

(REAL ? test.skip : test)('a leader that cannot renew steps down before the lease could be taken', async (t) => {
  const c = await setup(t);
  const fake = c.fake!;
  let stoppedAt = 0;
  const a = c.make('a', { onStoppedLeading: () => { stoppedAt = Date.now(); } });
  void a.start();
  await waitFor(() => a.isLeader, 'a to lead');
  const lastOk = Date.now();
  fake.server.injectFault({ match: (r) => r.resource === 'leases' && r.verb === 'update', code: 500, times: Infinity });
  await waitFor(() => stoppedAt > 0, 'a to step down');
  t.false(a.isLeader);
  t.true(stoppedAt - lastOk < FAST.leaseDurationSeconds * 1000, 'stepped down within the lease duration');
  fake.server.clearFaults();
  await waitFor(() => a.isLeader, 'a to lead again once the API recovers');
});

test('explicitly undefined timings take the defaults (a 15 s lease)', async (t) => {
  const { make, lease } = await setup(t);
  const e = make('d', { leaseDurationSeconds: undefined, renewDeadlineSeconds: undefined, retryPeriodSeconds: undefined });
  t.true(await e.tryAcquireOrRenew());
  t.is((await lease()).spec?.leaseDurationSeconds, 15);
});

test('renewDeadline must be shorter than the lease', (t) => {
  t.throws(() => new LeaderElector({} as CoordinationV1Api, { namespace: 'n', name: 'l', identity: 'x', leaseDurationSeconds: 5, renewDeadlineSeconds: 5 }), { instanceOf: RangeError });
});
