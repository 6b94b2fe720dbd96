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

/**
 * A clock the test moves: lease expiry and the renew deadline are decided on the candidates'
 * clocks, so these tests step time themselves instead of sleeping and hoping that a busy machine
 * keeps up (a stalled event loop on real time could let a lease lapse, or miss a deadline).
 */
function manualClock(start = 1_700_000_000_000) {
  let ms = start;
  return { now: () => ms, advance: (by: number) => (ms += by), at: () => ms };
}

test('one of two candidates leads; while it renews the other never takes over; on release the other takes over at once', async (t) => {
  const { make, lease } = await setup(t);
  const clock = manualClock();
  const start = clock.at();
  const log: string[] = [];
  const a = make('a', { now: clock.now, onStartedLeading: () => log.push('a+'), onStoppedLeading: () => log.push('a-') });
  const b = make('b', { now: clock.now, onStartedLeading: () => log.push('b+'), onStoppedLeading: () => log.push('b-') });
  void a.start();
  await waitFor(() => a.isLeader, 'a to lead');
  void b.start();
  // Time runs well past the lease duration in steps shorter than it; after each step a renews
  // (the lease shows the new time) while b keeps trying (retry period 0.1 s): b must not win.
  const renewedAt = async () => new Date(String((await lease()).spec?.renewTime)).getTime();
  for (let step = 0; step < 8; step++) {
    clock.advance(FAST.renewDeadlineSeconds * 1000 * 0.6);
    await waitFor(async () => (await renewedAt()) === clock.at(), `a to renew at step ${step}`);
    t.false(b.isLeader, `b leads at step ${step}`);
  }
  t.true(clock.at() - start > 2 * FAST.leaseDurationSeconds * 1000, 'well past one lease duration');
  t.is((await lease()).spec?.holderIdentity, 'a');
  await a.stop();
  await waitFor(() => b.isLeader, 'b to take over after release');
  const l = await lease();
  t.is(l.spec?.holderIdentity, 'b');
  t.is(l.spec?.leaseTransitions, 1);
  t.deepEqual(log, ['a+', 'a-', 'b+']);
});

test('a crashed leader (no release) is replaced only after the lease duration on the candidate’s clock', async (t) => {
  const { make, lease } = await setup(t);
  const clock = manualClock();
  const a = make('a', { now: clock.now });
  t.true(await a.tryAcquireOrRenew());
  const b = make('b', { now: clock.now });
  t.false(await b.tryAcquireOrRenew(), 'the fresh lease belongs to a');
  clock.advance(FAST.leaseDurationSeconds * 1000 - 1);
  t.false(await b.tryAcquireOrRenew(), 'a millisecond before the lease expires on b’s clock, it is still a’s');
  t.is((await lease()).spec?.holderIdentity, 'a');
  clock.advance(1);
  // a never renewed (crashed): b's election loop takes the expired lease.
  void b.start();
  await waitFor(() => b.isLeader, 'b to take the expired lease');
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

(REAL ? test.skip : test)('a leader that cannot renew steps down at its renew deadline, before the lease could be taken', async (t) => {
  const c = await setup(t);
  const fake = c.fake!;
  const clock = manualClock();
  let stoppedAt = 0;
  const a = c.make('a', { now: clock.now, onStoppedLeading: () => { stoppedAt = clock.at(); } });
  void a.start();
  await waitFor(() => a.isLeader, 'a to lead');
  const lastOk = clock.at();
  let refused = 0;
  fake.server.injectFault({ match: (r) => r.resource === 'leases' && r.verb === 'update' && ++refused > 0, code: 500, times: Infinity });
  // Time moves in steps of a tenth of the renew deadline; each step waits for a failed renewal.
  const step = FAST.renewDeadlineSeconds * 100;
  while (stoppedAt === 0 && clock.at() - lastOk < FAST.leaseDurationSeconds * 1000) {
    clock.advance(step);
    const seen = refused;
    await waitFor(() => refused > seen || stoppedAt > 0, 'a to try to renew');
  }
  t.false(a.isLeader);
  t.true(stoppedAt > 0, 'a stepped down');
  t.true(stoppedAt - lastOk >= FAST.renewDeadlineSeconds * 1000, `not before its renew deadline (after ${stoppedAt - lastOk} ms)`);
  t.true(stoppedAt - lastOk < FAST.leaseDurationSeconds * 1000, `before the lease duration (after ${stoppedAt - lastOk} ms)`);
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
