/**
 * Connections to other instances for RPC: one iproto client per address, opened on first use,
 * reopened after it closes. Calls to one address travel over one connection, so they reach the
 * peer in the order they were made (Raft messages rely on that to stay mostly ordered).
 */

import type { MpValue } from '../codec/msgpack.ts';
import type { Env } from '../env/env.ts';
import { IprotoClient, type ClientError, type Result } from '../iproto/client.ts';

export type { ClientError, Result };

/** Peers cached at once; beyond it the least recently used connection is closed. */
export const PEER_CONNECTIONS_MAX = 256;
export const RPC_CONNECT_TIMEOUT_MS = 1_000;

export class PeerPool {
  private readonly env: Env;
  private readonly clients = new Map<string, Promise<Result<IprotoClient>>>();
  private closed = false;

  constructor(env: Env) {
    this.env = env;
  }

  /** Calls `proc(...args)` on `address`. Never rejects: failures come back as a Result. */
  async call(address: string, proc: string, args: readonly MpValue[], timeoutMs: number): Promise<Result<MpValue[]>> {
    if (this.closed) return { ok: false, error: { kind: 'closed', message: 'peer pool closed' } };
    const client = await this.client(address);
    if (!client.ok) return client;
    const result = await client.value.call(proc, args, { timeoutMs });
    // BUGGIFY: connections die between calls; the next call must reconnect. Only an idle one:
    // calls in flight on it are other callers' (Raft, the governor), and killing those at the
    // rate buggify fires failed every retry of a routed write after healing (vshard-routing
    // seed 52128); in-flight calls die by the network faults' resets and partitions.
    if (client.value.requestsPending === 0 && this.env.buggify('rpc.connection.reset')) client.value.close();
    return result;
  }

  private client(address: string): Promise<Result<IprotoClient>> {
    const cached = this.clients.get(address);
    if (cached !== undefined) {
      // Refresh recency for the LRU bound.
      this.clients.delete(address);
      this.clients.set(address, cached);
      return cached.then((r) => (r.ok && r.value.isClosed ? this.reconnect(address) : r));
    }
    return this.reconnect(address);
  }

  private reconnect(address: string): Promise<Result<IprotoClient>> {
    const pending = IprotoClient.connect(this.env, address, { connectTimeoutMs: RPC_CONNECT_TIMEOUT_MS });
    this.clients.set(address, pending);
    void pending.then((r) => {
      if (!r.ok) {
        // Do not cache a failure: the next call tries again.
        if (this.clients.get(address) === pending) this.clients.delete(address);
        return;
      }
      r.value.onClose(() => {
        if (this.clients.get(address) === pending) this.clients.delete(address);
      });
      if (this.closed) r.value.close();
    });
    this.evictIfFull();
    return pending;
  }

  private evictIfFull(): void {
    while (this.clients.size > PEER_CONNECTIONS_MAX) {
      const [oldest, client] = this.clients.entries().next().value as [string, Promise<Result<IprotoClient>>];
      this.clients.delete(oldest);
      void client.then((r) => r.ok && r.value.close());
    }
  }

  /** Requests outstanding to `address` (0 when not connected). */
  async pending(address: string): Promise<number> {
    const cached = this.clients.get(address);
    if (cached === undefined) return 0;
    const r = await cached;
    return r.ok ? r.value.requestsPending : 0;
  }

  closeAll(): void {
    this.closed = true;
    for (const client of this.clients.values()) void client.then((r) => r.ok && r.value.close());
    this.clients.clear();
  }
}

export function describeClientError(error: ClientError): string {
  switch (error.kind) {
    case 'server':
      return error.message;
    case 'timeout':
      return 'timeout';
    case 'closed':
      return error.message;
  }
}
