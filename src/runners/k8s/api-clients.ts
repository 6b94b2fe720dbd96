/**
 * Kubernetes API clients that reuse their connections. @kubernetes/client-node (1.4) builds a
 * new http(s).Agent for every request, so each call opens a fresh TCP connection — and, on a
 * real cluster, does a fresh TLS handshake: an operator creating tens of thousands of pods pays
 * that per pod. Here the client's own middleware hook swaps that agent for one keep-alive agent
 * per set of connection options (server certificate checks, client certificate), made once.
 * Proxy agents are left as they are.
 */
import http from 'node:http';
import https from 'node:https';
import { ServerConfiguration, createConfiguration, type Configuration, type KubeConfig, type RequestContext } from '@kubernetes/client-node';

type ApiType<T> = new (configuration: Configuration) => T;

/** The options of a plain agent that decide which server and identity it connects as. */
function connectionKey(options: https.AgentOptions): string {
  return JSON.stringify([options.rejectUnauthorized, options.servername, String(options.ca ?? ''), String(options.cert ?? ''), String(options.key ?? ''), String(options.pfx ?? '')]);
}

/** kc.makeApiClient(api), with connections kept alive and shared by every client made here from `kc`. */
export function makeApiClient<T>(kc: KubeConfig, api: ApiType<T>): T {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('no active cluster in the kubeconfig');
  const agents = agentsOf(kc);
  const reuse = async (ctx: RequestContext): Promise<RequestContext> => {
    const fresh = ctx.getAgent();
    if (!fresh || (fresh.constructor !== http.Agent && fresh.constructor !== https.Agent)) return ctx;
    const options = (fresh as http.Agent & { options: https.AgentOptions }).options;
    const key = `${fresh.constructor === https.Agent ? 'https' : 'http'} ${connectionKey(options)}`;
    let agent = agents.get(key);
    if (!agent) {
      agent = fresh.constructor === https.Agent ? new https.Agent({ ...options, keepAlive: true }) : new http.Agent({ ...options, keepAlive: true });
      agents.set(key, agent);
    }
    ctx.setAgent(agent);
    return ctx;
  };
  return new api(createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: kc },
    promiseMiddleware: [{ pre: reuse, post: async (response) => response }],
  }));
}

const shared = new WeakMap<KubeConfig, Map<string, http.Agent>>();

function agentsOf(kc: KubeConfig): Map<string, http.Agent> {
  let agents = shared.get(kc);
  if (!agents) shared.set(kc, (agents = new Map()));
  return agents;
}

/** Closes the idle kept-alive connections of the clients made from `kc` (on shutdown). */
export function closeApiConnections(kc: KubeConfig): void {
  for (const agent of shared.get(kc)?.values() ?? []) agent.destroy();
  shared.delete(kc);
}
