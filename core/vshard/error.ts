/**
 * vshard's error objects. vshard does not raise on a routing failure: its calls return
 * `nil, err`, where `err` is a table a caller inspects by `type` and `code` (REFERENCE 5.5). Here
 * that table is a msgpack map, so a net.box or tarantool-driver caller gets what a Lua caller of
 * vshard gets: `{type = 'ShardingError', code, name, message, <code's own fields>}`, or for a
 * failure of the called function itself `{type = 'ClientError', code, message}` as vshard's
 * `lerror.make` builds from a box error.
 */

import { isMpMap, mapGet, type MpValue } from '../codec/msgpack.ts';
import { toIprotoError } from '../iproto/errors.ts';
import type { Node } from '../node/node.ts';

/** vshard.error.code (REFERENCE 5.5). */
export const ShardingCode = {
  WRONG_BUCKET: 1,
  NON_MASTER: 2,
  BUCKET_ALREADY_EXISTS: 3,
  NO_SUCH_REPLICASET: 4,
  MOVE_TO_SELF: 5,
  MISSING_MASTER: 6,
  TRANSFER_IS_IN_PROGRESS: 7,
  UNREACHABLE_REPLICASET: 8,
  NO_ROUTE_TO_BUCKET: 9,
  BUCKET_IS_LOCKED: 22,
  BUCKET_IS_PINNED: 24,
} as const;

export type ShardingCodeName = keyof typeof ShardingCode;

/** A ShardingError as the map a caller receives. */
export interface ShardingError {
  readonly type: 'ShardingError';
  readonly code: number;
  readonly name: ShardingCodeName;
  readonly message: string;
  readonly [field: string]: MpValue;
}

function shardingError(name: ShardingCodeName, message: string, fields: Record<string, MpValue>): ShardingError {
  return { type: 'ShardingError', code: ShardingCode[name], name, message, ...fields };
}

export function wrongBucket(bucketId: number, reason: string, destination: string | null): ShardingError {
  return shardingError('WRONG_BUCKET', `Cannot perform action with bucket ${bucketId}, reason: ${reason}`, { bucket_id: bucketId, reason, destination });
}

export function nonMaster(replicaUuid: string, replicasetUuid: string, masterUuid: string | null): ShardingError {
  return shardingError('NON_MASTER', `Replica ${replicaUuid} is not a master for replicaset ${replicasetUuid} anymore`, {
    replica_uuid: replicaUuid,
    replicaset_uuid: replicasetUuid,
    master_uuid: masterUuid,
  });
}

export function bucketAlreadyExists(bucketId: number): ShardingError {
  return shardingError('BUCKET_ALREADY_EXISTS', `Bucket ${bucketId} already exists`, { bucket_id: bucketId });
}

export function noSuchReplicaset(replicasetUuid: string): ShardingError {
  return shardingError('NO_SUCH_REPLICASET', `Replicaset ${replicasetUuid} not found`, { replicaset_uuid: replicasetUuid });
}

export function moveToSelf(bucketId: number, replicasetUuid: string): ShardingError {
  return shardingError('MOVE_TO_SELF', `Cannot move: bucket ${bucketId} is already on replicaset ${replicasetUuid}`, { bucket_id: bucketId, replicaset_uuid: replicasetUuid });
}

export function bucketIsPinned(bucketId: number): ShardingError {
  return shardingError('BUCKET_IS_PINNED', `Bucket ${bucketId} is pinned`, { bucket_id: bucketId });
}

/** NON_MASTER for this instance, naming the master its replicaset has now as far as it knows. */
export function nonMasterError(node: Node): ShardingError {
  const self = node.self();
  const replicaset = self === undefined ? undefined : node.tables.replicaset(self.replicasetId);
  const master = replicaset === undefined ? undefined : node.tables.instance(replicaset.masterId);
  return nonMaster(self?.instanceUuid ?? 'unknown', self?.replicasetUuid ?? 'unknown', master?.instanceUuid ?? null);
}

export function missingMaster(replicasetUuid: string): ShardingError {
  return shardingError('MISSING_MASTER', `Master is not configured for replicaset ${replicasetUuid}`, { replicaset_uuid: replicasetUuid });
}

export function transferInProgress(bucketId: number, destination: string | null): ShardingError {
  return shardingError('TRANSFER_IS_IN_PROGRESS', `Bucket ${bucketId} is transferring to replicaset ${destination ?? 'unknown'}`, { bucket_id: bucketId, destination });
}

export function unreachableReplicaset(replicasetUuid: string, bucketId: number, cause: string): ShardingError {
  return shardingError('UNREACHABLE_REPLICASET', `There is no active replicas in replicaset ${replicasetUuid}: ${cause}`, {
    unreachable_uuid: replicasetUuid,
    bucket_id: bucketId,
  });
}

export function noRouteToBucket(bucketId: number): ShardingError {
  return shardingError('NO_ROUTE_TO_BUCKET', `Bucket ${bucketId} cannot be found. Is rebalancing in progress?`, { bucket_id: bucketId });
}

/** A failure of the called function, as vshard's `lerror.make(box_error)` shapes it. */
export function callError(thrown: unknown): MpValue {
  const error = toIprotoError(thrown);
  return { type: error.errorType, code: error.code, message: error.message };
}

/** Whether `value` is a ShardingError map with the code `name` (decoded from the wire or built here). */
export function isShardingError(value: MpValue, name: ShardingCodeName): boolean {
  return isMpMap(value) && mapGet(value, 'type') === 'ShardingError' && mapGet(value, 'code') === ShardingCode[name];
}
