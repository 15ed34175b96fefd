/**
 * Sharding configuration, driven by the governor and fenced like replication.
 * - `.proc_sharding(term, index, timeout_ms, config)`: records the vshard configuration
 *   (replicasets with weights, masters and replicas; 3000 buckets).
 * - `.proc_sharding_bootstrap(term, index, timeout_ms)`: on the master of the first weighted
 *   replicaset, creates `_bucket` and places every bucket there, active (vshard's bootstrap with a
 *   single weighted replicaset). Moving buckets between replicasets is the rebalancer's job, a
 *   later capability.
 * Errors: `raft term mismatch: ...`, `timeout`, `bad sharding config`, box errors (read-only).
 */

import type { Box } from '../box/box.ts';
import type { MpValue } from '../codec/msgpack.ts';
import type { Node, ShardingConfig } from '../node/node.ts';
import { BUCKET_COUNT } from '../node/node.ts';
import { field, ProcError, str, uint } from './proc-error.ts';
import type { Proc } from './proc.ts';

export const PROC_SHARDING = '.proc_sharding';
export const PROC_SHARDING_BOOTSTRAP = '.proc_sharding_bootstrap';
export const BUCKET_SPACE = '_bucket';

export function shardingConfigToValue(config: ShardingConfig): MpValue {
  return {
    bucket_count: config.bucketCount,
    sharding: config.replicasets.map((r) => ({ replicaset_id: r.replicasetId, uuid: r.uuid, weight: r.weight, master: r.master, replicas: [...r.replicas] })),
  };
}

function shardingConfigFromValue(value: MpValue): ShardingConfig {
  const list = field(value, 'sharding', 'config');
  if (!Array.isArray(list)) throw new ProcError('bad sharding config');
  return {
    bucketCount: uint(field(value, 'bucket_count', 'config'), 'bucket_count'),
    replicasets: list.map((r) => {
      const replicas = field(r as MpValue, 'replicas', 'replicaset');
      if (!Array.isArray(replicas)) throw new ProcError('bad sharding config');
      const weight = field(r as MpValue, 'weight', 'replicaset');
      if (typeof weight !== 'number') throw new ProcError('bad sharding config');
      return {
        replicasetId: str(field(r as MpValue, 'replicaset_id', 'replicaset'), 'replicaset_id'),
        uuid: str(field(r as MpValue, 'uuid', 'replicaset'), 'uuid'),
        weight,
        master: str(field(r as MpValue, 'master', 'replicaset'), 'master'),
        replicas: replicas.map((x) => str(x as MpValue, 'replica')),
      };
    }),
  };
}

export const shardingProc: Proc = {
  name: PROC_SHARDING,
  async handle(node: Node, args) {
    await node.fence(uint(args[0] ?? null, 'term'), uint(args[1] ?? null, 'index'), uint(args[2] ?? null, 'timeout_ms'));
    node.sharding = shardingConfigFromValue(args[3] ?? null);
    node.log.verbose('sharding configured', { replicasets: node.sharding.replicasets.length });
    return [{}];
  },
};

export const shardingBootstrapProc: Proc = {
  name: PROC_SHARDING_BOOTSTRAP,
  async handle(node: Node, args) {
    await node.fence(uint(args[0] ?? null, 'term'), uint(args[1] ?? null, 'index'), uint(args[2] ?? null, 'timeout_ms'));
    const box = node.box;
    await ensureBucketSpace(box);
    const space = box.space(BUCKET_SPACE);
    if (space.len() === 0) {
      box.begin();
      for (let id = 1; id <= BUCKET_COUNT; id++) void space.replace([id, 'active', null]);
      await box.commit();
      node.log.info('buckets bootstrapped', { count: BUCKET_COUNT });
    }
    return [{ buckets: space.len() }];
  },
};

/**
 * Creates vshard's `_bucket {id, status, destination}` with its `pk` and `status` indexes, or
 * whatever part of it is missing: the space and each index are separate DDL statements, and a
 * crash between them leaves the space without its indexes.
 */
export async function ensureBucketSpace(box: Box): Promise<void> {
  if (!box.hasSpace(BUCKET_SPACE)) {
    // Synchronous: a bucket's status is where routing and transfers agree on who holds it, so a
    // master switch must not lose a change to it (a successor without the sender's `sent` would
    // hold the bucket active beside its receiver). With RF 1 the quorum is the master alone.
    await box.createSpace(BUCKET_SPACE, {
      isSync: true,
      format: [
        { name: 'id', type: 'unsigned' },
        { name: 'status', type: 'string' },
        { name: 'destination', type: 'string', is_nullable: true },
      ],
    });
  }
  const indexes = (): string[] => box.space(BUCKET_SPACE).indexes().map((i) => i.name);
  if (!indexes().includes('pk')) await box.createIndex(BUCKET_SPACE, 'pk', { parts: [['id', 'unsigned']] });
  if (!indexes().includes('status')) await box.createIndex(BUCKET_SPACE, 'status', { parts: [['status', 'string']], unique: false });
}
