/**
 * Bootstrapping a new cluster (the one instance discovery chose): the initial Raft log, written
 * at term 1 as already committed, with this instance as the only voter (REFERENCE 1.3):
 *   1. peer address, 2. PersistInstance (Offline(0)), 3. replication_factor,
 *   4. desired_schema_version = 0, 5. AddNode(self).
 * The sole voter then campaigns and leads at term 2.
 */

import { becomeWritable } from '../replication/writable.ts';
import { encodeOp, type Op } from '../cluster/ops.ts';
import type { Identity } from '../cluster/raft-store.ts';
import type { Instance } from '../cluster/records.ts';
import { PROPERTY, TABLE_DEFS } from '../cluster/tables.ts';
import { grade } from '../cluster/grade.ts';
import { instanceUuid, replicasetUuid } from '../cluster/uuid.ts';
import { encodeConfChange } from '../raft/confchange.ts';
import { asLogIndex, asRaftId, asTerm, EMPTY_CONF_STATE, NO_RAFT_ID, type Entry } from '../raft/types.ts';
import type { Node } from './node.ts';

export const BOOT_RAFT_ID = 1;

export async function boot(node: Node): Promise<Identity> {
  node.state = 'booting';
  const options = node.options;
  const instanceId = options.instanceId ?? `i${BOOT_RAFT_ID}`;
  const replicasetId = options.replicasetId ?? 'r1';
  const instance: Instance = {
    instanceId,
    instanceUuid: instanceUuid(instanceId),
    raftId: BOOT_RAFT_ID,
    replicasetId,
    replicasetUuid: replicasetUuid(replicasetId),
    currentGrade: grade('Offline', 0),
    targetGrade: grade('Offline', 0),
    failureDomain: options.failureDomain,
  };
  const ops: Op[] = [
    { kind: 'dml', dml: { op: 'insert', space: TABLE_DEFS.peerAddress.name, tuple: [BOOT_RAFT_ID, options.advertise] } },
    { kind: 'persist_instance', instance },
    { kind: 'dml', dml: { op: 'insert', space: TABLE_DEFS.property.name, tuple: [PROPERTY.replicationFactor, options.initReplicationFactor] } },
    { kind: 'dml', dml: { op: 'insert', space: TABLE_DEFS.property.name, tuple: [PROPERTY.desiredSchemaVersion, 0] } },
  ];
  const term = asTerm(1);
  const entries: Entry[] = ops.map((op, i) => ({ index: asLogIndex(i + 1), term, kind: 'normal', data: encodeOp(op) }));
  entries.push({
    index: asLogIndex(entries.length + 1),
    term,
    kind: 'confChange',
    data: encodeConfChange({ transition: 'auto', changes: [{ type: 'addNode', nodeId: asRaftId(BOOT_RAFT_ID) }], context: new Uint8Array(0) }),
  });
  const bootstrapOps = node.raftStore.bootstrap(EMPTY_CONF_STATE);
  await node.raftStore.persist(undefined, entries, { term, vote: NO_RAFT_ID, commit: asLogIndex(entries.length) }, true, bootstrapOps);
  const identity: Identity = { raftId: BOOT_RAFT_ID, instanceId, clusterId: options.clusterId, replicasetId };
  await node.raftStore.saveIdentity(identity);
  // Picodata's read_only = (#box_replication > 1): the bootstrap instance is alone in its
  // replicaset, so it is writable from the start (its postjoin script may create spaces).
  await becomeWritable(node, options.initReplicationFactor);
  node.log.info('cluster bootstrapped', { instance_id: instanceId, cluster_id: options.clusterId, replication_factor: options.initReplicationFactor });
  return identity;
}

/** Entries the boot wrote; the sole voter campaigns once it applied them. */
export const BOOT_ENTRIES = 5;
