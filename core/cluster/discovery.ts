/**
 * Discovery, sans-IO: how uninitialized instances agree on the one that bootstraps the cluster.
 *
 * Every instance knows some peer addresses (`--peer`) but not necessarily its own as others see
 * it: it learns its own address when one of its requests reaches itself (the request carries a
 * random `tmpId`). Instances gossip peer lists; once an instance knows its own address, has
 * visited every known peer, and its own address is the smallest, it bootstraps. An instance that
 * hears from an initialized one (or from the bootstrapper) learns the leader and joins it.
 */

import { assert } from '../lib/assert.ts';

export type DiscoveryRole = { readonly kind: 'leader'; readonly address: string } | { readonly kind: 'non_leader'; readonly leader: string };

export type DiscoveryState =
  | { readonly kind: 'election'; readonly tmpId: string; readonly peers: readonly string[] }
  | { readonly kind: 'done'; readonly role: DiscoveryRole };

export interface DiscoveryRequest {
  readonly tmpId: string;
  readonly peers: readonly string[];
}

export class Discovery {
  readonly tmpId: string;
  private peers = new Set<string>();
  private visited = new Set<string>();
  private ownAddress: string | undefined;
  private role: DiscoveryRole | undefined;

  constructor(tmpId: string, peers: readonly string[]) {
    assert(peers.length > 0, 'discovery needs at least one peer address');
    this.tmpId = tmpId;
    for (const p of peers) this.peers.add(p);
  }

  get done(): DiscoveryRole | undefined {
    return this.role;
  }

  get address(): string | undefined {
    return this.ownAddress;
  }

  state(): DiscoveryState {
    if (this.role !== undefined) return { kind: 'done', role: this.role };
    return { kind: 'election', tmpId: this.tmpId, peers: [...this.peers].sort() };
  }

  /** Peers to ask this round: the unvisited ones, or the smallest peer when all are visited. */
  targets(): string[] {
    const unvisited = [...this.peers].filter((p) => !this.visited.has(p)).sort();
    return unvisited.length > 0 ? unvisited : [this.smallestPeer()];
  }

  private smallestPeer(): string {
    return [...this.peers].sort()[0]!;
  }

  /** Another instance asked us (sent to `requestTo`). Returns our state after taking its news. */
  handleRequest(request: DiscoveryRequest, requestTo: string): DiscoveryState {
    if (this.role === undefined) {
      this.mergePeers(request.peers);
      if (request.tmpId === this.tmpId) {
        this.ownAddress = requestTo;
        this.peers.add(requestTo);
      }
    }
    return this.state();
  }

  /** `from` answered our request with its state. */
  handleReply(from: string, reply: DiscoveryState): void {
    if (this.role !== undefined) return;
    this.visited.add(from);
    if (reply.kind === 'done') {
      this.role = { kind: 'non_leader', leader: reply.role.kind === 'leader' ? reply.role.address : reply.role.leader };
      return;
    }
    this.mergePeers(reply.peers);
    this.maybeLead();
  }

  /** `from` did not answer: it still counts as unvisited, so it is asked again. */
  handleFailure(from: string): void {
    this.visited.delete(from);
  }

  private mergePeers(peers: readonly string[]): void {
    let added = false;
    for (const p of peers) {
      if (!this.peers.has(p)) {
        this.peers.add(p);
        added = true;
      }
    }
    // News invalidates what we concluded from earlier visits: visit everyone again.
    if (added) this.visited.clear();
  }

  private maybeLead(): void {
    if (this.ownAddress === undefined) return;
    for (const p of this.peers) if (!this.visited.has(p)) return;
    if (this.smallestPeer() === this.ownAddress) this.role = { kind: 'leader', address: this.ownAddress };
  }
}
