/**
 * Test helpers for the Raft core: a seeded random source, nodes that persist their Ready into a
 * MemoryStorage exactly as a driver would, and an in-memory network in the style of etcd's test
 * `network` (send / cut / isolate / recover / drop / ignore).
 */
import { assert } from '../../core/lib/assert.ts';
import type { RaftConfigInput } from '../../core/raft/config.ts';
import { decodeConfChange } from '../../core/raft/confchange.ts';
import type { RaftMessage, RaftMessageType } from '../../core/raft/messages.ts';
import type { Raft } from '../../core/raft/raft.ts';
import { RawNode, type Ready } from '../../core/raft/raw-node.ts';
import { MemoryStorage } from '../../core/raft/storage.ts';
import {
  type ConfState,
  type Entry,
  EMPTY_CONF_STATE,
  type LogIndex,
  type RaftId,
  type Term,
  asLogIndex,
  asRaftId,
  asRaftIdOrNone,
  asTerm,
} from '../../core/raft/types.ts';

/** mulberry32: small, fast, deterministic. */
export class SeededRandom {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  float(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(maxExclusive: number): number {
    return Math.floor(this.float() * maxExclusive);
  }
}

export const ids = (...values: number[]): RaftId[] => values.map(asRaftId);
export const idx = (value: number): LogIndex => asLogIndex(value);
export const term = (value: number): Term => asTerm(value);
export const id = (value: number): RaftId => asRaftIdOrNone(value);
export const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

export function confState(voters: number[], learners: number[] = []): ConfState {
  return { ...EMPTY_CONF_STATE, voters: ids(...voters), learners: ids(...learners) };
}

/** A fresh storage for a group with the given voters (etcd's newTestMemoryStorage(withPeers)). */
export function newStorage(voters: number[], learners: number[] = []): MemoryStorage {
  const storage = new MemoryStorage();
  storage.bootstrap(confState(voters, learners));
  return storage;
}

/** Entries with the given terms at indexes 1, 2, ... */
export function entriesWithTerms(terms: number[], from = 1): Entry[] {
  return terms.map((t, i) => ({ index: idx(from + i), term: term(t), kind: 'normal', data: new Uint8Array(0) }));
}

export interface NodeOptions extends Partial<Omit<RaftConfigInput, 'id'>> {
  readonly storage?: MemoryStorage;
  readonly learners?: number[];
  readonly seed?: number;
}

/**
 * One node with its storage, acting as its own driver: `drain()` handles every pending Ready in
 * contract order (persist, collect messages, apply, advance) and returns the messages to send.
 */
export class TestNode {
  readonly id: RaftId;
  readonly storage: MemoryStorage;
  node: RawNode;
  /** Entries this node's state machine applied, in order. */
  applied: Entry[] = [];
  readStates: { index: LogIndex; context: Uint8Array }[] = [];
  /** Readies that asked for a fresh snapshot, and whether this driver makes one at once. */
  snapshotsWanted = 0;
  autoSnapshot = true;
  /** Membership after each applied conf change. */
  confStates: ConfState[] = [];

  constructor(nodeId: number, peers: number[], options: NodeOptions = {}) {
    this.id = asRaftId(nodeId);
    this.storage = options.storage ?? newStorage(peers, options.learners ?? []);
    const { storage: _s, learners: _l, seed, ...overrides } = options;
    this.node = new RawNode({
      id: this.id,
      random: new SeededRandom(seed ?? nodeId * 7919),
      electionTicks: 10,
      heartbeatTicks: 1,
      preVote: false,
      checkQuorum: false,
      maxSizePerMsgBytes: Number.POSITIVE_INFINITY,
      maxInflightMsgs: 256,
      ...overrides,
    }, this.storage);
  }

  get raft(): Raft {
    return this.node.raft;
  }

  /** Persists one Ready like a driver (everything before messages), then applies and advances. */
  handleReady(ready: Ready): void {
    if (ready.snapshot !== undefined) {
      const result = this.storage.applySnapshot(ready.snapshot);
      assert(result.ok, 'test storage accepts the snapshot');
    }
    this.storage.append(ready.entries);
    if (ready.hardState !== undefined) this.storage.setHardState(ready.hardState);
    for (const entry of ready.committedEntries) {
      this.applied.push(entry);
      if (entry.kind === 'confChange') this.confStates.push(this.node.applyConfChange(decodeConfChange(entry.data)).confState);
    }
    this.readStates.push(...ready.readStates);
    this.node.advance();
    if (ready.snapshotWanted) {
      this.snapshotsWanted++;
      if (this.autoSnapshot) this.node.createSnapshot(new TextEncoder().encode(`applied:${this.applied.length}`));
    }
  }

  /** Runs every pending Ready; returns the messages they asked to send. */
  drain(): RaftMessage[] {
    const out: RaftMessage[] = [];
    for (let rounds = 0; this.node.hasReady(); rounds++) {
      assert(rounds < 1000, 'ready loop does not settle');
      const ready = this.node.ready();
      this.handleReady(ready);
      out.push(...ready.messages);
    }
    return out;
  }

  /** Steps a message straight into the state machine (local types allowed), then drains. */
  stepAndDrain(message: RaftMessage): RaftMessage[] {
    this.raft.step(message);
    return this.drain();
  }

  /** Drains and returns only the messages (etcd readMessages). */
  readMessages(): RaftMessage[] {
    return this.drain();
  }

  appliedData(): string[] {
    return this.applied.filter((e) => e.kind === 'normal' && e.data.length > 0).map((e) => new TextDecoder().decode(e.data));
  }
}

export type NetworkPeer = TestNode | 'blackhole' | undefined;

/** etcd's test network: synchronous delivery, breadth first, with filters. */
export class Network {
  readonly peers = new Map<RaftId, TestNode | 'blackhole'>();
  private readonly dropRates = new Map<string, number>();
  private readonly ignored = new Set<RaftMessageType>();
  private readonly random = new SeededRandom(42);
  /** Optional hook to inspect or drop messages; return false to drop. */
  messageHook: ((message: RaftMessage) => boolean) | undefined = undefined;

  /** Peers get ids 1..n. `undefined` makes a fresh node with default options. */
  constructor(peers: NetworkPeer[], options: NodeOptions = {}) {
    const all = peers.map((_, i) => i + 1);
    peers.forEach((peer, i) => {
      const nodeId = asRaftId(i + 1);
      if (peer === undefined) this.peers.set(nodeId, new TestNode(nodeId, all, options));
      else if (peer === 'blackhole') this.peers.set(nodeId, 'blackhole');
      else {
        assert(peer.id === nodeId, `peer at position ${i} must have id ${nodeId}`);
        this.peers.set(nodeId, peer);
      }
    });
  }

  node(nodeId: number): TestNode {
    const peer = this.peers.get(asRaftId(nodeId));
    assert(peer !== undefined && peer !== 'blackhole', `no live node ${nodeId}`);
    return peer;
  }

  raft(nodeId: number): Raft {
    return this.node(nodeId).raft;
  }

  /** Delivers messages and everything they cause until the network is quiet. */
  send(...messages: RaftMessage[]): void {
    const queue = [...messages];
    for (let delivered = 0; queue.length > 0; delivered++) {
      assert(delivered < 100_000, 'network does not quiesce');
      const message = queue.shift()!;
      const peer = this.peers.get(message.to);
      if (peer === undefined || peer === 'blackhole') continue;
      peer.raft.step(message);
      queue.push(...this.filter(peer.drain()));
    }
  }

  /** Starts an election on `nodeId` (etcd: MsgHup to itself). */
  campaign(nodeId: number): void {
    const r = asRaftId(nodeId);
    this.send({ type: 'hup', from: r, to: r, term: term(0), transfer: false });
  }

  /** Proposes `data` at `nodeId` (etcd: MsgProp to itself). */
  propose(nodeId: number, data = 'somedata'): void {
    const r = asRaftId(nodeId);
    const entry: Entry = { index: idx(0), term: term(0), kind: 'normal', data: bytes(data) };
    this.send({ type: 'propose', from: r, to: r, term: term(0), entries: [entry] });
  }

  /** Ticks every node once and delivers what that causes. */
  tickAll(): void {
    for (const peer of this.peers.values()) {
      if (peer === 'blackhole') continue;
      peer.node.tick();
      this.send(...this.filter(peer.drain()));
    }
  }

  drop(from: number, to: number, rate: number): void {
    this.dropRates.set(`${from}-${to}`, rate);
  }

  cut(a: number, b: number): void {
    this.drop(a, b, 2);
    this.drop(b, a, 2);
  }

  isolate(nodeId: number): void {
    for (const other of this.peers.keys()) {
      if (other !== nodeId) this.cut(nodeId, other);
    }
  }

  ignore(type: RaftMessageType): void {
    this.ignored.add(type);
  }

  recover(): void {
    this.dropRates.clear();
    this.ignored.clear();
  }

  filter(messages: RaftMessage[]): RaftMessage[] {
    return messages.filter((message) => {
      if (this.ignored.has(message.type)) return false;
      const rate = this.dropRates.get(`${message.from}-${message.to}`) ?? 0;
      if (rate > 0 && this.random.float() < rate) return false;
      return this.messageHook === undefined || this.messageHook(message);
    });
  }
}

/** A node whose log holds entries with the given terms, at term = last of them (etcd entsWithConfig). */
export function nodeWithLog(nodeId: number, peers: number[], terms: number[], options: NodeOptions = {}): TestNode {
  const storage = newStorage(peers);
  storage.append(entriesWithTerms(terms));
  const lastTerm = terms.length === 0 ? 0 : terms[terms.length - 1]!;
  storage.setHardState({ term: term(lastTerm), vote: id(0), commit: idx(0) });
  return new TestNode(nodeId, peers, { ...options, storage });
}

/** A node that already voted for `vote` in `atTerm` (etcd votedWithConfig). */
export function nodeWithVote(nodeId: number, peers: number[], vote: number, atTerm: number, options: NodeOptions = {}): TestNode {
  const storage = newStorage(peers);
  storage.setHardState({ term: term(atTerm), vote: id(vote), commit: idx(0) });
  return new TestNode(nodeId, peers, { ...options, storage });
}

/** Terms of every entry in a node's log, from its first index. */
export function logTerms(node: TestNode): number[] {
  const raft = node.raft;
  return raft.log.allEntriesFrom(raft.log.firstIndex()).map((e) => e.term);
}

/** Makes a message with sensible defaults, for direct stepping in tests. */
export function msg<T extends RaftMessage['type']>(
  type: T,
  fields: Omit<Partial<Extract<RaftMessage, { type: T }>>, 'from' | 'to' | 'term'> & { from: number; to: number; term?: number },
): Extract<RaftMessage, { type: T }> {
  const defaults: Record<string, unknown> = {
    entries: [], commit: idx(0), prevIndex: idx(0), prevTerm: term(0), index: idx(0), reject: false,
    hintIndex: idx(0), hintTerm: term(0), requestSnapshot: false, lastIndex: idx(0), lastTerm: term(0),
    transfer: false, priority: 0, context: new Uint8Array(0),
  };
  return {
    ...defaults,
    ...fields,
    type,
    from: id(fields.from),
    to: id(fields.to),
    term: term(fields.term ?? 0),
  } as unknown as Extract<RaftMessage, { type: T }>;
}
