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

/** vshard.error.code (REFERENCE 5.5). */
export const ShardingCode = {
  WRONG_BUCKET: 1,
  NON_MASTER: 2,
  MISSING_MASTER: 6,
  TRANSFER_IS_IN_PROGRESS: 7,
  UNREACHABLE_REPLICASET: 8,
  NO_ROUTE_TO_BUCKET: 9,
  BUCKET_IS_LOCKED: 22,
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
