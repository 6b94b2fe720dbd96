/**
 * The server address workers are given (never a wildcard) and how a multi-node scheduler's
 * allocations run their workers (one per node unless a job needs several nodes).
 */
import test from 'ava';
import { isWildcardHost, reachableApiUrl, workerUrlProblem } from '../../src/runners/slurm/server-address.js';
import { workerPerNode } from '../../src/reconciler/slurm-dispatch.js';
import { slurmScheduler } from '../support/plans.js';

test('a wildcard bind address becomes the host name; a specific one is kept', (t) => {
  t.is(reachableApiUrl('http://0.0.0.0:8080/torc-service/v1', '0.0.0.0', 'login1'), 'http://login1:8080/torc-service/v1');
  t.is(reachableApiUrl('http://[::]:8080/torc-service/v1', '::', 'login1'), 'http://login1:8080/torc-service/v1');
  t.is(reachableApiUrl('http://10.77.0.1:8080/torc-service/v1', '10.77.0.1', 'login1'), 'http://10.77.0.1:8080/torc-service/v1');
  t.is(reachableApiUrl('http://127.0.0.1:9/torc-service/v1', '127.0.0.1', 'login1'), 'http://127.0.0.1:9/torc-service/v1');
  t.true(isWildcardHost('0.0.0.0'));
  t.false(isWildcardHost('vm'));
});

test('a worker URL naming no host is refused with the reason; others pass', (t) => {
  t.regex(workerUrlProblem('http://0.0.0.0:8080/torc-service/v1') ?? '', /names no host/);
  t.regex(workerUrlProblem('not a url') ?? '', /expected an http\(s\) URL/);
  t.is(workerUrlProblem('http://vm:8080/torc-service/v1'), null);
});

test('nodes > 1: one worker per node unless a ready job it may serve needs several of its nodes', (t) => {
  const pair = { id: 1, scheduler: { ...slurmScheduler('pair'), nodes: 2 } };
  const single = { id: 2, scheduler: { ...slurmScheduler('single'), nodes: 1 } };
  const oneNode = { scheduler_id: 1, runtime_seconds: 60, num_nodes: 1, count: 5 };
  t.true(workerPerNode(pair, [oneNode]));
  t.false(workerPerNode(single, [oneNode]), 'one node: one worker, no srun step');
  t.false(workerPerNode(pair, [oneNode, { ...oneNode, num_nodes: 2, count: 1 }]), 'a 2-node job needs one worker offering both nodes');
  t.false(workerPerNode(pair, [{ ...oneNode, scheduler_id: null, num_nodes: 2 }]), 'an unbound 2-node job may go there too');
  t.true(workerPerNode(pair, [{ ...oneNode, scheduler_id: 7, num_nodes: 2 }]), "another scheduler's 2-node job does not count");
  t.true(workerPerNode(pair, [{ ...oneNode, num_nodes: 3 }]), 'a 3-node job can never run on 2 nodes');
});
