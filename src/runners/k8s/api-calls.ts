/**
 * Every Kubernetes API call the operator makes, as RBAC sees it (group, resource, verb). The
 * deploy/ RBAC test checks that the manifests grant exactly these (no less, and nothing
 * unused); the operator scenarios check that the calls recorded by the API-server fake are all
 * in this list. Add a line here when the operator starts calling something new.
 */
export interface ApiCall {
  group: string;
  resource: string;
  verb: string;
  /** cluster: any watched namespace (ClusterRole); operator-namespace: only where the operator runs (Role). */
  scope: 'cluster' | 'operator-namespace';
  why: string;
  /**
   * rare: made only on an uncommon path (the operator scenarios may not see it);
   * implied: no request of its own, an authorization the API server checks for another call.
   */
  note?: 'rare' | 'implied';
}

export const OPERATOR_API_CALLS: readonly ApiCall[] = [
  { group: 'torc.dev', resource: 'workflows', verb: 'list', scope: 'cluster', why: 'informer: initial list and relist after 410 Gone' },
  { group: 'torc.dev', resource: 'workflows', verb: 'watch', scope: 'cluster', why: 'informer: watch Workflow changes' },
  { group: 'torc.dev', resource: 'workflows', verb: 'patch', scope: 'cluster', why: 'add / remove the torc.dev/cleanup finalizer' },
  { group: 'torc.dev', resource: 'workflows/status', verb: 'patch', scope: 'cluster', why: 'status subresource: phase, counts, conditions' },
  { group: 'torc.dev', resource: 'workflows/finalizers', verb: 'update', scope: 'cluster', why: 'pods set blockOwnerDeletion on their Workflow owner reference', note: 'implied' },
  { group: '', resource: 'pods', verb: 'create', scope: 'cluster', why: 'one pod per claimed job attempt' },
  { group: '', resource: 'pods', verb: 'delete', scope: 'cluster', why: 'stop jobs of a canceled or deleted workflow' },
  { group: '', resource: 'pods', verb: 'get', scope: 'cluster', why: 'an AlreadyExists pod: is it this job attempt?', note: 'rare' },
  { group: '', resource: 'pods', verb: 'list', scope: 'cluster', why: 'informer over all pods: node usage and job pods' },
  { group: '', resource: 'pods', verb: 'watch', scope: 'cluster', why: 'informer: pod phases → job start / completion' },
  { group: '', resource: 'nodes', verb: 'list', scope: 'cluster', why: 'informer: allocatable capacity' },
  { group: '', resource: 'nodes', verb: 'watch', scope: 'cluster', why: 'informer: readiness and capacity changes' },
  { group: '', resource: 'nodes/proxy', verb: 'get', scope: 'cluster', why: "resource monitoring: the kubelet's stats summary of nodes running job pods" },
  { group: '', resource: 'events', verb: 'create', scope: 'cluster', why: 'Events on Workflows' },
  { group: '', resource: 'events', verb: 'patch', scope: 'cluster', why: 'fold repeated Events into a count', note: 'rare' },
  { group: 'coordination.k8s.io', resource: 'leases', verb: 'get', scope: 'operator-namespace', why: 'leader election' },
  { group: 'coordination.k8s.io', resource: 'leases', verb: 'create', scope: 'operator-namespace', why: 'leader election: first candidate' },
  { group: 'coordination.k8s.io', resource: 'leases', verb: 'update', scope: 'operator-namespace', why: 'leader election: acquire / renew / release' },
];
