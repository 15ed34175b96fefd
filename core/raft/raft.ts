/**
 * The Raft state machine (etcd-io/raft's raft.go, in our own words). It performs no I/O: inputs
 * are `tick()` and `step(message)`; outputs accumulate in `messages` and `readStates`, and in the
 * log's unstable part, for `RawNode` to hand to the driver as a Ready.
 *
 * Each role is a pair of functions: `stepRole` handles messages once `step` has dealt with terms,
 * and `tickRole` advances time (election timer for followers and candidates, heartbeat timer for
 * the leader). `becomeFollower/PreCandidate/Candidate/Leader` swap them.
 *
 * Section numbers refer to the Raft paper ("In Search of an Understandable Consensus Algorithm")
 * and, where marked, to Ongaro's thesis.
 */
import { probe } from '../lib/probe.ts';
import { assert, unreachable } from '../lib/assert.ts';
import type { RaftConfig } from './config.ts';
import {
  type ConfChangeResult,
  type ChangerContext,
  type ConfChangeV2,
  LEAVE_JOINT,
  applyConfChangeV2,
  decodeConfChange,
  encodeConfChange,
  isLeaveJoint,
  restoreConfState,
} from './confchange.ts';
import { type RaftError, proposalDropped } from './errors.ts';
import { RaftLog } from './log.ts';
import type {
  AppendMessage,
  AppendResponseMessage,
  HeartbeatMessage,
  HeartbeatResponseMessage,
  PreVoteMessage,
  ProposeMessage,
  RaftMessage,
  ReadIndexMessage,
  SnapshotMessage,
  SnapshotStatusMessage,
  TransferLeaderMessage,
  VoteMessage,
} from './messages.ts';
import type { Progress } from './progress.ts';
import { jointVoteResult } from './quorum.ts';
import { ReadOnly } from './read-only.ts';
import type { LogStorage } from './storage.ts';
import { EMPTY_TRACKER_CONFIG, ProgressTracker, isJoint } from './tracker.ts';
import {
  type ConfState,
  EMPTY_HARD_STATE,
  type Entry,
  type EntryKind,
  type HardState,
  type LogIndex,
  NO_RAFT_ID,
  type RaftId,
  type RaftRole,
  type ReadState,
  type Snapshot,
  type SoftState,
  type Term,
  ZERO_INDEX,
  ZERO_TERM,
  asLogIndex,
  asTerm,
  hardStateEqual,
  isEmptySnapshot,
  payloadSizeBytes,
} from './types.ts';

type CampaignKind = 'preElection' | 'election' | 'transfer';

/** An entry as proposed: Raft assigns index and term when the leader appends it. */
export interface ProposedEntry {
  readonly kind: EntryKind;
  readonly data: Uint8Array;
}

export type ApplyConfChangeResult =
  | { readonly ok: true; readonly confState: ConfState }
  | { readonly ok: false; readonly error: RaftError; readonly confState: ConfState };

const EMPTY_BYTES = new Uint8Array(0);

export class Raft {
  readonly id: RaftId;
  readonly config: RaftConfig;
  readonly log: RaftLog;
  readonly tracker: ProgressTracker;
  term: Term = ZERO_TERM;
  vote: RaftId = NO_RAFT_ID;
  lead: RaftId = NO_RAFT_ID;
  state: RaftRole = 'Follower';
  isLearner = false;
  /** Outbox: messages for the driver to send once the current Ready is durable. */
  messages: RaftMessage[] = [];
  /** Answered ReadIndex requests for the application. */
  readStates: ReadState[] = [];
  /** Node leadership is being handed to, or NO_RAFT_ID. */
  leadTransferee: RaftId = NO_RAFT_ID;
  /**
   * The highest commit index a leader has told this node: appends carry the leader's own, while
   * heartbeats and snapshots carry a lower bound. Never decreases (a commit is final in every
   * term); 0 until the first message after a start. Only read for reports (lag metrics).
   */
  leaderCommit: LogIndex = ZERO_INDEX;
  /**
   * Index of the latest conf change the leader appended. A new one is refused while it is above
   * `applied`: only one change may be in flight (Raft thesis §4.1).
   */
  pendingConfIndex: LogIndex = ZERO_INDEX;
  /** Payload bytes in the leader's uncommitted tail (for `maxUncommittedEntriesSizeBytes`). */
  uncommittedSizeBytes = 0;
  readOnly: ReadOnly;
  /** ReadIndex requests a new leader holds until it commits an entry of its own term. */
  pendingReadIndexMessages: ReadIndexMessage[] = [];
  /**
   * Leader: a follower needs a snapshot and the stored one won't do (missing, older than asked
   * for, or taken before the follower joined). RawNode passes it to the driver once via Ready.
   */
  snapshotWanted = false;
  /** The follower asked its leader for a fresh snapshot and ignores appends until it arrives. */
  pendingRequestSnapshot = false;
  /** Ticks since the last election timeout reset (followers) or check-quorum round (leaders). */
  electionElapsedTicks = 0;
  /** Leader only: ticks since the last heartbeat broadcast. */
  heartbeatElapsedTicks = 0;
  /** This term's election timeout, drawn from [electionTicks, 2 * electionTicks). */
  randomizedElectionTicks = 0;
  private stepRole: (message: RaftMessage) => RaftError | undefined;
  private tickRole: () => void;

  constructor(config: RaftConfig, storage: LogStorage) {
    this.id = config.id;
    this.config = config;
    this.log = new RaftLog(storage);
    this.tracker = new ProgressTracker(config.maxInflightMsgs);
    this.readOnly = new ReadOnly(config.readOnlyOption);
    const { hardState, confState } = storage.initialState();
    const restored = restoreConfState(this.changerContext(EMPTY_TRACKER_CONFIG, new Map()), confState);
    assert(restored.ok, () => `cannot restore conf state: ${restored.ok || restored.error}`);
    this.installConfig(restored);
    this.loadHardState(hardState);
    if (config.appliedIndex > 0) this.log.appliedTo(config.appliedIndex);
    this.stepRole = (message) => this.stepFollower(message);
    this.tickRole = () => this.tickElection();
    this.becomeFollower(this.term, NO_RAFT_ID);
  }

  private loadHardState(hardState: HardState): void {
    if (hardStateEqual(hardState, EMPTY_HARD_STATE)) return; // a brand-new node
    const committed = hardState.commit;
    assert(committed >= this.log.committed, () => `hard state commit ${committed} is below the snapshot`);
    assert(committed <= this.log.lastIndex(), () => `hard state commit ${committed} is past the log end`);
    this.log.committed = committed;
    this.term = hardState.term;
    this.vote = hardState.vote;
  }

  softState(): SoftState {
    return { leaderId: this.lead, raftState: this.state };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  // ---------------------------------------------------------------------------------------------
  // Output helpers
  // ---------------------------------------------------------------------------------------------

  private send(message: RaftMessage): void {
    assert(message.from === this.id, 'messages are sent from this node');
    assert(message.to !== this.id, 'a node never sends itself a network message');
    this.messages.push(message);
  }

  private sendAppendResponse(
    to: RaftId,
    index: LogIndex,
    reject = false,
    hintIndex = ZERO_INDEX,
    hintTerm = ZERO_TERM,
  ): void {
    this.send({
      type: 'appendResponse', from: this.id, to, term: this.term,
      index, reject, hintIndex, hintTerm, requestSnapshot: false,
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Role transitions
  // ---------------------------------------------------------------------------------------------

  private reset(term: Term): void {
    if (this.term !== term) {
      assert(term > this.term, () => `term must not go back: ${this.term} -> ${term}`);
      this.term = term;
      this.vote = NO_RAFT_ID;
    }
    this.lead = NO_RAFT_ID;
    this.electionElapsedTicks = 0;
    this.heartbeatElapsedTicks = 0;
    this.resetRandomizedElectionTimeout();
    this.abortLeaderTransfer();
    this.tracker.resetVotes();
    const lastIndex = this.log.lastIndex();
    this.tracker.visit((id, progress) => {
      progress.match = id === this.id ? lastIndex : ZERO_INDEX;
      progress.next = asLogIndex(lastIndex + 1);
      progress.state = 'probe';
      progress.pendingSnapshot = ZERO_INDEX;
      progress.probeSent = false;
      progress.recentActive = false;
      progress.pendingRequestSnapshot = undefined;
      progress.sentCommit = ZERO_INDEX;
      progress.inflights.reset();
    });
    this.pendingConfIndex = ZERO_INDEX;
    this.uncommittedSizeBytes = 0;
    this.readOnly = new ReadOnly(this.config.readOnlyOption);
    this.pendingReadIndexMessages = [];
  }

  private resetRandomizedElectionTimeout(): void {
    const ticks = this.config.electionTicks;
    this.randomizedElectionTicks = ticks + this.config.random.int(ticks);
    assert(this.randomizedElectionTicks >= ticks && this.randomizedElectionTicks < 2 * ticks, 'bad election timeout');
  }

  becomeFollower(term: Term, lead: RaftId): void {
    this.stepRole = (message) => this.stepFollower(message);
    this.tickRole = () => this.tickElection();
    this.reset(term);
    this.lead = lead;
    this.state = 'Follower';
  }

  becomeCandidate(): void {
    assert(this.state !== 'Leader', 'invalid transition [leader -> candidate]');
    this.stepRole = (message) => this.stepCandidate(message);
    this.tickRole = () => this.tickElection();
    this.reset(asTerm(this.term + 1));
    this.vote = this.id;
    this.state = 'Candidate';
  }

  /** Thesis §9.6: campaign for pre-votes at term+1 without touching our term or vote. */
  becomePreCandidate(): void {
    assert(this.state !== 'Leader', 'invalid transition [leader -> pre-candidate]');
    this.stepRole = (message) => this.stepCandidate(message);
    this.tickRole = () => this.tickElection();
    this.tracker.resetVotes();
    this.lead = NO_RAFT_ID;
    this.state = 'PreCandidate';
  }

  becomeLeader(): void {
    assert(this.state !== 'Follower', 'invalid transition [follower -> leader]');
    this.stepRole = (message) => this.stepLeader(message);
    this.tickRole = () => this.tickHeartbeat();
    this.reset(this.term);
    this.lead = this.id;
    this.state = 'Leader';
    this.pendingRequestSnapshot = false;
    const self = this.tracker.get(this.id);
    assert(self !== undefined, 'a leader must track itself');
    self.becomeReplicate();
    self.recentActive = true;
    // The unapplied tail may hold a conf change we can't see cheaply; be conservative and treat
    // everything up to our last index as possibly pending (etcd TestNewLeaderPendingConfig).
    this.pendingConfIndex = this.log.lastIndex();
    // §5.4.2: a leader can only commit earlier terms' entries through one of its own, so append
    // an empty one now. Its payload is empty, so the uncommitted-size cap never refuses it.
    const appended = this.appendEntries([{ kind: 'normal', data: EMPTY_BYTES }]);
    assert(appended, 'the empty leader entry is never refused');
  }

  // ---------------------------------------------------------------------------------------------
  // Time
  // ---------------------------------------------------------------------------------------------

  tick(): void {
    this.tickRole();
    this.checkInvariants();
  }

  private tickElection(): void {
    this.electionElapsedTicks++;
    if (this.promotable() && this.electionElapsedTicks >= this.randomizedElectionTicks) {
      this.electionElapsedTicks = 0;
      this.step({ type: 'hup', from: NO_RAFT_ID, to: NO_RAFT_ID, term: ZERO_TERM, transfer: false });
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsedTicks++;
    this.electionElapsedTicks++;
    if (this.electionElapsedTicks >= this.config.electionTicks) {
      this.electionElapsedTicks = 0;
      if (this.config.checkQuorum) {
        this.step({ type: 'checkQuorum', from: NO_RAFT_ID, to: NO_RAFT_ID, term: ZERO_TERM });
      }
      // A transfer that did not finish within an election timeout is abandoned.
      if (this.state === 'Leader' && this.leadTransferee !== NO_RAFT_ID) this.abortLeaderTransfer();
    }
    if (this.state !== 'Leader') return;
    if (this.heartbeatElapsedTicks >= this.config.heartbeatTicks) {
      this.heartbeatElapsedTicks = 0;
      this.step({ type: 'beat', from: NO_RAFT_ID, to: NO_RAFT_ID, term: ZERO_TERM });
    }
  }

  /** Whether this node may become leader: a voter with no snapshot waiting to be applied. */
  promotable(): boolean {
    const self = this.tracker.get(this.id);
    return self !== undefined && !self.isLearner && !this.log.hasPendingSnapshot();
  }

  // ---------------------------------------------------------------------------------------------
  // Step: terms first, then the role
  // ---------------------------------------------------------------------------------------------

  step(message: RaftMessage): RaftError | undefined {
    const error = this.stepOnce(message);
    this.checkInvariants();
    return error;
  }

  private stepOnce(message: RaftMessage): RaftError | undefined {
    if (message.term > this.term) {
      if (!this.stepHigherTerm(message)) return undefined;
    } else if (message.term !== 0 && message.term < this.term) {
      this.stepLowerTerm(message);
      return undefined;
    }
    switch (message.type) {
      case 'hup':
        this.hup(message.transfer ? 'transfer' : this.config.preVote ? 'preElection' : 'election');
        return undefined;
      case 'vote':
      case 'preVote':
        this.handleVoteRequest(message);
        return undefined;
      default:
        return this.stepRole(message);
    }
  }

  /** Cheap always-on checks of the role and log invariants, after every input. */
  checkInvariants(): void {
    const log = this.log;
    assert(log.applied <= log.committed, () => `applied ${log.applied} > committed ${log.committed}`);
    assert(log.committed <= log.lastIndex(), () => `committed ${log.committed} > last ${log.lastIndex()}`);
    assert(this.pendingConfIndex <= log.lastIndex(), 'pending conf index past the log end');
    if (this.state === 'Leader') {
      assert(this.lead === this.id, 'a leader leads itself');
      const self = this.tracker.get(this.id);
      if (self !== undefined) assert(self.match === log.lastIndex(), 'a leader has acked its own log');
    } else {
      assert(this.leadTransferee === NO_RAFT_ID, 'only a leader transfers leadership');
      assert(this.uncommittedSizeBytes === 0, 'only a leader tracks uncommitted size');
    }
    if (this.state === 'Candidate') assert(this.vote === this.id, 'a candidate votes for itself');
    if (this.state === 'Candidate' || this.state === 'PreCandidate') {
      assert(this.lead === NO_RAFT_ID, 'a candidate knows no leader');
    }
  }

  /** Returns false when the message must be ignored. */
  private stepHigherTerm(message: RaftMessage): boolean {
    if (message.type === 'vote' || message.type === 'preVote') {
      // Thesis §4.2.3: while we hear from a leader, ignore would-be disruptors, unless the
      // leader itself asked for the election (transfer).
      const inLease = this.config.checkQuorum && this.lead !== NO_RAFT_ID &&
        this.electionElapsedTicks < this.config.electionTicks;
      if (inLease && !message.transfer) return false;
    }
    // A pre-vote never changes terms: it asks about term+1 hypothetically. A granted pre-vote
    // response carries that future term too; we move to it only after winning the pre-vote.
    if (message.type === 'preVote') return true;
    if (message.type === 'preVoteResponse' && !message.reject) return true;
    const fromLeader = message.type === 'append' || message.type === 'heartbeat' || message.type === 'snapshot';
    this.becomeFollower(message.term, fromLeader ? message.from : NO_RAFT_ID);
    return true;
  }

  private stepLowerTerm(message: RaftMessage): void {
    if ((this.config.checkQuorum || this.config.preVote) &&
      (message.type === 'heartbeat' || message.type === 'append')) {
      // A stale leader may have been partitioned away. With check-quorum or pre-vote our higher
      // term would otherwise never reach it (we don't campaign against it), so tell it directly.
      this.sendAppendResponse(message.from, ZERO_INDEX);
    } else if (message.type === 'preVote') {
      // Answer so the pre-candidate learns our term instead of retrying forever.
      this.send({ type: 'preVoteResponse', from: this.id, to: message.from, term: this.term, reject: true });
    }
  }

  private handleVoteRequest(message: VoteMessage | PreVoteMessage): void {
    const canVote = this.vote === message.from ||
      (this.vote === NO_RAFT_ID && this.lead === NO_RAFT_ID) ||
      (message.type === 'preVote' && message.term > this.term);
    const upToDate = this.log.isUpToDate(message.lastIndex, message.lastTerm);
    // raft-rs priority: with logs of equal length, prefer the higher-priority candidate.
    const priorityOk = message.lastIndex > this.log.lastIndex() || this.config.priority <= message.priority;
    const responseType = message.type === 'vote' ? 'voteResponse' : 'preVoteResponse';
    if (canVote && upToDate && priorityOk) {
      // Reply at the message's term: for a pre-vote that is the candidate's future term.
      this.send({ type: responseType, from: this.id, to: message.from, term: message.term, reject: false });
      if (message.type === 'vote') {
        this.electionElapsedTicks = 0;
        this.vote = message.from;
      }
    } else {
      this.send({ type: responseType, from: this.id, to: message.from, term: this.term, reject: true });
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Elections (§5.2)
  // ---------------------------------------------------------------------------------------------

  private hup(kind: CampaignKind): void {
    if (this.state === 'Leader') return;
    // Learners and removed nodes never campaign, even when told to by TimeoutNow.
    if (!this.promotable()) return;
    // A conf change we have committed but not applied may change who votes; wait for it.
    if (this.hasUnappliedConfChanges()) return;
    this.campaign(kind);
  }

  private hasUnappliedConfChanges(): boolean {
    if (this.log.applied >= this.log.committed) return false;
    const entries = this.log.slice(asLogIndex(this.log.applied + 1), asLogIndex(this.log.committed + 1), Infinity);
    if (!entries.ok) return false;
    return entries.value.some((entry) => entry.kind === 'confChange');
  }

  campaign(kind: CampaignKind): void {
    assert(this.promotable(), 'only promotable nodes campaign');
    let term: Term;
    if (kind === 'preElection') {
      this.becomePreCandidate();
      term = asTerm(this.term + 1);
    } else {
      this.becomeCandidate();
      term = this.term;
    }
    const voteType = kind === 'preElection' ? 'preVote' : 'vote';
    // Our own vote counts at once. It reaches disk in the same Ready as the requests, before
    // they are sent, so a restart cannot make us vote twice in this term.
    this.tracker.recordVote(this.id, true);
    if (this.tracker.tallyVotes().result === 'won') {
      if (kind === 'preElection') this.campaign('election');
      else this.becomeLeader();
      return;
    }
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    for (const id of [...this.tracker.voterIds()].sort((a, b) => a - b)) {
      if (id === this.id) continue;
      this.send({
        type: voteType, from: this.id, to: id, term, lastIndex, lastTerm,
        transfer: kind === 'transfer', priority: this.config.priority,
      });
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Candidate and pre-candidate
  // ---------------------------------------------------------------------------------------------

  private stepCandidate(message: RaftMessage): RaftError | undefined {
    switch (message.type) {
      case 'propose':
        return proposalDropped('campaigning');
      case 'append':
        this.becomeFollower(message.term, message.from);
        this.handleAppendEntries(message);
        return undefined;
      case 'heartbeat':
        this.becomeFollower(message.term, message.from);
        this.handleHeartbeat(message);
        return undefined;
      case 'snapshot':
        this.becomeFollower(message.term, message.from);
        this.handleSnapshot(message);
        return undefined;
      case 'voteResponse':
      case 'preVoteResponse':
        this.handleVoteResponse(message.type, message.from, message.reject);
        return undefined;
      case 'readIndex':
        return proposalDropped('campaigning');
      case 'transferLeader':
        return proposalDropped('no_leader');
      case 'timeoutNow':
      case 'beat':
      case 'checkQuorum':
      case 'appendResponse':
      case 'heartbeatResponse':
      case 'readIndexResponse':
      case 'unreachable':
      case 'snapshotStatus':
      case 'hup':
      case 'vote':
      case 'preVote':
        return undefined;
      default:
        return unreachable(message);
    }
  }

  private handleVoteResponse(type: 'voteResponse' | 'preVoteResponse', from: RaftId, reject: boolean): void {
    const expected = this.state === 'PreCandidate' ? 'preVoteResponse' : 'voteResponse';
    if (type !== expected) return; // a leftover from our previous (pre-)campaign
    this.tracker.recordVote(from, !reject);
    const result = this.tracker.tallyVotes().result;
    if (result === 'won') {
      if (this.state === 'PreCandidate') {
        this.campaign('election');
      } else {
        this.becomeLeader();
        this.broadcastAppend();
      }
    } else if (result === 'lost') {
      // A rejection at a higher term already made us a follower in step(); this covers our term.
      this.becomeFollower(this.term, NO_RAFT_ID);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Follower
  // ---------------------------------------------------------------------------------------------

  private stepFollower(message: RaftMessage): RaftError | undefined {
    switch (message.type) {
      case 'propose':
        if (this.lead === NO_RAFT_ID) return proposalDropped('no_leader');
        if (this.config.disableProposalForwarding) return proposalDropped('forwarding_disabled');
        // Forwarded proposals carry no term: the leader treats them like local ones.
        this.send({ ...message, from: this.id, to: this.lead, term: ZERO_TERM });
        return undefined;
      case 'append':
        this.electionElapsedTicks = 0;
        this.lead = message.from;
        this.handleAppendEntries(message);
        return undefined;
      case 'heartbeat':
        this.electionElapsedTicks = 0;
        this.lead = message.from;
        this.handleHeartbeat(message);
        return undefined;
      case 'snapshot':
        this.electionElapsedTicks = 0;
        this.lead = message.from;
        this.handleSnapshot(message);
        return undefined;
      case 'transferLeader':
        if (this.lead === NO_RAFT_ID) return proposalDropped('no_leader');
        this.send({ ...message, from: this.id, to: this.lead, term: this.term });
        return undefined;
      case 'timeoutNow':
        // The leader picked us; campaign at once, skipping pre-vote and leases (thesis §3.10).
        this.hup('transfer');
        return undefined;
      default:
        return this.stepFollowerRest(message);
    }
  }

  private stepFollowerRest(message: RaftMessage): RaftError | undefined {
    switch (message.type) {
      case 'readIndex':
        if (this.lead === NO_RAFT_ID) return proposalDropped('no_leader');
        this.send({ ...message, from: this.id, to: this.lead, term: ZERO_TERM });
        return undefined;
      case 'readIndexResponse':
        this.readStates.push({ index: message.index, context: message.context });
        return undefined;
      case 'propose':
      case 'append':
      case 'heartbeat':
      case 'snapshot':
      case 'transferLeader':
      case 'timeoutNow':
        return assertHandledElsewhere(message.type);
      case 'beat':
      case 'checkQuorum':
      case 'appendResponse':
      case 'heartbeatResponse':
      case 'voteResponse':
      case 'preVoteResponse':
      case 'unreachable':
      case 'snapshotStatus':
      case 'hup':
      case 'vote':
      case 'preVote':
        return undefined;
      default:
        return unreachable(message);
    }
  }

  private heardLeaderCommit(commit: LogIndex): void {
    if (commit > this.leaderCommit) this.leaderCommit = commit;
  }

  private handleAppendEntries(message: AppendMessage): void {
    this.heardLeaderCommit(message.commit);
    if (this.pendingRequestSnapshot) {
      this.sendRequestSnapshot();
      return;
    }
    if (message.prevIndex < this.log.committed) {
      // Everything up to our commit index already matches the leader (§5.4 Leader Completeness).
      this.sendAppendResponse(message.from, this.log.committed);
      return;
    }
    const lastNewIndex = this.log.maybeAppend(message.prevIndex, message.prevTerm, message.commit, message.entries);
    if (lastNewIndex !== undefined) {
      this.sendAppendResponse(message.from, lastNewIndex);
      return;
    }
    // Reject with a hint (etcd TestFastLogRejection): our largest entry at or below the probe
    // whose term is <= the leader's prevTerm. Nothing above it can match, so the leader can skip
    // a whole run of mismatching terms in one round trip instead of one index at a time.
    const probeIndex = asLogIndex(Math.min(message.prevIndex, this.log.lastIndex()));
    const hint = this.log.findConflictByTerm(probeIndex, message.prevTerm);
    this.sendAppendResponse(message.from, message.prevIndex, true, hint.index, hint.term);
  }

  private handleHeartbeat(message: HeartbeatMessage): void {
    this.heardLeaderCommit(message.commit);
    // The leader sends min(our match, its commit), so this never passes our log's end.
    this.log.commitTo(message.commit);
    if (this.pendingRequestSnapshot) {
      this.sendRequestSnapshot();
      return;
    }
    this.send({
      type: 'heartbeatResponse', from: this.id, to: message.from, term: this.term, context: message.context,
    });
  }

  private handleSnapshot(message: SnapshotMessage): void {
    this.heardLeaderCommit(message.snapshot.index);
    if (this.restore(message.snapshot)) {
      this.sendAppendResponse(message.from, this.log.lastIndex());
    } else {
      this.sendAppendResponse(message.from, this.log.committed);
    }
  }

  /** Installs a snapshot from the leader. Returns false when it is stale or already covered. */
  restore(snapshot: Snapshot): boolean {
    assert(!isEmptySnapshot(snapshot), 'the leader never sends an empty snapshot');
    if (snapshot.index < this.log.committed) return false;
    if (snapshot.index === this.log.committed && !this.pendingRequestSnapshot) return false;
    assert(this.state === 'Follower', 'only followers install snapshots');
    const { voters, learners, votersOutgoing } = snapshot.confState;
    const members = [...voters, ...learners, ...votersOutgoing];
    // A snapshot that does not include us would leave this node outside its own group.
    if (!members.includes(this.id)) return false;
    if (!this.pendingRequestSnapshot && this.log.matchTerm(snapshot.index, snapshot.term)) {
      // We already have the entry the snapshot ends at, so our log matches up to it: just commit.
      this.log.commitTo(snapshot.index);
      return false;
    }
    this.log.restore(snapshot);
    const restored = restoreConfState(this.changerContext(EMPTY_TRACKER_CONFIG, new Map()), snapshot.confState);
    assert(restored.ok, () => `snapshot conf state is invalid: ${restored.ok || restored.error}`);
    this.installConfig(restored);
    this.pendingRequestSnapshot = false;
    return true;
  }

  /** raft-rs request_snapshot: ask the leader for a snapshot at or past our commit index. */
  requestSnapshot(): RaftError | undefined {
    if (this.state !== 'Follower') return { kind: 'request_snapshot_dropped', reason: 'not a follower' };
    if (this.lead === NO_RAFT_ID) return { kind: 'request_snapshot_dropped', reason: 'no leader' };
    if (this.pendingRequestSnapshot) return { kind: 'request_snapshot_dropped', reason: 'already pending' };
    this.pendingRequestSnapshot = true;
    this.sendRequestSnapshot();
    return undefined;
  }

  private sendRequestSnapshot(): void {
    this.send({
      type: 'appendResponse', from: this.id, to: this.lead, term: this.term,
      index: this.log.committed, reject: true, hintIndex: this.log.lastIndex(), hintTerm: ZERO_TERM,
      requestSnapshot: true,
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Leader
  // ---------------------------------------------------------------------------------------------

  private stepLeader(message: RaftMessage): RaftError | undefined {
    switch (message.type) {
      case 'beat':
        this.broadcastHeartbeat(this.readOnly.lastPendingContext());
        return undefined;
      case 'checkQuorum':
        this.checkQuorumActive();
        return undefined;
      case 'propose':
        return this.leaderPropose(message);
      case 'readIndex':
        this.leaderReadIndex(message);
        return undefined;
      case 'transferLeader':
        this.leaderTransfer(message);
        return undefined;
      case 'append':
      case 'heartbeat':
      case 'snapshot':
        // Election Safety (§5.2): two leaders in one term would be a bug.
        return assertHandledElsewhere(`${message.type} from ${message.from} to a leader of the same term`);
      default:
        return this.stepLeaderFromPeer(message);
    }
  }

  /** Messages that concern one follower's progress. */
  private stepLeaderFromPeer(message: RaftMessage): RaftError | undefined {
    switch (message.type) {
      case 'appendResponse':
      case 'heartbeatResponse':
      case 'snapshotStatus':
      case 'unreachable': {
        const progress = this.tracker.get(message.from);
        if (progress === undefined) return { kind: 'step_peer_not_found', from: message.from };
        if (message.type === 'appendResponse') this.handleAppendResponse(message, progress);
        else if (message.type === 'heartbeatResponse') this.handleHeartbeatResponse(message, progress);
        else if (message.type === 'snapshotStatus') this.handleSnapshotStatus(message, progress);
        else if (progress.state === 'replicate') progress.becomeProbe(); // stop streaming into the void
        return undefined;
      }
      case 'beat':
      case 'checkQuorum':
      case 'propose':
      case 'readIndex':
      case 'transferLeader':
      case 'append':
      case 'heartbeat':
      case 'snapshot':
        return assertHandledElsewhere(message.type);
      case 'voteResponse':
      case 'preVoteResponse':
      case 'readIndexResponse':
      case 'timeoutNow':
      case 'hup':
      case 'vote':
      case 'preVote':
        return undefined;
      default:
        return unreachable(message);
    }
  }

  private checkQuorumActive(): void {
    const self = this.tracker.get(this.id);
    if (self !== undefined) self.recentActive = true;
    if (!this.tracker.quorumActive()) {
      // Thesis §6.2: without a quorum we may be partitioned away; stop serving as leader.
      probe('raft.leader_lost_quorum');
      this.becomeFollower(this.term, NO_RAFT_ID);
      return;
    }
    this.tracker.visit((id, progress) => {
      if (id !== this.id) progress.recentActive = false;
    });
  }

  private leaderPropose(message: ProposeMessage): RaftError | undefined {
    assert(message.entries.length > 0, 'a proposal carries entries');
    if (this.tracker.get(this.id) === undefined) return proposalDropped('removed_from_config');
    if (this.leadTransferee !== NO_RAFT_ID) return proposalDropped('leader_transfer_in_progress');
    const entries = message.entries.map((entry, position) => this.screenConfChange(entry, position));
    if (!this.appendEntries(entries)) return proposalDropped('uncommitted_size_limit');
    this.broadcastAppend();
    return undefined;
  }

  /**
   * Thesis §4.1: one membership change at a time. A conf change that would overlap another
   * (or a joint transition in the wrong order) becomes an empty normal entry, so the proposal
   * still gets an index but changes nothing.
   */
  private screenConfChange(entry: ProposedEntry, position: number): ProposedEntry {
    if (entry.kind !== 'confChange') return entry;
    const change = decodeConfChange(entry.data);
    const alreadyPending = this.pendingConfIndex > this.log.applied;
    const alreadyJoint = isJoint(this.tracker.config);
    const wantsLeaveJoint = isLeaveJoint(change);
    const refused = alreadyPending || (alreadyJoint && !wantsLeaveJoint) || (!alreadyJoint && wantsLeaveJoint);
    if (refused) return { kind: 'normal', data: EMPTY_BYTES };
    this.pendingConfIndex = asLogIndex(this.log.lastIndex() + position + 1);
    return entry;
  }

  /** Appends entries at our term. Returns false if the uncommitted-size cap refuses them. */
  private appendEntries(proposed: readonly ProposedEntry[]): boolean {
    const lastIndex = this.log.lastIndex();
    const entries: Entry[] = proposed.map((entry, position) => ({
      index: asLogIndex(lastIndex + 1 + position), term: this.term, kind: entry.kind, data: entry.data,
    }));
    if (!this.increaseUncommittedSize(entries)) return false;
    const newLastIndex = this.log.append(entries);
    assert(newLastIndex === lastIndex + entries.length, 'leader append must extend the log');
    // The leader counts its own log at once. Nothing derived from these entries leaves the node
    // (messages, applied commands) before the driver persists the Ready that carries them.
    const self = this.tracker.get(this.id);
    assert(self !== undefined, 'leader appends only while in the configuration');
    self.maybeUpdate(newLastIndex);
    this.maybeCommit();
    return true;
  }

  private increaseUncommittedSize(entries: readonly Entry[]): boolean {
    const limitBytes = this.config.maxUncommittedEntriesSizeBytes;
    const sizeBytes = payloadSizeBytes(entries);
    // Always admit something when nothing is uncommitted, so one large entry cannot wedge us.
    if (limitBytes > 0 && this.uncommittedSizeBytes > 0 && sizeBytes > 0 &&
      this.uncommittedSizeBytes + sizeBytes > limitBytes) {
      return false;
    }
    this.uncommittedSizeBytes += sizeBytes;
    return true;
  }

  /** Committed entries left the uncommitted tail; called as they are handed to the application. */
  reduceUncommittedSize(entries: readonly Entry[]): void {
    if (this.state !== 'Leader') return;
    this.uncommittedSizeBytes = Math.max(0, this.uncommittedSizeBytes - payloadSizeBytes(entries));
  }

  maybeCommit(): boolean {
    return this.log.maybeCommit(this.tracker.committed(), this.term);
  }

  private committedEntryInCurrentTerm(): boolean {
    return this.log.termOrZero(this.log.committed) === this.term;
  }

  private handleAppendResponse(message: AppendResponseMessage, progress: Progress): void {
    progress.recentActive = true;
    if (message.requestSnapshot) {
      progress.pendingRequestSnapshot = message.index;
      if (progress.state !== 'probe') progress.becomeProbe();
      progress.probeSent = false;
      this.sendAppend(message.from);
      return;
    }
    if (message.reject) {
      this.handleAppendRejection(message, progress);
      return;
    }
    // Besides a higher match, an ack of what we already knew can unblock a probing follower, or
    // end snapshot state when the snapshot was requested at the follower's own match.
    const recoversFromProbe = progress.match === message.index && progress.state === 'probe';
    const snapshotDone = progress.state === 'snapshot' && message.index >= progress.pendingSnapshot;
    if (!progress.maybeUpdate(message.index) && !recoversFromProbe && !snapshotDone) return;
    if (progress.state === 'probe') {
      progress.becomeReplicate();
    } else if (progress.state === 'snapshot' && progress.match + 1 >= this.log.firstIndex()) {
      // The follower caught up past our log's start: replicate from its match on.
      progress.becomeProbe();
      progress.becomeReplicate();
    } else if (progress.state === 'replicate') {
      progress.inflights.freeLE(message.index);
    }
    if (this.maybeCommit()) {
      this.releasePendingReadIndexMessages();
      this.broadcastAppend();
    } else if (progress.canBumpCommit(this.log.committed)) {
      // The follower was paused when the commit index moved; tell it now rather than at the
      // next heartbeat, so that it can apply sooner.
      this.sendAppend(message.from);
    }
    // Flow control may have opened up: send what the window allows, without empty probes.
    for (let sent = 0; sent <= this.config.maxInflightMsgs && this.maybeSendAppend(message.from, false); sent++);
    if (message.from === this.leadTransferee && progress.match === this.log.lastIndex()) {
      this.sendTimeoutNow(message.from);
    }
  }

  private handleAppendRejection(message: AppendResponseMessage, progress: Progress): void {
    let nextProbeIndex = message.hintIndex;
    if (message.hintTerm > 0) {
      // Skip our own entries with terms above the follower's hint term: none of them can match.
      nextProbeIndex = this.log.findConflictByTerm(message.hintIndex, message.hintTerm).index;
    }
    if (progress.maybeDecrTo(message.index, nextProbeIndex)) {
      if (progress.state === 'replicate') progress.becomeProbe();
      this.sendAppend(message.from);
    }
  }

  private handleHeartbeatResponse(message: HeartbeatResponseMessage, progress: Progress): void {
    progress.recentActive = true;
    progress.probeSent = false;
    // The follower is alive but our window is full: let one more append through, in case the
    // acks for the window were lost.
    if (progress.state === 'replicate' && progress.inflights.full()) progress.inflights.freeFirstOne();
    if (progress.match < this.log.lastIndex()) this.sendAppend(message.from);
    if (this.readOnly.option !== 'safe' || message.context.length === 0) return;
    const acks = this.readOnly.recvAck(message.from, message.context);
    if (acks === undefined) return;
    const votes = new Map<RaftId, boolean>();
    for (const id of acks) votes.set(id, true);
    if (jointVoteResult(this.tracker.config.voters, votes) !== 'won') return;
    for (const status of this.readOnly.advance(message.context)) {
      this.respondToReadIndex(status.request, status.index);
    }
  }

  private handleSnapshotStatus(message: SnapshotStatusMessage, progress: Progress): void {
    if (progress.state !== 'snapshot') return;
    if (message.reject) progress.pendingSnapshot = ZERO_INDEX;
    progress.becomeProbe();
    // Wait for an ack or heartbeat response before probing again: a failed transfer should not
    // turn into a tight retry loop, and a finished one is confirmed by the follower's ack.
    progress.probeSent = true;
  }

  private leaderTransfer(message: TransferLeaderMessage): void {
    const transferee = message.transferee;
    const progress = this.tracker.get(transferee);
    if (progress === undefined || progress.isLearner) return;
    if (this.leadTransferee !== NO_RAFT_ID) {
      // A repeat request must not extend the running transfer's timeout.
      if (this.leadTransferee === transferee) return;
      this.abortLeaderTransfer();
    }
    if (transferee === this.id) return;
    // The transfer has one election timeout to finish (tickHeartbeat aborts it after that).
    this.electionElapsedTicks = 0;
    this.leadTransferee = transferee;
    if (progress.match === this.log.lastIndex()) this.sendTimeoutNow(transferee);
    else this.sendAppend(transferee);
  }

  private sendTimeoutNow(to: RaftId): void {
    this.send({ type: 'timeoutNow', from: this.id, to, term: this.term });
  }

  abortLeaderTransfer(): void {
    this.leadTransferee = NO_RAFT_ID;
  }

  // ---------------------------------------------------------------------------------------------
  // ReadIndex (thesis §6.4)
  // ---------------------------------------------------------------------------------------------

  private leaderReadIndex(message: ReadIndexMessage): void {
    if (this.tracker.isSingleton()) {
      this.respondToReadIndex(message, this.log.committed);
      return;
    }
    // A new leader's commit index may lag the true one until it commits in its own term.
    if (!this.committedEntryInCurrentTerm()) {
      this.pendingReadIndexMessages.push(message);
      return;
    }
    this.serveReadIndex(message);
  }

  private serveReadIndex(message: ReadIndexMessage): void {
    switch (this.readOnly.option) {
      case 'safe':
        this.readOnly.addRequest(this.log.committed, message);
        this.readOnly.recvAck(this.id, message.context);
        this.broadcastHeartbeat(message.context);
        return;
      case 'leaseBased':
        this.respondToReadIndex(message, this.log.committed);
        return;
      default:
        unreachable(this.readOnly.option);
    }
  }

  private releasePendingReadIndexMessages(): void {
    if (this.pendingReadIndexMessages.length === 0) return;
    assert(this.committedEntryInCurrentTerm(), 'reads are released only after an own-term commit');
    const pending = this.pendingReadIndexMessages;
    this.pendingReadIndexMessages = [];
    for (const message of pending) this.serveReadIndex(message);
  }

  private respondToReadIndex(request: ReadIndexMessage, index: LogIndex): void {
    if (request.from === NO_RAFT_ID || request.from === this.id) {
      this.readStates.push({ index, context: request.context });
      return;
    }
    this.send({
      type: 'readIndexResponse', from: this.id, to: request.from, term: this.term, index, context: request.context,
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Replication (§5.3)
  // ---------------------------------------------------------------------------------------------

  broadcastAppend(): void {
    this.tracker.visit((id) => {
      if (id !== this.id) this.sendAppend(id);
    });
  }

  private broadcastHeartbeat(context: Uint8Array): void {
    this.tracker.visit((id, progress) => {
      if (id === this.id) return;
      // Never tell a follower to commit past what it is known to have.
      const commit = asLogIndex(Math.min(progress.match, this.log.committed));
      progress.sentCommitUpTo(commit);
      this.send({ type: 'heartbeat', from: this.id, to: id, term: this.term, commit, context });
    });
  }

  /** Sends an append (possibly empty, to carry the commit index) or a snapshot if needed. */
  sendAppend(to: RaftId): void {
    this.maybeSendAppend(to, true);
  }

  private maybeSendAppend(to: RaftId, sendIfEmpty: boolean): boolean {
    const progress = this.tracker.get(to);
    assert(progress !== undefined, () => `no progress for ${to}`);
    if (progress.isPaused()) return false;
    if (progress.pendingRequestSnapshot !== undefined) return this.maybeSendSnapshot(to, progress);
    const prevIndex = asLogIndex(progress.next - 1);
    const prevTerm = this.log.term(prevIndex);
    const entries = this.log.entriesFrom(progress.next, this.config.maxSizePerMsgBytes);
    if (!prevTerm.ok || !entries.ok) return this.maybeSendSnapshot(to, progress);
    if (entries.value.length === 0 && !sendIfEmpty) return false;
    const lastIndex = asLogIndex(prevIndex + entries.value.length);
    this.send({
      type: 'append', from: this.id, to, term: this.term,
      prevIndex, prevTerm: prevTerm.value, entries: entries.value, commit: this.log.committed,
    });
    progress.sentEntries(entries.value.length, lastIndex, this.log.committed);
    return true;
  }

  /** The follower needs entries we compacted (or asked for a snapshot): send our snapshot. */
  private maybeSendSnapshot(to: RaftId, progress: Progress): boolean {
    // A follower we have not heard from lately is likely down; a snapshot would be wasted.
    if (!progress.recentActive) return false;
    const snapshot = this.log.snapshot(progress.pendingRequestSnapshot);
    if (!snapshot.ok) {
      assert(snapshot.error === 'snapshot_temporarily_unavailable', () => `snapshot: ${snapshot.error}`);
      this.snapshotWanted = true;
      return false;
    }
    assert(!isEmptySnapshot(snapshot.value), 'a compacted log must have a snapshot');
    const { voters, learners, votersOutgoing } = snapshot.value.confState;
    if (![...voters, ...learners, ...votersOutgoing].includes(to)) {
      // Taken before `to` joined: the follower would refuse it (see restore), and the entries
      // that added it are compacted. Only a newer snapshot (taken at our applied index, which
      // includes the change that created this progress) can bring it in.
      this.snapshotWanted = true;
      return false;
    }
    progress.becomeSnapshot(snapshot.value.index);
    probe('raft.snapshot_sent');
    this.send({ type: 'snapshot', from: this.id, to, term: this.term, snapshot: snapshot.value });
    return true;
  }

  // ---------------------------------------------------------------------------------------------
  // Membership
  // ---------------------------------------------------------------------------------------------

  private changerContext(config = this.tracker.config, progress = this.tracker.progress): ChangerContext {
    return { config, progress, lastIndex: this.log.lastIndex(), maxInflightMsgs: this.config.maxInflightMsgs };
  }

  private installConfig(result: ConfChangeResult & { ok: true }): void {
    this.tracker.install(result.config, result.progress);
    const self = this.tracker.get(this.id);
    this.isLearner = self !== undefined && self.isLearner;
  }

  /** Applies a committed conf change (call it when the entry is applied). */
  applyConfChange(change: ConfChangeV2): ApplyConfChangeResult {
    const result = applyConfChangeV2(this.changerContext(), change);
    if (!result.ok) {
      // Every node applies the same entries, so every node skips this change alike.
      const error: RaftError = { kind: 'conf_change_invalid', reason: result.error };
      return { ok: false, error, confState: this.tracker.confState() };
    }
    this.installConfig(result);
    const confState = this.tracker.confState();
    const self = this.tracker.get(this.id);
    if ((self === undefined || self.isLearner) && this.state === 'Leader') {
      // We were removed or demoted: step down so the remaining voters elect a leader.
      if (this.config.stepDownOnRemoval) this.becomeFollower(this.term, NO_RAFT_ID);
      return { ok: true, confState };
    }
    if (this.state !== 'Leader') return { ok: true, confState };
    // The quorum changed, so the commit index may move; new members need appends.
    if (this.maybeCommit()) {
      this.broadcastAppend();
    } else {
      this.tracker.visit((id) => {
        if (id !== this.id) this.maybeSendAppend(id, false);
      });
    }
    if (this.leadTransferee !== NO_RAFT_ID && !this.tracker.isVoter(this.leadTransferee)) this.abortLeaderTransfer();
    return { ok: true, confState };
  }

  /** The application applied everything up to `index`. */
  appliedTo(index: LogIndex): void {
    this.log.appliedTo(index);
    // Auto-leave a joint config once the change that entered it is applied (thesis §4.3).
    if (this.state === 'Leader' && this.tracker.config.autoLeave && index >= this.pendingConfIndex) {
      const data = encodeConfChange(LEAVE_JOINT);
      const entry: Entry = { index: ZERO_INDEX, term: ZERO_TERM, kind: 'confChange', data };
      // May be dropped (e.g. during a transfer); the next applied entry retries.
      this.step({ type: 'propose', from: this.id, to: NO_RAFT_ID, term: ZERO_TERM, entries: [entry] });
    }
  }
}

function assertHandledElsewhere(what: string): never {
  return assert(false, `unexpected message: ${what}`) as never;
}
