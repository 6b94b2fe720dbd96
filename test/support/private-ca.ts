/**
 * A private CA and a server certificate it signed, made with the real openssl in a temp dir:
 * for tests of HTTPS servers whose clients must be given the CA (--ca-file, TORC_CA_FILE).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface PrivateCa {
  /** PEM files: the CA certificate, the server certificate and its key. */
  caFile: string;
  certFile: string;
  keyFile: string;
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

/** Writes ca.pem, server.pem and server.key into `dir`; the server certificate names `ip` (and localhost). */
export function makePrivateCa(dir: string, ip: string): PrivateCa {
  const f = (name: string) => path.join(dir, name);
  const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=torc test CA', '-keyout', f('ca.key'), '-out', f('ca.pem'),
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${ip}`, '-keyout', f('server.key'), '-out', f('server.csr')]);
  writeFileSync(f('server.ext'), `subjectAltName=IP:${ip},DNS:localhost\nextendedKeyUsage=serverAuth\n`);
  openssl(['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', f('server.ext'), '-out', f('server.pem')]);
  return {
    caFile: f('ca.pem'), certFile: f('server.pem'), keyFile: f('server.key'),
    ca: readFileSync(f('ca.pem')), cert: readFileSync(f('server.pem')), key: readFileSync(f('server.key')),
  };
}
