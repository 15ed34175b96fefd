import { casProc } from './cas.ts';
import { discoverProc } from './discover.ts';
import { expelOnLeaderProc, expelRedirectProc } from './expel.ts';
import { peerAddressProc } from './peer-address.ts';
import type { Proc } from './proc.ts';
import { proposeProc } from './propose.ts';
import { raftInteractProc } from './raft-interact.ts';
import { raftJoinProc } from './raft-join.ts';
import { replicationDemoteProc, replicationProgressProc, replicationPromoteProc, replicationProc, replicationSyncProc } from './replication.ts';
import { shardingBootstrapProc, shardingProc } from './sharding.ts';
import { syncRaftProc } from './sync-raft.ts';
import { copyBeginProc, copyPageProc, fetchProc } from '../replication/relay.ts';
import { updateInstanceProc } from './update-instance.ts';

/** Every `.proc_*` an instance serves, by CALL name. */
export const PROCS: ReadonlyMap<string, Proc> = new Map(
  [
    discoverProc,
    raftInteractProc,
    peerAddressProc,
    raftJoinProc,
    updateInstanceProc,
    expelOnLeaderProc,
    expelRedirectProc,
    syncRaftProc,
    replicationProc,
    replicationPromoteProc,
    replicationDemoteProc,
    replicationSyncProc,
    replicationProgressProc,
    fetchProc,
    copyBeginProc,
    copyPageProc,
    shardingProc,
    shardingBootstrapProc,
    casProc,
    proposeProc,
  ].map((p) => [p.name, p]),
);
