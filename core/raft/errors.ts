/**
 * Typed errors for operating conditions and API misuse that is not a bug in this core. Callers
 * branch on `kind` (and `reason`), never on text. Broken invariants are assertion failures instead.
 */
import type { LogIndex, RaftId } from './types.ts';

/** Why a proposal (or forwarded ReadIndex / transfer) was not accepted. */
export type ProposalDroppedReason =
  /** Nobody is known to lead this term, so there is nowhere to forward. */
  | 'no_leader'
  /** The leader is handing leadership over; new entries would delay the transferee. */
  | 'leader_transfer_in_progress'
  /** Accepting it would exceed `maxUncommittedEntriesSizeBytes`. */
  | 'uncommitted_size_limit'
  /** This leader is no longer part of the configuration. */
  | 'removed_from_config'
  /** A candidate cannot accept or forward proposals. */
  | 'campaigning'
  /** `disableProposalForwarding` is on and this node is not the leader. */
  | 'forwarding_disabled';

export type RaftError =
  | { readonly kind: 'proposal_dropped'; readonly reason: ProposalDroppedReason }
  /** A local-only message type arrived from the network through `RawNode.step`. */
  | { readonly kind: 'step_local_message'; readonly type: string }
  /** A response came from a node this one does not track (e.g. removed meanwhile). */
  | { readonly kind: 'step_peer_not_found'; readonly from: RaftId }
  /** The requested snapshot operation targets an index older than what storage has. */
  | { readonly kind: 'snapshot_out_of_date'; readonly index: LogIndex }
  /** A committed conf change that cannot apply (e.g. it removes every voter); it is skipped. */
  | { readonly kind: 'conf_change_invalid'; readonly reason: string }
  /** `requestSnapshot` preconditions failed (not a follower, no leader, already pending). */
  | { readonly kind: 'request_snapshot_dropped'; readonly reason: string };

export function proposalDropped(reason: ProposalDroppedReason): RaftError {
  return { kind: 'proposal_dropped', reason };
}

/**
 * Why log storage could not answer. `compacted`: the index was folded into a snapshot.
 * `unavailable`: the index is past the end of the log. `snapshot_temporarily_unavailable`: the
 * application is still building a snapshot; the leader will retry later.
 */
export type StorageError = 'compacted' | 'unavailable' | 'snapshot_temporarily_unavailable';

export type StorageResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: StorageError };

export function storageOk<T>(value: T): StorageResult<T> {
  return { ok: true, value };
}

export function storageError<T>(error: StorageError): StorageResult<T> {
  return { ok: false, error };
}
