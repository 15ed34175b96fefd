import { ErrorCode } from '../iproto/constants.ts';
import { iprotoError } from '../iproto/errors.ts';
import { str, uint } from '../rpc/proc-error.ts';
import { BUCKET_PIN, BUCKET_UNPIN, bucketPin, bucketUnpin } from './bucket-pin.ts';
import { recoveryBucketStat, RECOVERY_BUCKET_STAT } from './bucket-recovery.ts';
import { BUCKET_RECV, BUCKET_SEND, receiveBucket, sendBucket } from './bucket-transfer.ts';
import type { VshardFunction } from './context.ts';
import { isRebalancer, REBALANCER_APPLY_ROUTES, REBALANCER_REQUEST_STATE, rebalancerApplyRoutes, rebalancerRequestState } from './rebalancer.ts';
import { ROUTER_FUNCTIONS } from './router.ts';
import { bucketCounts, STORAGE_FUNCTIONS } from './storage.ts';

/** `vshard.storage.bucket_send(bucket_id, dest_uuid)`: `true`, or `nil, err`. */
const bucketSend: VshardFunction = (context, args) => {
  const bucketId = uint(args[0] ?? null, 'bucket_id');
  const dest = str(args[1] ?? null, 'destination');
  return sendBucket(context.node, bucketId, dest);
};

/**
 * `vshard.storage.info()`: `{bucket = {active, pinned, sending, receiving, sent, garbage, total},
 * is_master, is_rebalancer}` of this instance (vshard's `bucket` section, and what an operator
 * asks while buckets move).
 */
const storageInfo: VshardFunction = (context) => {
  const node = context.node;
  return [{ bucket: bucketCounts(node), is_master: node.replication?.isMaster === true, is_rebalancer: isRebalancer(node) }];
};

/** `vshard.storage.buckets_count()`: the buckets stored here, whatever their status. */
const bucketsCount: VshardFunction = (context) => [bucketCounts(context.node).total];

/**
 * The transfer and rebalancing functions change the instance's own data: callable by the users
 * the cluster's RPCs run as (like `.proc_*`), not by application users.
 */
function internal(name: string, fn: VshardFunction): [string, VshardFunction] {
  return [
    name,
    (context, args) => {
      if (context.user !== 'guest' && context.user !== 'admin') throw iprotoError(ErrorCode.ACCESS_DENIED, 'Execute', 'function', name, context.user);
      return fn(context, args);
    },
  ];
}

/** Every `vshard.*` function an instance serves over iproto, by name. */
export const VSHARD: ReadonlyMap<string, VshardFunction> = new Map([
  ...ROUTER_FUNCTIONS,
  ...STORAGE_FUNCTIONS,
  internal(BUCKET_SEND, bucketSend),
  internal(BUCKET_PIN, (context, args) => bucketPin(context.node, args)),
  internal(BUCKET_UNPIN, (context, args) => bucketUnpin(context.node, args)),
  internal(BUCKET_RECV, (context, args) => receiveBucket(context.node, args)),
  internal(RECOVERY_BUCKET_STAT, (context, args) => recoveryBucketStat(context.node, args)),
  internal(REBALANCER_REQUEST_STATE, (context) => rebalancerRequestState(context.node)),
  internal(REBALANCER_APPLY_ROUTES, (context, args) => rebalancerApplyRoutes(context.node, args)),
  ['vshard.storage.buckets_count', bucketsCount],
  ['vshard.storage.info', storageInfo],
]);
