/**
 * The leader's view of one follower's log (etcd's tracker.Progress).
 *
 *   probe     -- we don't know where the follower's log matches. Send one append at a time and
 *                wait for the answer (or a heartbeat response) before the next.
 *   replicate -- the follower is keeping up. Stream appends optimistically, bounded by `inflights`.
 *   snapshot  -- the follower needs a snapshot; stop appends until the driver reports the outcome.
 */
import { assert, unreachable } from '../lib/assert.ts';
import { Inflights } from './inflights.ts';
import { type LogIndex, ZERO_INDEX, asLogIndex } from './types.ts';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  /** Highest index known to be replicated on the follower. */
  match: LogIndex;
  /** Next index to send. Invariant: match < next. */
  next: LogIndex;
  state: ProgressState = 'probe';
  /** In `snapshot` state: the snapshot's index; the follower needs it before appends resume. */
  pendingSnapshot: LogIndex = ZERO_INDEX;
  /** Set by any message from the follower; the leader's check-quorum clears it every timeout. */
  recentActive = false;
  /** In `probe` state: an append is outstanding; a heartbeat response or ack clears it. */
  probeSent = false;
  /** The follower asked for a snapshot at or past this index (raft-rs request_snapshot). */
  pendingRequestSnapshot: LogIndex | undefined = undefined;
  readonly inflights: Inflights;
  isLearner: boolean;
  /** Highest commit index sent to the follower (in an append or heartbeat). */
  sentCommit: LogIndex = ZERO_INDEX;
  /** raft-rs group commit: the follower's commit group (0 = unknown). */
  commitGroupId = 0;

  constructor(next: LogIndex, inflightCapacity: number, isLearner: boolean, inflights?: Inflights) {
    this.match = ZERO_INDEX;
    this.next = next;
    this.inflights = inflights ?? new Inflights(inflightCapacity);
    this.isLearner = isLearner;
  }

  clone(): Progress {
    const copy = new Progress(this.next, this.inflights.capacity, this.isLearner, this.inflights.clone());
    copy.match = this.match;
    copy.state = this.state;
    copy.pendingSnapshot = this.pendingSnapshot;
    copy.recentActive = this.recentActive;
    copy.probeSent = this.probeSent;
    copy.pendingRequestSnapshot = this.pendingRequestSnapshot;
    copy.commitGroupId = this.commitGroupId;
    copy.sentCommit = this.sentCommit;
    return copy;
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = ZERO_INDEX;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    // After a snapshot, resume right after it (or after match, if the follower got further).
    if (this.state === 'snapshot') {
      const pending = this.pendingSnapshot;
      this.resetState('probe');
      this.next = asLogIndex(Math.max(this.match + 1, pending + 1));
    } else {
      this.resetState('probe');
      this.next = asLogIndex(this.match + 1);
    }
    this.checkInvariants();
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = asLogIndex(this.match + 1);
    this.checkInvariants();
  }

  becomeSnapshot(snapshotIndex: LogIndex): void {
    this.resetState('snapshot');
    this.pendingSnapshot = snapshotIndex;
    this.pendingRequestSnapshot = undefined;
  }

  /**
   * Records that an append covering up to `lastIndex` went out (`entryCount` entries). In
   * replicate state `next` moves optimistically; in probe state we wait for the answer.
   */
  sentEntries(entryCount: number, lastIndex: LogIndex, commit: LogIndex): void {
    this.sentCommitUpTo(commit);
    if (this.state === 'replicate') {
      if (entryCount > 0) {
        this.next = asLogIndex(lastIndex + 1);
        this.inflights.add(lastIndex);
      }
    } else if (this.state === 'probe') {
      this.probeSent = true;
    } else {
      assert(false, 'no appends are sent in snapshot state');
    }
    this.checkInvariants();
  }

  sentCommitUpTo(commit: LogIndex): void {
    if (commit > this.sentCommit) this.sentCommit = commit;
  }

  /**
   * Whether the follower may not know commit index `committed` yet and could use it: it has
   * entries past what we told it was committed (it applies only up to min(commit, its log)).
   */
  canBumpCommit(committed: LogIndex): boolean {
    return committed > this.sentCommit && this.sentCommit < this.next - 1;
  }

  /** A successful ack up to `index`. Returns whether it told us something new. */
  maybeUpdate(index: LogIndex): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    if (this.next < index + 1) this.next = asLogIndex(index + 1);
    this.checkInvariants();
    return updated;
  }

  /**
   * A rejection of the append after `rejected`. `matchHint` is where the follower's log may match.
   * Returns false when the rejection is stale (from an earlier, already-handled message).
   */
  maybeDecrTo(rejected: LogIndex, matchHint: LogIndex): boolean {
    if (this.state === 'replicate') {
      // In replicate state `next` races ahead, so only a rejection of `match` itself can be stale.
      if (rejected <= this.match) return false;
      this.next = asLogIndex(this.match + 1);
      return true;
    }
    // In probe state only the latest probe (at next-1) counts.
    if (this.next - 1 !== rejected) return false;
    this.next = asLogIndex(Math.max(Math.min(rejected, matchHint + 1), this.match + 1));
    this.probeSent = false;
    this.checkInvariants();
    return true;
  }

  /** Whether sending more appends to this follower should wait. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
      default:
        return unreachable(this.state);
    }
  }

  checkInvariants(): void {
    assert(this.match < this.next, () => `progress match ${this.match} must be < next ${this.next}`);
  }
}
