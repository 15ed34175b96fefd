import type { MpValue } from '../codec/msgpack.ts';
import type { Node } from '../node/node.ts';
import { clusterIdMismatch } from '../cluster/topology.ts';
import { ProcError } from './proc-error.ts';

/** One RPC procedure: its iproto CALL name and its handler (Lua-style list of return values). */
export interface Proc {
  readonly name: string;
  handle(node: Node, args: readonly MpValue[]): MpValue[] | Promise<MpValue[]>;
}

/** `{"ErrNotALeader": {"raft_id", "address"}}` (or null when the leader is unknown): the joiner retries there. */
export function notALeaderReply(node: Node): MpValue[] {
  const leaderId = node.raft?.leaderId ?? 0;
  const address = leaderId === 0 ? undefined : node.peerAddress(leaderId);
  return [{ ErrNotALeader: address === undefined ? null : { raft_id: leaderId, address } }];
}

/** Every cluster-changing RPC first checks that the caller belongs to this cluster. */
export function checkClusterId(node: Node, clusterId: string): void {
  if (clusterId !== node.clusterId()) throw new ProcError(clusterIdMismatch(clusterId, node.clusterId()));
}
