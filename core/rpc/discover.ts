/**
 * `.proc_discover({tmp_id, peers}, request_to)`: discovery between uninitialized instances.
 * An initialized instance answers `Done(NonLeader{leader})` with the Raft leader's address.
 * Errors: `leader is unknown yet` (initialized, but no leader known right now).
 */

import type { MpValue } from '../codec/msgpack.ts';
import type { DiscoveryState } from '../cluster/discovery.ts';
import type { Node } from '../node/node.ts';
import { field, ProcError, str } from './proc-error.ts';
import type { Proc } from './proc.ts';

export const PROC_DISCOVER = '.proc_discover';

export function discoveryStateToValue(state: DiscoveryState): MpValue {
  if (state.kind === 'election') return { LeaderElection: { tmp_id: state.tmpId, peers: [...state.peers] } };
  if (state.role.kind === 'leader') return { Done: { Leader: { address: state.role.address } } };
  return { Done: { NonLeader: { leader: state.role.leader } } };
}

export function discoveryStateFromValue(value: MpValue): DiscoveryState {
  const election = field(value, 'LeaderElection', 'discovery state');
  if (election !== undefined) {
    const peers = field(election, 'peers', 'peers');
    if (!Array.isArray(peers)) throw new ProcError('peers must be an array');
    return { kind: 'election', tmpId: str(field(election, 'tmp_id', 'tmp_id'), 'tmp_id'), peers: peers.map((p) => str(p as MpValue, 'peer')) };
  }
  const done = field(value, 'Done', 'discovery state');
  const leader = field(done, 'Leader', 'role');
  if (leader !== undefined) return { kind: 'done', role: { kind: 'leader', address: str(field(leader, 'address', 'address'), 'address') } };
  const nonLeader = field(done, 'NonLeader', 'role');
  return { kind: 'done', role: { kind: 'non_leader', leader: str(field(nonLeader, 'leader', 'leader'), 'leader') } };
}

export const discoverProc: Proc = {
  name: PROC_DISCOVER,
  handle(node: Node, args) {
    const [request, requestTo] = args;
    const to = str(requestTo ?? null, 'request_to');
    if (node.raft !== null) {
      const leader = node.leaderAddress();
      if (leader === undefined) throw new ProcError('leader is unknown yet');
      return [{ Done: { NonLeader: { leader } } }];
    }
    const discovery = node.discovery;
    if (discovery === null) throw new ProcError('uninitialized yet');
    const peers = field(request ?? null, 'peers', 'request');
    if (!Array.isArray(peers)) throw new ProcError('peers must be an array');
    const state = discovery.handleRequest({ tmpId: str(field(request ?? null, 'tmp_id', 'request'), 'tmp_id'), peers: peers.map((p) => str(p as MpValue, 'peer')) }, to);
    return [discoveryStateToValue(state)];
  },
};
