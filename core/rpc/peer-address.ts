/**
 * `.proc_peer_address(raft_id, address)`: instance `raft_id` listens at `address` now. An
 * instance that finds another address recorded for itself and has no leader to record the new
 * one tells its peers with this (core/node/sentinel.ts); they reach it there until an entry
 * writing its address is applied, as they do for the sender of a Raft message.
 *
 * Why Raft messages are not enough: a voter that restarted on a new port may not campaign (its
 * own log can still show it as a learner, the entry promoting it lost with the crash), and the
 * peer that campaigns sends to the old address: neither ever hears the other and no leader is
 * elected (raft-safety seed 60015, with restarts that move).
 * Errors: `uninitialized yet` (no Raft node here), `raft_id ...`, `invalid peer address ...`.
 * Like every `.proc_*`, it trusts its caller (see core/rpc/raft-interact.ts).
 */

import { addressError } from '../cluster/address.ts';
import type { Node } from '../node/node.ts';
import { ProcError, str, uint } from './proc-error.ts';
import type { Proc } from './proc.ts';

export const PROC_PEER_ADDRESS = '.proc_peer_address';

export const peerAddressProc: Proc = {
  name: PROC_PEER_ADDRESS,
  handle(node: Node, args) {
    const raft = node.requireRaft();
    const raftId = uint(args[0] ?? null, 'raft_id');
    if (raftId === 0) throw new ProcError('raft_id must not be 0');
    const address = str(args[1] ?? null, 'address');
    const error = addressError(address, 'peer');
    if (error !== undefined) throw new ProcError(error);
    if (raftId !== raft.id) node.peerSaysItIsAt(raftId, address);
    return [];
  },
};
