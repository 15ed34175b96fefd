/**
 * The iproto server: listens on a Network address, greets every connection with Tarantool's
 * 128-byte greeting (fresh salt each), and serves it with a ServerSession.
 */

import type { Log } from '../env/log.ts';
import type { Connection, Listener, Network } from '../env/network.ts';
import type { Random } from '../env/random.ts';
import { assert } from '../lib/assert.ts';
import type { IprotoBackend } from './backend.ts';
import { ANNOUNCED_VERSION, GREETING_SALT_BYTES } from './constants.ts';
import { buildGreeting } from './greeting.ts';
import { ServerSession } from './session.ts';

/** Greetings sent whose connection the listener has not handed over yet (bounded by accepts in flight). */
const PENDING_GREETINGS_MAX = 64 * 1024;

export interface IprotoServerOptions {
  readonly address: string;
  readonly backend: IprotoBackend;
  /** Shown in the greeting; a random one when absent. */
  readonly instanceUuid?: string;
}

export interface IprotoServerEnv {
  readonly net: Network;
  readonly random: Random;
  readonly log: Log;
}

export class IprotoServer {
  private readonly sessions = new Map<number, ServerSession>();
  private listener: Listener | null = null;
  private nextSessionId = 1;
  /**
   * Salts of greetings already sent, oldest first. The Network calls the greeting hook and then
   * hands over the connection, in the same order for every connection (possibly with other
   * connections' greetings in between, in the simulator), so a FIFO pairs each with its salt.
   */
  private readonly pendingSalts: Uint8Array[] = [];
  private readonly env: IprotoServerEnv;
  private readonly backend: IprotoBackend;
  private readonly instanceUuid: string;

  private constructor(env: IprotoServerEnv, options: IprotoServerOptions) {
    this.env = env;
    this.backend = options.backend;
    this.instanceUuid = options.instanceUuid ?? env.random.uuid();
  }

  /** Starts listening; rejects with the Network's NetError (EADDRINUSE...). */
  static async listen(env: IprotoServerEnv, options: IprotoServerOptions): Promise<IprotoServer> {
    const server = new IprotoServer(env, options);
    server.listener = await env.net.listen(options.address, (connection) => server.accept(connection), {
      greeting: () => server.greeting(),
    });
    return server;
  }

  /** The bound address (with the real port when listening on port 0). */
  get address(): string {
    assert(this.listener !== null, 'server is not listening');
    return this.listener.address;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Stops accepting and closes every connection. */
  close(): void {
    this.listener?.close();
    this.listener = null;
    for (const session of [...this.sessions.values()]) session.close();
  }

  private greeting(): Uint8Array {
    assert(this.pendingSalts.length < PENDING_GREETINGS_MAX, 'greetings without connections pile up');
    const salt = this.env.random.bytes(GREETING_SALT_BYTES);
    this.pendingSalts.push(salt);
    return buildGreeting(ANNOUNCED_VERSION, this.instanceUuid, salt);
  }

  private accept(connection: Connection): void {
    const salt = this.pendingSalts.shift();
    assert(salt !== undefined, 'a connection arrived without a greeting');
    const id = this.nextSessionId++;
    const session = new ServerSession(id, connection, this.backend, salt, this.env.log);
    this.sessions.set(id, session);
    session.start(() => this.sessions.delete(id));
  }
}
