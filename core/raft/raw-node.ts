/**
 * RawNode: the driver-facing wrapper around `Raft` (etcd's RawNode). A driver loop looks like:
 *
 *   on timer:    node.tick()
 *   on message:  node.step(message)
 *   on request:  node.propose(data) / node.readIndex(context) / ...
 *   while node.hasReady():
 *     const ready = node.ready()
 *     persist ready.snapshot, ready.entries, ready.hardState   (one atomic, synced write if mustSync)
 *     send ready.messages
 *     apply ready.snapshot, then ready.committedEntries (applyConfChange for confChange entries)
 *     hand ready.readStates to waiting readers
 *     if ready.snapshotWanted: node.createSnapshot(stateMachineBytes)
 *     node.advance()
 *
 * Snapshots come from the application through explicit calls: once it has applied up to
 * `applied`, `createSnapshot(data)` records a snapshot there with the current membership, and
 * `compact(index)` drops log entries up to `index`. The leader sends the latest stored snapshot
 * to any follower whose next entry was compacted away.
 */
import { assert } from '../lib/assert.ts';
import { type RaftConfig, type RaftConfigInput, makeConfig } from './config.ts';
import { type ConfChangeV2, encodeConfChange, validateConfChange } from './confchange.ts';
import type { RaftError } from './errors.ts';
import { type RaftMessage, isLocalMessage, isResponseMessage } from './messages.ts';
import { type ApplyConfChangeResult, Raft } from './raft.ts';
import { type RaftStatus, raftStatus } from './status.ts';
import type { LogStorage } from './storage.ts';
import {
  type ConfState,
  EMPTY_HARD_STATE,
  type Entry,
  type HardState,
  type LogIndex,
  NO_RAFT_ID,
  type RaftId,
  type ReadState,
  type Snapshot,
  type SoftState,
  type Term,
  ZERO_INDEX,
  ZERO_TERM,
  hardStateEqual,
} from './types.ts';

/**
 * One batch of work for the driver. The fields are listed in the order the driver must act on
 * them; each says what must have happened before it.
 */
export interface Ready {
  /** Leader and role, when they changed since the last Ready. Informational; need not persist. */
  readonly softState?: SoftState;
  /**
   * Term, vote and commit, when changed. Persist before sending `messages`. A leader counts its
   * own `entries` toward `commit` before they are durable, so write entries no later than this
   * (ideally in one atomic batch with it).
   */
  readonly hardState?: HardState;
  /**
   * A snapshot received from the leader. Persist it (replacing the log) before sending
   * `messages`, and install it in the state machine before applying `committedEntries`.
   */
  readonly snapshot?: Snapshot;
  /**
   * Entries to append to stable storage, replacing any stored entries from `entries[0].index` on.
   * Persist before sending `messages`: the messages may acknowledge them.
   */
  readonly entries: readonly Entry[];
  /**
   * Messages to send once everything above is durable. Vote grants and append acks in here
   * promise durability; sending them earlier breaks Raft's safety on a crash.
   */
  readonly messages: readonly RaftMessage[];
  /** Entries to apply, in order, after the entries above are durable. */
  readonly committedEntries: readonly Entry[];
  /** Answered ReadIndex requests: serve each read once `index` is applied. */
  readonly readStates: readonly ReadState[];
  /** Whether the write of hardState/entries/snapshot must be synced to disk before continuing. */
  readonly mustSync: boolean;
  /**
   * The leader could not catch a follower up because the stored snapshot is missing or too old
   * (e.g. taken before that follower joined). After applying `committedEntries`, call
   * `createSnapshot(data)`; the leader retries on the follower's next heartbeat response.
   */
  readonly snapshotWanted: boolean;
}

export type SnapshotReport = 'finish' | 'failure';

/** What `ready()` handed out, so `advance()` acknowledges exactly that. */
interface ReadyInFlight {
  readonly softState: SoftState;
  readonly hardState: HardState | undefined;
  readonly lastEntry: { readonly index: LogIndex; readonly term: Term } | undefined;
  readonly snapshotIndex: LogIndex | undefined;
  readonly committedEntries: readonly Entry[];
}

export class RawNode {
  readonly raft: Raft;
  private readonly storage: LogStorage;
  private previousSoftState: SoftState;
  private previousHardState: HardState;
  private inFlight: ReadyInFlight | undefined = undefined;

  constructor(config: RaftConfigInput | RaftConfig, storage: LogStorage) {
    this.storage = storage;
    this.raft = new Raft(makeConfig(config), storage);
    this.previousSoftState = this.raft.softState();
    // Whatever storage returned is already durable; don't hand it back as new.
    this.previousHardState = storage.initialState().hardState;
  }

  tick(): void {
    this.raft.tick();
  }

  /** Starts an election now (pre-vote first, if enabled). Learners ignore it. */
  campaign(): void {
    this.raft.step({ type: 'hup', from: NO_RAFT_ID, to: NO_RAFT_ID, term: ZERO_TERM, transfer: false });
  }

  propose(data: Uint8Array): RaftError | undefined {
    return this.proposeEntry({ index: ZERO_INDEX, term: ZERO_TERM, kind: 'normal', data });
  }

  /**
   * Proposes a membership change. It takes effect on each node when the entry is applied and the
   * driver calls `applyConfChange`. A change while another is pending is turned into a no-op.
   */
  proposeConfChange(change: ConfChangeV2): RaftError | undefined {
    const problem = validateConfChange(change);
    if (problem !== undefined) return { kind: 'conf_change_invalid', reason: problem };
    const data = encodeConfChange(change);
    return this.proposeEntry({ index: ZERO_INDEX, term: ZERO_TERM, kind: 'confChange', data });
  }

  private proposeEntry(entry: Entry): RaftError | undefined {
    return this.raft.step({ type: 'propose', from: NO_RAFT_ID, to: NO_RAFT_ID, term: ZERO_TERM, entries: [entry] });
  }

  /** Applies a committed conf change; returns the membership now in force. */
  applyConfChange(change: ConfChangeV2): ApplyConfChangeResult {
    return this.raft.applyConfChange(change);
  }

  /** Feeds a message from the network. Local-only message types are refused. */
  step(message: RaftMessage): RaftError | undefined {
    if (isLocalMessage(message)) return { kind: 'step_local_message', type: message.type };
    // A response from a node we don't track (removed meanwhile) carries nothing useful.
    if (isResponseMessage(message) && this.raft.tracker.get(message.from) === undefined &&
      this.raft.state === 'Leader') {
      return { kind: 'step_peer_not_found', from: message.from };
    }
    return this.raft.step(message);
  }

  /** Asks the leader (this node or the one it knows) to hand leadership to `transferee`. */
  transferLeader(transferee: RaftId): RaftError | undefined {
    return this.raft.step({ type: 'transferLeader', from: NO_RAFT_ID, to: NO_RAFT_ID, term: ZERO_TERM, transferee });
  }

  /** Requests a linearizable read point; the answer arrives as a ReadState with this context. */
  readIndex(context: Uint8Array): RaftError | undefined {
    return this.raft.step({ type: 'readIndex', from: NO_RAFT_ID, to: NO_RAFT_ID, term: ZERO_TERM, context });
  }

  reportUnreachable(id: RaftId): void {
    this.raft.step({ type: 'unreachable', from: id, to: NO_RAFT_ID, term: ZERO_TERM });
  }

  /**
   * Reports how sending a snapshot to `id` ended, so the leader resumes or retries. The driver
   * must report every snapshot message it was handed: until then the leader sends that follower
   * nothing but heartbeats (a lost, unreported snapshot would stall it forever).
   */
  reportSnapshot(id: RaftId, report: SnapshotReport): void {
    this.raft.step({ type: 'snapshotStatus', from: id, to: NO_RAFT_ID, term: ZERO_TERM, reject: report === 'failure' });
  }

  /** Follower: asks the leader for a fresh snapshot at or past our commit index. */
  requestSnapshot(): RaftError | undefined {
    return this.raft.requestSnapshot();
  }

  /**
   * raft-rs group commit: commit only entries that reached two commit groups (e.g. two data
   * centres) besides a quorum. Group ids are the application's; 0 means unknown.
   */
  enableGroupCommit(enabled: boolean): void {
    this.raft.tracker.groupCommit = enabled;
  }

  assignCommitGroups(groups: ReadonlyMap<RaftId, number>): void {
    for (const [nodeId, group] of groups) {
      assert(Number.isSafeInteger(group) && group >= 0, 'commit group ids are non-negative integers');
      const progress = this.raft.tracker.get(nodeId);
      if (progress !== undefined) progress.commitGroupId = group;
    }
  }

  /** The membership in force (as of the last applied conf change). */
  confState(): ConfState {
    return this.raft.tracker.confState();
  }

  /**
   * Records a snapshot of the application's state at the applied index. `data` must be exactly
   * the state after applying every entry up to `status().applied`.
   */
  createSnapshot(data: Uint8Array): RaftError | Snapshot {
    const applied = this.raft.log.applied;
    assert(applied > 0, 'nothing applied yet to snapshot');
    const result = this.storage.createSnapshot(applied, this.confState(), data);
    if (!result.ok) return { kind: 'snapshot_out_of_date', index: applied };
    return result.value;
  }

  /** Drops log entries up to `index`, which must be applied and covered by a snapshot. */
  compact(index: LogIndex): RaftError | undefined {
    assert(index <= this.raft.log.applied, () => `compact ${index} past applied ${this.raft.log.applied}`);
    const result = this.storage.compact(index);
    if (!result.ok) return { kind: 'snapshot_out_of_date', index };
    return undefined;
  }

  hasReady(): boolean {
    const raft = this.raft;
    if (!softStateEqual(raft.softState(), this.previousSoftState)) return true;
    if (!hardStateEqual(raft.hardState(), this.previousHardState) && !isEmptyHardState(raft.hardState())) return true;
    if (raft.log.hasPendingSnapshot()) return true;
    if (raft.log.unstableEntries().length > 0) return true;
    if (raft.messages.length > 0 || raft.readStates.length > 0 || raft.snapshotWanted) return true;
    return raft.log.hasNextCommittedEntries();
  }

  /** Collects everything the driver must do now. Call `advance()` before the next `ready()`. */
  ready(): Ready {
    assert(this.inFlight === undefined, 'ready() called again before advance()');
    const raft = this.raft;
    const softState = raft.softState();
    const hardState = raft.hardState();
    const hardChanged = !hardStateEqual(hardState, this.previousHardState) && !isEmptyHardState(hardState);
    const entries = [...raft.log.unstableEntries()];
    const snapshot = raft.log.unstable.snapshot;
    const committedEntries = raft.log.nextCommittedEntries(raft.config.maxCommittedSizePerReadyBytes);
    const messages = raft.messages;
    const readStates = raft.readStates;
    raft.messages = [];
    raft.readStates = [];
    const snapshotWanted = raft.snapshotWanted;
    raft.snapshotWanted = false;
    const lastEntry = entries[entries.length - 1];
    this.inFlight = {
      softState,
      hardState: hardChanged ? hardState : undefined,
      lastEntry: lastEntry === undefined ? undefined : { index: lastEntry.index, term: lastEntry.term },
      snapshotIndex: snapshot?.index,
      committedEntries,
    };
    const mustSync = entries.length > 0 || snapshot !== undefined ||
      hardState.term !== this.previousHardState.term || hardState.vote !== this.previousHardState.vote;
    return {
      ...(softStateEqual(softState, this.previousSoftState) ? {} : { softState }),
      ...(hardChanged ? { hardState } : {}),
      ...(snapshot === undefined ? {} : { snapshot }),
      entries,
      messages,
      committedEntries,
      readStates,
      mustSync,
      snapshotWanted,
    };
  }

  /** Acknowledges the last Ready: it is persisted, its messages sent, its entries applied. */
  advance(): void {
    const done = this.inFlight;
    assert(done !== undefined, 'advance() without a ready()');
    this.inFlight = undefined;
    this.previousSoftState = done.softState;
    if (done.hardState !== undefined) this.previousHardState = done.hardState;
    if (done.snapshotIndex !== undefined) {
      this.raft.log.stableSnapshotTo(done.snapshotIndex);
      this.raft.appliedTo(done.snapshotIndex);
    }
    if (done.lastEntry !== undefined) this.raft.log.stableTo(done.lastEntry.index, done.lastEntry.term);
    const lastCommitted = done.committedEntries[done.committedEntries.length - 1];
    if (lastCommitted !== undefined) {
      this.raft.reduceUncommittedSize(done.committedEntries);
      this.raft.appliedTo(lastCommitted.index);
    }
  }

  status(): RaftStatus {
    return raftStatus(this.raft);
  }
}

function softStateEqual(a: SoftState, b: SoftState): boolean {
  return a.leaderId === b.leaderId && a.raftState === b.raftState;
}

function isEmptyHardState(hardState: HardState): boolean {
  return hardStateEqual(hardState, EMPTY_HARD_STATE);
}
