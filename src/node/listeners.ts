import { type HttpGateway, startHttpGateway } from '../http/gateway.js';
import { type MetricsServer, startMetricsServer } from '../http/metrics-server.js';
import type { GatewayNode } from '../http/types.js';
import type { ConnectionHost } from '../server/host.js';
import type { NodeSecurity } from '../server/node-security.js';
import { startUdp, type UdpEndpoint } from '../server/udp.js';
import { listenTcp } from '../transport/tcp.js';
import type { Conduit, TransportListener } from '../transport/types.js';

export interface ListenerParts {
  /** The node as the HTTP gateway and the metrics port see it. */
  readonly node: GatewayNode;
  readonly security: NodeSecurity;
  /** What UDP sessions get from the node, as every connection does. */
  readonly connection: ConnectionHost;
  nextSessionId(): number;
  draining(): boolean;
  /** Where every transport hands its conduits. */
  accept(conduit: Conduit): void;
}

/**
 * The node's ports: TCP, TLS (and any listener added later, such as a WebSocket's), UDP, the HTTP gateway and
 * the metrics port. They open in that order; the node closes them in the order a drain needs (node.ts).
 */
export class NodeListeners {
  readonly #parts: ListenerParts;
  readonly #transports: TransportListener[] = [];
  #http: HttpGateway | undefined;
  #metricsServer: MetricsServer | undefined;
  #udp: UdpEndpoint | undefined;

  constructor(parts: ListenerParts) {
    this.#parts = parts;
  }

  /** Listens on TCP host:port; resolves with the bound address. */
  async listenTcp(): Promise<{ host: string; port: number }> {
    const { options } = this.#parts.node;
    const tcp = await listenTcp({ host: options.host, port: options.port }, (c) => this.#parts.accept(c));
    this.#transports.push(tcp);
    return tcp.address();
  }

  /** After TCP: TLS when it has a certificate, UDP (on the TCP port unless told), HTTP, the metrics port. */
  async listenOthers(tcpPort: number): Promise<void> {
    const { node, security, accept } = this.#parts;
    const options = node.options;
    const tls = await security.listen((c) => accept(c));
    if (tls !== undefined) this.#transports.push(tls);
    if (options.udp.enabled) {
      this.#udp = await startUdp(
        {
          connection: this.#parts.connection,
          nextSessionId: () => this.#parts.nextSessionId(),
          draining: () => this.#parts.draining(),
          accept: (conduit) => accept(conduit),
        },
        tcpPort,
      );
      // §13.3.3 Keys of every accepted token, stored ones included, now and whenever the store changes.
      const udp = this.#udp;
      const auth = this.#parts.connection.auth;
      const followTokens = () => udp.keys.replace(auth.digests(), options.auth.anonymous);
      followTokens();
      security.onTokens(followTokens);
    }
    if (options.http.enabled) {
      const http = await startHttpGateway(node);
      this.#http = http;
      security.onReload((material) => http.setTlsMaterial(material));
    }
    const metricsPort = options.http.metricsPort;
    if (metricsPort !== undefined && options.http.metrics)
      this.#metricsServer = await startMetricsServer(node, metricsPort);
  }

  /** Adds another listener's conduits (WebSocket, TLS) to this node. */
  add(listener: TransportListener): void {
    this.#transports.push(listener);
  }

  /** The TCP address, once started. */
  address(): { host: string; port: number } {
    const tcp = this.#transports.find((l) => l.kind === 'tcp');
    if (tcp === undefined) throw new Error('node is not listening');
    return tcp.address();
  }

  tlsAddress(): { host: string; port: number } | undefined {
    return this.#transports.find((l) => l.kind === 'tls')?.address();
  }

  get http(): HttpGateway | undefined {
    return this.#http;
  }

  get metricsServer(): MetricsServer | undefined {
    return this.#metricsServer;
  }

  get udp(): UdpEndpoint | undefined {
    return this.#udp;
  }

  /** Stops the stream listeners (TCP, TLS, added ones) taking connections. */
  closeTransports(): Promise<unknown> {
    return Promise.all(this.#transports.map((l) => l.close()));
  }

  /** A start that failed: everything that opened closes at once. */
  async closeAll(): Promise<void> {
    await this.#metricsServer?.close();
    await this.#http?.close(0);
    await this.closeTransports();
    await this.#udp?.close();
  }
}
