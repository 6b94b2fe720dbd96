/**
 * The address of the torc API that workers on compute nodes are given. A server bound to a
 * wildcard address (0.0.0.0, ::) accepts connections on every interface, but "0.0.0.0" as a
 * destination means "this machine": from another compute node it reaches that node itself.
 * So workers get the bind address when it is a specific one, else this host's name, which
 * every node of a cluster resolves to a reachable address of the login node.
 */
import os from 'node:os';

const WILDCARDS = new Set(['0.0.0.0', '::', '[::]', '']);

/** True for a bind address that listens everywhere and names no host. */
export function isWildcardHost(host: string): boolean {
  return WILDCARDS.has(host.trim());
}

/**
 * The URL workers and jobs use to reach a server listening on `bindHost`: `baseUrl` as it is
 * when the bind address is specific, else with the host part replaced by `hostname`.
 */
export function reachableApiUrl(baseUrl: string, bindHost: string, hostname: string = os.hostname()): string {
  if (!isWildcardHost(bindHost)) return baseUrl;
  const url = new URL(baseUrl);
  url.hostname = hostname.includes(':') ? `[${hostname}]` : hostname;
  return url.toString().replace(/\/$/, baseUrl.endsWith('/') ? '/' : '');
}

/** Why a URL cannot be given to workers on other nodes (a wildcard host), or null when it can. */
export function workerUrlProblem(url: string): string | null {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return `expected an http(s) URL, got "${url}"`;
  }
  if (isWildcardHost(host)) {
    return `${url} names no host: a worker on another node would call itself. Give the address or name of the server's host (e.g. http://${os.hostname()}:PORT/…)`;
  }
  return null;
}
