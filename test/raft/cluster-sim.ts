/**
 * A small randomized cluster for property tests: RawNodes driven through their public API, a
 * message bag that can reorder, duplicate and drop, partitions, crashes that lose whatever was
 * not persisted, restarts from storage alone, compaction, membership changes of a spare node and
 * leader transfers. `checkInvariants()` verifies Raft's safety properties after every command.
 */
import { assert } from '../../core/lib/assert.ts';
import { type ConfChangeType, LEAVE_JOINT, decodeConfChange } from '../../core/raft/confchange.ts';
import type { RaftMessage } from '../../core/raft/messages.ts';
import { RawNode, type Ready } from '../../core/raft/raw-node.ts';
import { MemoryStorage } from '../../core/raft/storage.ts';
import { type Entry, type RaftId, asLogIndex, asRaftId } from '../../core/raft/types.ts';
import { SeededRandom, confState } from './harness.ts';

export interface ClusterOptions {
  readonly voterCount: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly maxSizePerMsgBytes: number;
  readonly maxInflightMsgs: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly seed: number;
}

export type Command =
  | { readonly kind: 'tick'; readonly node: number }
  | { readonly kind: 'tickAll' }
  /** Delivers one message; with `processNow` the receiver's driver handles the Ready at once. */
  | { readonly kind: 'deliver'; readonly pick: number; readonly processNow: boolean }
  /** Delivers everything currently in flight (one round), each receiver processing at once. */
  | { readonly kind: 'flush' }
  | { readonly kind: 'duplicate'; readonly pick: number }
  | { readonly kind: 'drop'; readonly pick: number }
  | { readonly kind: 'process'; readonly node: number; readonly crashAfterPersist: boolean }
  | { readonly kind: 'propose'; readonly node: number }
  | { readonly kind: 'partition'; readonly mask: number }
  | { readonly kind: 'heal' }
  | { readonly kind: 'crash'; readonly node: number }
  | { readonly kind: 'restart'; readonly node: number }
  | { readonly kind: 'compact'; readonly node: number; readonly keepEntries: number }
  | { readonly kind: 'confChange'; readonly node: number; readonly type: ConfChangeType }
  | { readonly kind: 'transfer'; readonly node: number; readonly target: number }
  | { readonly kind: 'readIndex'; readonly node: number }
  /** A two-change membership change through a joint configuration (thesis §4.3). */
  | { readonly kind: 'jointChange'; readonly node: number; readonly target: number; readonly explicit: boolean; readonly demote: boolean }
  | { readonly kind: 'leaveJoint'; readonly node: number };

interface SimNode {
  readonly id: RaftId;
  readonly storage: MemoryStorage;
  node: RawNode | undefined;
  /** The state machine: applied entry keys by index (restored from snapshots on restart). */
  stateMachine: Map<number, string>;
  /** Highest commit this incarnation has reported (commit must never go back). */
  commitSeen: number;
  /** Highest term this incarnation has been at (terms never go back while it runs). */
  termSeen: number;
  /** Committed entries of this node already recorded in `ClusterSim.committed`. */
  recordedUpTo: number;
}

const entryKey = (entry: Entry): string =>
  `${entry.term}:${entry.kind}:${new TextDecoder().decode(entry.data)}`;

export class ClusterSim {
  readonly options: ClusterOptions;
  readonly nodes: SimNode[] = [];
  /** Messages in flight, in no particular order. */
  bag: RaftMessage[] = [];
  /** Pairs "a-b" that cannot talk. */
  private blocked = new Set<string>();
  private proposalCounter = 0;
  private readCounter = 0;
  /** ReadIndex context -> the highest commit index anywhere when the request was made. */
  private readonly pendingReads = new Map<string, number>();
  /** Election Safety: the one leader seen per term. */
  readonly leaderByTerm = new Map<number, number>();
  /** Commit index of each (leader, term) when first seen leading (for the §5.4.2 check). */
  private readonly leaderStartCommit = new Map<string, number>();
  /** Every entry ever applied anywhere, by index (State Machine Safety). */
  readonly appliedByIndex = new Map<number, string>();
  /** Every entry ever seen committed, with the lowest term of a node that saw it committed. */
  readonly committed = new Map<number, { key: string; term: number; seenAtTerm: number }>();
  stats = { messagesDelivered: 0, maxCommit: 0, leadersElected: 0, snapshotsInstalled: 0, restarts: 0, readsServed: 0, jointConfigs: 0 };

  constructor(options: ClusterOptions) {
    this.options = options;
    const voters = Array.from({ length: options.voterCount }, (_, i) => i + 1);
    // One extra node starts outside the group; membership commands add and remove it.
    for (let i = 1; i <= options.voterCount + 1; i++) {
      const storage = new MemoryStorage();
      storage.bootstrap(confState(voters));
      const sim: SimNode = { id: asRaftId(i), storage, node: undefined, stateMachine: new Map(), commitSeen: 0, termSeen: 0, recordedUpTo: 0 };
      this.nodes.push(sim);
      this.start(sim);
    }
  }

  get spareId(): number {
    return this.options.voterCount + 1;
  }

  private start(sim: SimNode): void {
    const o = this.options;
    // The state machine restarts from the stored snapshot; the log replays the rest.
    const snapshot = sim.storage.snapshot();
    assert(snapshot.ok, 'memory storage always has a snapshot');
    sim.stateMachine = decodeStateMachine(snapshot.value.data);
    sim.node = new RawNode({
      id: sim.id,
      random: new SeededRandom(o.seed * 31 + sim.id * 7 + this.stats.restarts),
      electionTicks: o.electionTicks,
      heartbeatTicks: o.heartbeatTicks,
      preVote: o.preVote,
      checkQuorum: o.checkQuorum,
      maxSizePerMsgBytes: o.maxSizePerMsgBytes,
      maxInflightMsgs: o.maxInflightMsgs,
      // Entries the snapshot covers are in the restored state machine already.
      appliedIndex: snapshot.value.index,
    }, sim.storage);
    sim.commitSeen = sim.node.raft.log.committed;
    // Terms reached only in memory may be lost in a crash (nothing depending on them was sent);
    // the durable term never goes back (MemoryStorage.setHardState asserts it).
    sim.termSeen = sim.node.raft.term;
  }

  private sim(index: number): SimNode {
    return this.nodes[index % this.nodes.length]!;
  }

  private canTalk(from: number, to: number): boolean {
    return !this.blocked.has(`${from}-${to}`);
  }

  run(command: Command): void {
    switch (command.kind) {
      case 'tick': return this.sim(command.node).node?.tick();
      case 'tickAll':
        for (const sim of this.nodes) sim.node?.tick();
        for (const sim of this.nodes) this.process(sim, false);
        return;
      case 'deliver': return this.deliver(command.pick, command.processNow);
      case 'flush': {
        const messages = this.bag;
        this.bag = [];
        for (const message of messages) {
          this.deliverMessage(message);
          const target = this.nodes[message.to - 1];
          if (target !== undefined) this.process(target, false);
        }
        return;
      }
      case 'duplicate':
        if (this.bag.length > 0) this.bag.push(this.bag[command.pick % this.bag.length]!);
        return;
      case 'drop':
        if (this.bag.length > 0) this.lost(this.bag.splice(command.pick % this.bag.length, 1)[0]!);
        return;
      case 'process': return this.process(this.sim(command.node), command.crashAfterPersist);
      case 'propose': return this.propose(this.sim(command.node));
      case 'partition': return this.partition(command.mask);
      case 'heal': return this.blocked.clear();
      case 'crash': return this.crash(this.sim(command.node));
      case 'restart': return this.restart(this.sim(command.node));
      case 'compact': return this.compact(this.sim(command.node), command.keepEntries);
      case 'confChange': return this.confChange(this.sim(command.node), command.type);
      case 'readIndex': return this.readIndex(this.sim(command.node));
      case 'jointChange': return this.jointChange(command);
      case 'leaveJoint':
        this.sim(command.node).node?.proposeConfChange(LEAVE_JOINT);
        return;
      case 'transfer': {
        const target = this.sim(command.target).id;
        this.sim(command.node).node?.transferLeader(target);
        return;
      }
      default: assert(false, 'unknown command');
    }
  }

  private deliver(pick: number, processNow: boolean): void {
    if (this.bag.length === 0) return;
    const [message] = this.bag.splice(pick % this.bag.length, 1);
    this.deliverMessage(message!);
    const target = this.nodes[message!.to - 1];
    if (processNow && target !== undefined) this.process(target, false);
  }

  private deliverMessage(message: RaftMessage): void {
    const target = this.nodes[message.to - 1];
    if (target?.node === undefined || !this.canTalk(message.from, message.to)) return this.lost(message);
    this.stats.messagesDelivered++;
    target.node.step(message);
    // The transport saw the snapshot through; the sender's driver reports it (etcd contract).
    if (message.type === 'snapshot') this.nodes[message.from - 1]?.node?.reportSnapshot(message.to, 'finish');
  }

  /**
   * A message vanished. Like a real transport that notices a failed snapshot transfer (an RPC
   * error or timeout), the sender's driver reports it; otherwise the leader would wait forever.
   */
  private lost(message: RaftMessage): void {
    if (message.type !== 'snapshot') return;
    this.nodes[message.from - 1]?.node?.reportSnapshot(message.to, 'failure');
  }

  /**
   * Linearizable reads: the index a ReadIndex request is answered with must cover every entry
   * that was committed (anywhere) before the request was made.
   */
  private readIndex(sim: SimNode): void {
    if (sim.node === undefined) return;
    const context = `r${this.readCounter++}`;
    this.pendingReads.set(context, this.stats.maxCommit);
    sim.node.readIndex(new TextEncoder().encode(context));
  }

  private propose(sim: SimNode): void {
    sim.node?.propose(new TextEncoder().encode(`v${this.proposalCounter++}`));
  }

  private partition(mask: number): void {
    this.blocked.clear();
    const side = (id: number): boolean => ((mask >> (id - 1)) & 1) === 1;
    for (const a of this.nodes) {
      for (const b of this.nodes) {
        if (side(a.id) !== side(b.id)) this.blocked.add(`${a.id}-${b.id}`);
      }
    }
  }

  private crash(sim: SimNode): void {
    if (sim.node === undefined) return;
    sim.node = undefined; // unpersisted entries, hard state and messages are gone
  }

  private restart(sim: SimNode): void {
    if (sim.node !== undefined) return;
    this.stats.restarts++;
    this.start(sim);
  }

  private compact(sim: SimNode, keepEntries: number): void {
    const node = sim.node;
    if (node === undefined) return;
    const applied = node.raft.log.applied;
    const snapshot = sim.storage.snapshot();
    if (applied === 0 || (snapshot.ok && snapshot.value.index >= applied)) return;
    const created = node.createSnapshot(encodeStateMachine(sim.stateMachine, applied));
    if ('kind' in created) return;
    // Keeping a few entries lets some followers catch up from the log, others from the snapshot.
    if (applied - keepEntries >= sim.storage.firstIndex()) node.compact(asLogIndex(applied - keepEntries));
  }

  /** Swaps `target` for the spare (or demotes it to learner and adds the spare) in one step. */
  private jointChange(command: Extract<Command, { kind: 'jointChange' }>): void {
    const target = asRaftId((command.target % this.options.voterCount) + 1);
    const spare = asRaftId(this.spareId);
    this.sim(command.node).node?.proposeConfChange({
      transition: command.explicit ? 'explicit' : 'implicit',
      changes: [
        { type: 'addNode', nodeId: spare },
        { type: command.demote ? 'addLearnerNode' : 'removeNode', nodeId: target },
      ],
      context: new Uint8Array(0),
    });
  }

  private confChange(sim: SimNode, type: ConfChangeType): void {
    sim.node?.proposeConfChange({
      transition: 'auto', changes: [{ type, nodeId: asRaftId(this.spareId) }], context: new Uint8Array(0),
    });
  }

  /** The driver's Ready loop for one node: persist, send, apply, advance (or crash midway). */
  process(sim: SimNode, crashAfterPersist: boolean): void {
    const node = sim.node;
    if (node === undefined || !node.hasReady()) return;
    const ready = node.ready();
    this.persist(sim, ready);
    if (crashAfterPersist) {
      this.crash(sim);
      return;
    }
    for (const message of ready.messages) {
      checkMessageIsDurable(message, sim.storage);
      this.bag.push(message);
    }
    this.apply(sim, ready);
    for (const readState of ready.readStates) {
      const committedBefore = this.pendingReads.get(new TextDecoder().decode(readState.context));
      assert(committedBefore !== undefined, 'a read state answers a request we made');
      assert(readState.index >= committedBefore, () =>
        `stale read: index ${readState.index} misses commit ${committedBefore} made before the request`);
      this.stats.readsServed++;
    }
    node.advance();
    if (ready.snapshotWanted) this.compact(sim, Number.POSITIVE_INFINITY);
  }

  private persist(sim: SimNode, ready: Ready): void {
    if (ready.snapshot !== undefined) {
      const result = sim.storage.applySnapshot(ready.snapshot);
      assert(result.ok, 'a snapshot from Ready must be newer than storage');
    }
    sim.storage.append(ready.entries);
    if (ready.hardState !== undefined) {
      const before = sim.storage.hardStateForTest();
      assert(ready.hardState.commit >= before.commit, 'persisted commit must not go back');
      if (ready.hardState.term === before.term && before.vote !== 0) {
        assert(ready.hardState.vote === before.vote, 'a node must not change its vote within a term');
      }
      sim.storage.setHardState(ready.hardState);
    }
  }

  private apply(sim: SimNode, ready: Ready): void {
    if (ready.snapshot !== undefined) {
      this.stats.snapshotsInstalled++;
      sim.stateMachine = decodeStateMachine(ready.snapshot.data);
      for (const [index, key] of sim.stateMachine) this.recordApplied(index, key);
    }
    for (const entry of ready.committedEntries) {
      assert(!sim.stateMachine.has(entry.index), () => `node ${sim.id} applied ${entry.index} twice`);
      const key = entryKey(entry);
      sim.stateMachine.set(entry.index, key);
      this.recordApplied(entry.index, key);
      if (entry.kind === 'confChange') {
        const result = sim.node!.applyConfChange(decodeConfChange(entry.data));
        if (result.confState.votersOutgoing.length > 0) this.stats.jointConfigs++;
      }
    }
  }

  private recordApplied(index: number, key: string): void {
    const known = this.appliedByIndex.get(index);
    assert(known === undefined || known === key, () => `State Machine Safety: index ${index} applied as ${known} and ${key}`);
    this.appliedByIndex.set(index, key);
  }

  /** Raft's safety properties (Figure 3 of the paper), checked over every live node. */
  checkInvariants(): void {
    const live = this.nodes.filter((s) => s.node !== undefined);
    for (const sim of live) this.checkNode(sim);
    for (let i = 0; i < live.length; i++) {
      for (let j = i + 1; j < live.length; j++) checkLogMatching(live[i]!, live[j]!);
    }
    for (const sim of live) this.checkLeaderCompleteness(sim);
  }

  private checkNode(sim: SimNode): void {
    const raft = sim.node!.raft;
    assert(raft.term >= sim.termSeen, () => `node ${sim.id} term went back`);
    sim.termSeen = raft.term;
    assert(raft.log.committed >= sim.commitSeen, () => `node ${sim.id} commit went back`);
    sim.commitSeen = raft.log.committed;
    this.stats.maxCommit = Math.max(this.stats.maxCommit, raft.log.committed);
    if (raft.state === 'Leader') {
      const known = this.leaderByTerm.get(raft.term);
      assert(known === undefined || known === sim.id, () => `Election Safety: leaders ${known} and ${sim.id} in term ${raft.term}`);
      if (known === undefined) this.stats.leadersElected++;
      this.leaderByTerm.set(raft.term, sim.id);
      assert(raft.tracker.isVoter(sim.id) || raft.tracker.get(sim.id) === undefined, 'a leader is a voter');
      // §5.4.2: a leader moves its commit index only onto an entry of its own term.
      const key = `${sim.id}@${raft.term}`;
      const startCommit = this.leaderStartCommit.get(key) ?? raft.log.committed;
      this.leaderStartCommit.set(key, startCommit);
      if (raft.log.committed > startCommit) {
        assert(raft.log.termOrZero(raft.log.committed) === raft.term, () =>
          `leader ${sim.id} committed ${raft.log.committed} from an earlier term`);
      }
    }
    // Record what this node knows to be committed, and check it agrees with everyone else.
    const first = Math.max(raft.log.firstIndex(), sim.recordedUpTo + 1);
    for (let index = first; index <= raft.log.committed; index++) {
      const t = raft.log.term(asLogIndex(index));
      if (!t.ok) continue;
      const entries = raft.log.slice(asLogIndex(index), asLogIndex(index + 1), Infinity);
      if (!entries.ok) continue;
      const key = entryKey(entries.value[0]!);
      const known = this.committed.get(index);
      assert(known === undefined || known.key === key, () => `committed entry ${index} differs: ${known?.key} vs ${key}`);
      if (known === undefined || raft.term < known.seenAtTerm) {
        this.committed.set(index, { key, term: t.value, seenAtTerm: raft.term });
      }
    }
    sim.recordedUpTo = Math.max(sim.recordedUpTo, raft.log.committed);
  }

  /** Leader Completeness: a leader of a later term has every entry committed before it. */
  private checkLeaderCompleteness(sim: SimNode): void {
    const raft = sim.node!.raft;
    if (raft.state !== 'Leader') return;
    for (const [index, record] of this.committed) {
      if (record.seenAtTerm >= raft.term || index < raft.log.firstIndex()) continue;
      const entries = raft.log.slice(asLogIndex(index), asLogIndex(index + 1), Infinity);
      assert(entries.ok && entries.value.length === 1 && entryKey(entries.value[0]!) === record.key, () =>
        `Leader Completeness: leader ${sim.id} (term ${raft.term}) lacks committed ${index} (${record.key})`);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Liveness
  // -------------------------------------------------------------------------------------------

  /** Restarts everyone and heals the network. */
  heal(): void {
    this.blocked.clear();
    for (const sim of this.nodes) this.restart(sim);
  }

  /** Processes every Ready and delivers every message until quiet (bounded). */
  settle(): void {
    for (let rounds = 0; rounds < 200; rounds++) {
      let busy = false;
      for (const sim of this.nodes) {
        while (sim.node?.hasReady()) {
          busy = true;
          this.process(sim, false);
        }
      }
      const messages = this.bag;
      this.bag = [];
      for (const message of messages) {
        busy = true;
        this.deliverMessage(message);
      }
      this.checkInvariants();
      if (!busy) return;
    }
    assert(false, 'cluster did not settle');
  }

  /**
   * After healing, some leader must get a fresh proposal applied on every member within
   * `tickBudget` ticks. Returns the ticks it took.
   */
  awaitProgress(tickBudget: number): number {
    const marker = `live${this.proposalCounter++}`;
    for (let ticks = 0; ticks <= tickBudget; ticks++) {
      this.settle();
      const leader = this.currentLeader();
      if (leader !== undefined) {
        if (this.everyMemberApplied(leader, marker)) return ticks;
        if (ticks % this.options.heartbeatTicks === 0) leader.node!.propose(new TextEncoder().encode(marker));
        this.settle();
      }
      for (const sim of this.nodes) sim.node!.tick();
    }
    return -1;
  }

  private currentLeader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const sim of this.nodes) {
      const raft = sim.node!.raft;
      if (raft.state === 'Leader' && (best === undefined || raft.term > best.node!.raft.term)) best = sim;
    }
    return best;
  }

  private everyMemberApplied(leader: SimNode, marker: string): boolean {
    const confState = leader.node!.confState();
    const members = [...confState.voters, ...confState.learners, ...confState.votersOutgoing];
    return members.every((id) => {
      const sim = this.nodes[id - 1]!;
      return [...sim.stateMachine.values()].some((key) => key.endsWith(`:normal:${marker}`));
    });
  }
}

/** Two logs that agree on (index, term) agree on every entry up to there (Log Matching). */
function checkLogMatching(a: SimNode, b: SimNode): void {
  const logA = a.node!.raft.log;
  const logB = b.node!.raft.log;
  const first = Math.max(logA.firstIndex(), logB.firstIndex());
  const last = Math.min(logA.lastIndex(), logB.lastIndex());
  if (first > last) return;
  const entriesA = logA.allEntriesFrom(asLogIndex(first));
  const entriesB = logB.allEntriesFrom(asLogIndex(first));
  let highestMatch = -1;
  for (let i = last - first; i >= 0; i--) {
    if (entriesA[i]!.term === entriesB[i]!.term) {
      highestMatch = i;
      break;
    }
  }
  for (let i = 0; i <= highestMatch; i++) {
    assert(entryKey(entriesA[i]!) === entryKey(entriesB[i]!), () =>
      `Log Matching: nodes ${a.id} and ${b.id} agree at ${first + highestMatch} but differ at ${first + i}`);
  }
}

/** An acknowledgement may only leave once the state it acknowledges is in storage. */
function checkMessageIsDurable(message: RaftMessage, storage: MemoryStorage): void {
  const hardState = storage.hardStateForTest();
  if (message.type === 'voteResponse' && !message.reject) {
    // Either the vote itself is durable, or a later term is (which forbids voting in this one).
    const durable = hardState.term > message.term || (hardState.term === message.term && hardState.vote === message.to);
    assert(durable, 'vote granted before it was persisted');
  }
  if (message.type === 'vote') {
    const durable = hardState.term > message.term || (hardState.term === message.term && hardState.vote === message.from);
    assert(durable, 'candidate asked for votes before persisting its own');
  }
  if (message.type === 'appendResponse' && !message.reject) {
    assert(message.index <= storage.lastIndex(), 'ack of entries not yet persisted');
  }
}

function encodeStateMachine(stateMachine: Map<number, string>, upTo: number): Uint8Array {
  const rows = [...stateMachine].filter(([index]) => index <= upTo);
  return new TextEncoder().encode(JSON.stringify(rows));
}

function decodeStateMachine(data: Uint8Array): Map<number, string> {
  if (data.length === 0) return new Map();
  return new Map(JSON.parse(new TextDecoder().decode(data)) as [number, string][]);
}
