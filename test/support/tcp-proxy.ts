/**
 * A TCP proxy between a runner and its server, for outage tests (issue 24): in 'pass' it
 * forwards both ways; in 'stall' every connection, old and new, is held with its bytes where
 * they are (a network that stops moving packets, then heals: the held bytes flow on when it
 * passes again); in 'reset' every connection, old and new, is reset (RST), as a peer or a
 * middlebox that drops the connection state does. Real sockets on 127.0.0.1, nothing mocked.
 */
import net from 'node:net';

export type ProxyMode = 'pass' | 'stall' | 'reset';

interface Pair {
  client: net.Socket;
  upstream: net.Socket | null;
  /** Bytes held by a stall, per direction, in order. */
  toUpstream: Buffer[];
  toClient: Buffer[];
  held: boolean;
}

export class TcpProxy {
  private mode: ProxyMode = 'pass';
  private readonly pairs = new Set<Pair>();
  /** Connections accepted, reset, and held by a stall. */
  readonly stats = { connections: 0, resets: 0, stalled: 0 };

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
    private readonly targetPort: number,
  ) {}

  static async start(targetPort: number, host = '127.0.0.1'): Promise<TcpProxy> {
    let proxy: TcpProxy | undefined;
    const server = net.createServer((socket) => proxy!.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => resolve());
    });
    proxy = new TcpProxy(server, (server.address() as net.AddressInfo).port, targetPort);
    return proxy;
  }

  get current(): ProxyMode {
    return this.mode;
  }

  setMode(mode: ProxyMode): void {
    this.mode = mode;
    for (const pair of [...this.pairs]) {
      if (mode === 'reset') this.reset(pair);
      else if (mode === 'stall') this.hold(pair);
      else this.release(pair);
    }
  }

  async close(): Promise<void> {
    for (const pair of [...this.pairs]) this.reset(pair);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    this.stats.connections++;
    const pair: Pair = { client, upstream: null, toUpstream: [], toClient: [], held: false };
    this.pairs.add(pair);
    client.on('error', () => this.drop(pair));
    client.on('close', () => this.drop(pair));
    client.on('data', (chunk: Buffer) => {
      if (pair.held || !pair.upstream) pair.toUpstream.push(chunk);
      else pair.upstream.write(chunk);
    });
    if (this.mode === 'reset') return this.reset(pair);
    if (this.mode === 'stall') return this.hold(pair);
    this.connect(pair);
  }

  private connect(pair: Pair): void {
    const upstream = net.connect(this.targetPort, '127.0.0.1');
    pair.upstream = upstream;
    upstream.on('error', () => this.reset(pair));
    upstream.on('close', () => {
      if (!pair.held) pair.client.end();
    });
    upstream.on('data', (chunk: Buffer) => {
      if (pair.held) pair.toClient.push(chunk);
      else pair.client.write(chunk);
    });
    for (const chunk of pair.toUpstream.splice(0)) upstream.write(chunk);
  }

  /** Nothing moves either way; the bytes wait here. */
  private hold(pair: Pair): void {
    if (pair.held) return;
    this.stats.stalled++;
    pair.held = true;
  }

  /** The held bytes flow on, in order. */
  private release(pair: Pair): void {
    pair.held = false;
    if (!pair.upstream) return this.connect(pair);
    for (const chunk of pair.toUpstream.splice(0)) pair.upstream.write(chunk);
    for (const chunk of pair.toClient.splice(0)) pair.client.write(chunk);
    if (pair.upstream.destroyed) pair.client.end();
  }

  private reset(pair: Pair): void {
    if (!this.pairs.has(pair)) return;
    this.stats.resets++;
    this.pairs.delete(pair);
    if (!pair.client.destroyed) pair.client.resetAndDestroy();
    pair.upstream?.destroy();
  }

  private drop(pair: Pair): void {
    if (!this.pairs.delete(pair)) return;
    pair.upstream?.destroy();
  }
}
