/**
 * A TCP relay between a client (sluice-cp) and a server (PostgreSQL) that a test controls, to
 * play each way a database goes away:
 *
 * - `refuse()`: existing connections are cut (the client sees "Connection terminated
 *   unexpectedly") and new ones refused (ECONNREFUSED: the port is closed);
 * - `cut()`: existing connections are cut, new ones accepted;
 * - `hang()`: nothing is forwarded either way, new connections included (a partition, or a server
 *   that stopped answering); bytes are held, and delivered in order by `restore()` (a healed
 *   network retransmits), even to a server whose client has meanwhile gone;
 * - `holdMatching(text)`: while forwarding, holds the first client chunk containing `text` (e.g.
 *   `commit`) and everything after it on that connection, until `restore()`;
 * - `restore()`: forward again.
 */
import { type AddressInfo, type Server, type Socket, createConnection, createServer } from 'node:net';

interface Pair {
  client: Socket;
  server: Socket;
  toServer: Buffer[];
  toClient: Buffer[];
  isHeld: boolean;
  isClientGone: boolean;
  isServerGone: boolean;
  isClientEnded: boolean;
  isServerEnded: boolean;
}

export type RelayMode = 'forward' | 'hang' | 'refuse';

export class TcpRelay {
  #server: Server | null = null;
  #port = 0;
  #mode: RelayMode = 'forward';
  #holdText: string | null = null;
  readonly #pairs = new Set<Pair>();
  /** Held connections whose client has gone but whose server is still open (bytes still to deliver, or being processed). */
  get orphans(): number {
    let n = 0;
    for (const pair of this.#pairs) if (pair.isClientGone && !pair.isServerGone) n++;
    return n;
  }

  /** Connections accepted since start. */
  accepted = 0;
  /** Chunks held by `holdMatching`, since start. */
  heldMatches = 0;

  private constructor(private readonly target: { host: string; port: number }) {}

  /** Starts a relay to `target` on a free loopback port. */
  static async start(target: { host: string; port: number }): Promise<TcpRelay> {
    const relay = new TcpRelay(target);
    await relay.#listen(0);
    return relay;
  }

  get port(): number {
    return this.#port;
  }

  get mode(): RelayMode {
    return this.#mode;
  }

  #listen(port: number): Promise<void> {
    // Half-open: a FIN is forwarded like data (held while hanging), so a client's graceful close
    // gets no answer from a hung database, as across a partition.
    const server = createServer({ allowHalfOpen: true }, (client) => this.#accept(client));
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        this.#port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  #accept(client: Socket): void {
    this.accepted++;
    const server = createConnection({ ...this.target, allowHalfOpen: true });
    const pair: Pair = { client, server, toServer: [], toClient: [], isHeld: this.#mode === 'hang', isClientGone: false, isServerGone: false, isClientEnded: false, isServerEnded: false };
    this.#pairs.add(pair);
    const close = () => {
      this.#pairs.delete(pair);
      client.destroy();
      server.destroy();
    };
    client.on('data', (chunk: Buffer) => {
      if (!pair.isHeld && this.#holdText !== null && chunk.toString('latin1').toLowerCase().includes(this.#holdText)) {
        pair.isHeld = true;
        this.heldMatches++;
      }
      if (pair.isHeld) pair.toServer.push(chunk);
      else server.write(chunk);
    });
    server.on('data', (chunk: Buffer) => {
      if (pair.isHeld) pair.toClient.push(chunk);
      else if (!pair.isClientGone) client.write(chunk);
    });
    client.on('end', () => {
      // A client that sent its FIN sends nothing more: for what is held, it has gone.
      if (pair.isHeld) pair.isClientEnded = pair.isClientGone = true;
      else server.end();
    });
    server.on('end', () => {
      if (pair.isHeld) pair.isServerEnded = true;
      else client.end();
    });
    // A held pair outlives its client: the held bytes still reach the server on restore().
    client.on('close', () => {
      pair.isClientGone = true;
      if (!pair.isHeld) close();
    });
    // And a held server's close (its own timeouts) is held too: the client sees nothing.
    server.on('close', () => {
      pair.isServerGone = true;
      if (!pair.isHeld) close();
    });
    client.on('error', () => undefined);
    server.on('error', () => undefined);
  }

  /** Cuts every connection now. */
  cut(): void {
    for (const pair of [...this.#pairs]) {
      this.#pairs.delete(pair);
      pair.client.destroy();
      pair.server.destroy();
    }
  }

  /** Cuts every connection and refuses new ones until {@link restore}. */
  async refuse(): Promise<void> {
    this.#mode = 'refuse';
    const server = this.#server;
    this.#server = null;
    this.cut();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Forwards nothing until {@link restore}. */
  hang(): void {
    this.#mode = 'hang';
    for (const pair of this.#pairs) pair.isHeld = true;
  }

  /** Holds, on each connection, the first client chunk containing `text` and all that follows. */
  holdMatching(text: string): void {
    this.#holdText = text.toLowerCase();
  }

  /** Forwards again, delivering held bytes in order; a held connection whose client has gone is then closed. */
  async restore(): Promise<void> {
    this.#holdText = null;
    if (this.#mode === 'refuse') await this.#listen(this.#port);
    this.#mode = 'forward';
    for (const pair of [...this.#pairs]) {
      if (!pair.isHeld) continue;
      pair.isHeld = false;
      for (const chunk of pair.toServer.splice(0)) pair.server.write(chunk);
      if (pair.isClientGone) {
        // Like a healed network: the data, then the FIN of the client that closed meanwhile.
        if (pair.isServerGone) this.#pairs.delete(pair);
        else pair.server.end();
        continue;
      }
      if (pair.isClientEnded) pair.server.end();
      for (const chunk of pair.toClient.splice(0)) pair.client.write(chunk);
      if (pair.isServerGone || pair.isServerEnded) pair.client.end();
    }
  }

  async close(): Promise<void> {
    this.cut();
    const server = this.#server;
    this.#server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
