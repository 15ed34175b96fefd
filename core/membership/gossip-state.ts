/**
 * Heartbeat gossip failure detection, sans-IO.
 *
 * Every member owns a heartbeat `(generation, version)`: the generation is persisted and bumped
 * at every start (so a restarted member always outranks its previous life), the version counts
 * up while it runs. Members push a sample of the heartbeats they know to a few random peers;
 * receivers keep the highest per member. A member whose heartbeat has not advanced for
 * `failAfterMs` of the observer's clock is considered dead.
 */

import { assert } from '../lib/assert.ts';

export interface Heartbeat {
  readonly generation: number;
  readonly version: number;
}

export interface MemberView {
  readonly address: string;
  readonly heartbeat: Heartbeat;
  /** Observer's monotonic time when the heartbeat last advanced. */
  readonly advancedAtMs: number;
}

/** Mutable per-member record: merging runs per received entry, so it must not allocate. */
interface Member {
  readonly address: string;
  generation: number;
  version: number;
  advancedAtMs: number;
}

export interface GossipConfig {
  readonly failAfterMs: number;
  /** Heartbeats carried per gossip message besides the sender's own. */
  readonly sampleSize: number;
}

export type GossipEntry = readonly [address: string, generation: number, version: number];

export function newer(a: Heartbeat, b: Heartbeat): boolean {
  return a.generation > b.generation || (a.generation === b.generation && a.version > b.version);
}

export class GossipState {
  readonly self: string;
  readonly config: GossipConfig;
  private own: Heartbeat;
  private readonly members = new Map<string, Member>();
  /** Sorted member addresses, for deterministic sampling. */
  private addresses: string[] = [];

  constructor(self: string, generation: number, config: GossipConfig) {
    assert(generation >= 1, 'generation starts at 1');
    assert(config.failAfterMs > 0 && config.sampleSize > 0, 'gossip config');
    this.self = self;
    this.own = { generation, version: 0 };
    this.config = config;
  }

  get heartbeat(): Heartbeat {
    return this.own;
  }

  /** Adds a known address (from the seed list); it counts as dead until heard from. */
  addSeed(address: string): void {
    if (address === this.self || this.members.has(address)) return;
    this.members.set(address, { address, generation: 0, version: 0, advancedAtMs: -Infinity });
    this.addresses = [...this.members.keys()].sort();
  }

  /** One local heartbeat. */
  beat(): void {
    this.own = { generation: this.own.generation, version: this.own.version + 1 };
  }

  /** Merges received entries; returns how many heartbeats advanced. */
  merge(entries: readonly GossipEntry[], nowMs: number): number {
    let advanced = 0;
    let added = false;
    for (const [address, generation, version] of entries) {
      if (address === this.self) continue;
      const known = this.members.get(address);
      if (known === undefined) {
        this.members.set(address, { address, generation, version, advancedAtMs: nowMs });
        added = true;
        advanced++;
        continue;
      }
      if (generation < known.generation || (generation === known.generation && version <= known.version)) continue;
      known.generation = generation;
      known.version = version;
      known.advancedAtMs = nowMs;
      advanced++;
    }
    if (added) this.addresses = [...this.members.keys()].sort();
    return advanced;
  }

  /** The message to push: own heartbeat plus a random sample of known ones. */
  sample(pick: (maxExclusive: number) => number): GossipEntry[] {
    const entries: GossipEntry[] = [[this.self, this.own.generation, this.own.version]];
    const n = this.addresses.length;
    for (let i = 0; i < Math.min(this.config.sampleSize, n); i++) {
      const member = this.members.get(this.addresses[pick(n)]!)!;
      if (member.generation > 0) entries.push([member.address, member.generation, member.version]);
    }
    return entries;
  }

  /** Peers to push to this round. */
  targets(count: number, pick: (maxExclusive: number) => number): string[] {
    const n = this.addresses.length;
    const chosen = new Set<string>();
    for (let i = 0; i < count * 3 && chosen.size < Math.min(count, n); i++) chosen.add(this.addresses[pick(n)]!);
    return [...chosen];
  }

  isAlive(address: string, nowMs: number): boolean {
    if (address === this.self) return true;
    const view = this.members.get(address);
    return view !== undefined && nowMs - view.advancedAtMs < this.config.failAfterMs;
  }

  view(address: string): MemberView | undefined {
    const member = this.members.get(address);
    if (member === undefined) return undefined;
    return { address, heartbeat: { generation: member.generation, version: member.version }, advancedAtMs: member.advancedAtMs };
  }

  alive(nowMs: number): string[] {
    return [this.self, ...this.addresses.filter((a) => this.isAlive(a, nowMs))].sort();
  }
}
