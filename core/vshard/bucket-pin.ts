/**
 * `vshard.storage.bucket_pin(bucket_id)` / `bucket_unpin(bucket_id)`: a pinned bucket stays on its
 * replicaset whatever the balance (the rebalancer counts it where it is and sends others; a send
 * of it is refused with BUCKET_IS_PINNED). Both answer `true` or `nil, err`; pinning a pinned
 * bucket and unpinning an active one are no-ops. Only a master changes its buckets.
 */

import type { MpValue } from '../codec/msgpack.ts';
import type { Node } from '../node/node.ts';
import { uint } from '../rpc/proc-error.ts';
import { writeBucketRow } from './bucket-transfer.ts';
import { nonMasterError, transferInProgress, wrongBucket } from './error.ts';
import { storedBucket } from './storage.ts';

export const BUCKET_PIN = 'vshard.storage.bucket_pin';
export const BUCKET_UNPIN = 'vshard.storage.bucket_unpin';

async function setPinned(node: Node, args: readonly MpValue[], pinned: boolean): Promise<MpValue[]> {
  const bucketId = uint(args[0] ?? null, 'bucket_id');
  if (node.replication?.isMaster !== true) return [null, nonMasterError(node)];
  const bucket = storedBucket(node, bucketId);
  const wanted = pinned ? 'pinned' : 'active';
  if (bucket?.status === wanted) return [true];
  if (bucket === null) return [null, wrongBucket(bucketId, 'Not found', null)];
  if (bucket.status === 'sending' || bucket.status === 'receiving') return [null, transferInProgress(bucketId, bucket.status === 'sending' ? bucket.destination : null)];
  if (bucket.status !== 'active' && bucket.status !== 'pinned') return [null, wrongBucket(bucketId, `bucket is ${bucket.status}`, null)];
  await writeBucketRow(node, [bucketId, wanted, null]);
  return [true];
}

export function bucketPin(node: Node, args: readonly MpValue[]): Promise<MpValue[]> {
  return setPinned(node, args, true);
}

export function bucketUnpin(node: Node, args: readonly MpValue[]): Promise<MpValue[]> {
  return setPinned(node, args, false);
}
