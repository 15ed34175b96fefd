/**
 * `box.info` and `box.cfg` as a client reads them (Tarantool 1.10 docs, "Вложенный модуль
 * box.info"): monitoring tools and test harnesses ask `return box.info`, `box.info.ro`,
 * `box.cfg.replication`. Served as functions without arguments, like `pico.VERSION`; EVAL and the
 * console reach fields through them (`box.info.cluster.uuid`).
 *
 * Replica ids: Tarantool numbers a replicaset's members in `_cluster` as they join. Our boxes
 * do not replicate `_cluster` yet, so `id` and `replication` come from the clusterwide instance
 * table instead: the replicaset's members (expelled ones keep their number, as in `_cluster`)
 * numbered 1, 2, ... by raft_id, which is join order.
 *
 * Left out, and why: `pid` (the core sees no process), `gc()`, `memory()`, `vinyl`; and
 * `replication[n].upstream`/`downstream` and other members' `lsn`, since replicas do not stream
 * the WAL yet (nothing would fill them honestly).
 */

import type { MpObject, MpValue } from '../codec/msgpack.ts';
import { ANNOUNCED_VERSION } from '../iproto/constants.ts';
import type { Instance } from '../cluster/records.ts';
import type { Node } from '../node/node.ts';
import { VERSION, type PicoFunction } from './pico.ts';

/** Tarantool's `box.info.status`: `loading` until the instance has joined and opened Raft. */
type BoxStatus = 'loading' | 'running';

function status(node: Node): BoxStatus {
  return node.raft === null || node.identity === null ? 'loading' : 'running';
}

/** The replicaset's members as `_cluster` would number them (see above). */
function replicasetMembers(node: Node, self: Instance): Array<{ id: number; uuid: string }> {
  return node.tables
    .instances()
    .filter((i) => i.replicasetId === self.replicasetId)
    .sort((a, b) => a.raftId - b.raftId)
    .map((i, index) => ({ id: index + 1, uuid: i.instanceUuid }));
}

function info(node: Node): MpObject {
  const self = node.self();
  const uuid = self?.instanceUuid ?? null;
  const lsn = node.box.committedLsn;
  const members = self === undefined ? [] : replicasetMembers(node, self);
  const id = members.find((m) => m.uuid === uuid)?.id ?? null;
  // Maps keyed by replica id, as Tarantool serializes vclock and replication (integer keys).
  const replication = new Map<number, MpValue>();
  for (const m of members) replication.set(m.id, m.id === id ? { id: m.id, uuid: m.uuid, lsn } : { id: m.id, uuid: m.uuid });
  return {
    version: `${ANNOUNCED_VERSION}-picodata-${VERSION}`,
    id,
    ro: node.box.readOnly,
    uuid,
    cluster: { uuid: self?.replicasetUuid ?? null },
    lsn,
    vclock: new Map<number, MpValue>(id === null ? [] : [[id, lsn]]),
    signature: lsn,
    status: status(node),
    uptime: Math.floor((node.env.clock.nowMs() - node.openedAtMs) / 1000),
    replication,
  };
}

function cfg(node: Node): MpObject {
  const self = node.self();
  return {
    listen: node.options.listen,
    read_only: node.box.readOnly,
    replication: [...(node.replication?.peers ?? [])],
    instance_uuid: self?.instanceUuid ?? null,
    replicaset_uuid: self?.replicasetUuid ?? null,
    wal_mode: node.box.walMode,
    force_recovery: node.options.forceRecovery === true,
  };
}

export const BOX: ReadonlyMap<string, PicoFunction> = new Map<string, PicoFunction>([
  ['box.info', (node) => [info(node)]],
  ['box.cfg', (node) => [cfg(node)]],
]);
