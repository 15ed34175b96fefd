/**
 * The storage half of vshard that a router needs (REFERENCE 5.3): a call is admitted only where
 * its bucket is, in a state that allows the mode, and a write only on the replicaset's master.
 *
 * - `vshard.storage.call(bucket_id, mode, function_name, args)` -> `true, <results>`; a bucket or
 *   master check that fails -> `nil, ShardingError`; a failure of the function -> `false, error`.
 * - `vshard.storage.bucket_stat(bucket_id)` -> `{id, status, destination}` of a bucket stored
 *   here, or `nil, WRONG_BUCKET` (the router's discovery of a bucket it has no route for).
 *
 * Bucket refs (which keep a bucket from moving while calls run on it) belong with the rebalancer,
 * which does not exist yet: nothing moves buckets, so there is nothing for a ref to hold back.
 */

import type { MpValue } from '../codec/msgpack.ts';
import type { Node } from '../node/node.ts';
import { BUCKET_SPACE } from '../rpc/sharding.ts';
import { ProcError, str, uint } from '../rpc/proc-error.ts';
import { checkRoutable, type VshardContext, type VshardFunction } from './context.ts';
import { callError, nonMasterError, transferInProgress, wrongBucket, type ShardingError } from './error.ts';
import { parseMode, type CallMode } from './mode.ts';
import { probe } from '../lib/probe.ts';
import { bucketGuard } from './bucket-guard.ts';

export const STORAGE_CALL = 'vshard.storage.call';
export const STORAGE_BUCKET_STAT = 'vshard.storage.bucket_stat';

export interface StoredBucket {
  readonly id: number;
  readonly status: string;
  readonly destination: string | null;
}

export const BUCKET_STATUSES = ['active', 'pinned', 'sending', 'receiving', 'sent', 'garbage'] as const;
export type BucketCounts = Record<(typeof BUCKET_STATUSES)[number] | 'total', number>;

/**
 * How many `_bucket` rows here have each status, and how many in all; zeros without `_bucket`
 * or while it still lacks its `status` index (a crash between its DDL statements).
 */
export function bucketCounts(node: Node): BucketCounts {
  const counts: BucketCounts = { active: 0, pinned: 0, sending: 0, receiving: 0, sent: 0, garbage: 0, total: 0 };
  if (!node.box.hasSpace(BUCKET_SPACE) || !node.box.space(BUCKET_SPACE).indexes().some((i) => i.name === 'status')) return counts;
  const byStatus = node.box.space(BUCKET_SPACE).index('status');
  for (const status of BUCKET_STATUSES) counts[status] = byStatus.count([status]);
  counts.total = node.box.space(BUCKET_SPACE).len();
  return counts;
}

/** The `_bucket` row of `bucketId` on this instance, or null when it has none. */
export function storedBucket(node: Node, bucketId: number): StoredBucket | null {
  if (!node.box.hasSpace(BUCKET_SPACE)) return null;
  const tuple = node.box.space(BUCKET_SPACE).get([bucketId]);
  if (tuple === null) return null;
  const destination = tuple[2];
  return { id: bucketId, status: String(tuple[1]), destination: typeof destination === 'string' ? destination : null };
}

/**
 * Whether the bucket is here as far as routing goes: readable. Sent and garbage ones are gone; a
 * receiving one is not here yet (its sender still serves reads while it is sending).
 */
function isPresent(status: string): boolean {
  return status === 'active' || status === 'pinned' || status === 'sending';
}

/** Why a call in `mode` on the bucket may not run here, or null when it may. */
export function checkBucket(node: Node, bucketId: number, mode: CallMode): ShardingError | null {
  const bucket = storedBucket(node, bucketId);
  if (bucket === null) return wrongBucket(bucketId, 'Not found', null);
  const { status, destination } = bucket;
  // Only a bucket on its way out names where it goes; a receiving one names where it comes from.
  const goesTo = status === 'sent' || status === 'sending' ? destination : null;
  if (mode === 'read') {
    if (status === 'active' || status === 'pinned' || status === 'sending') return null;
    return wrongBucket(bucketId, `bucket is ${status}`, goesTo);
  }
  if (status === 'sending') return transferInProgress(bucketId, goesTo);
  if (status !== 'active' && status !== 'pinned') return wrongBucket(bucketId, `bucket is ${status}`, goesTo);
  if (node.replication?.isMaster !== true) return nonMasterError(node);
  return null;
}

export async function storageCall(context: VshardContext, args: readonly MpValue[]): Promise<MpValue[]> {
  const bucketId = uint(args[0] ?? null, 'bucket_id');
  const mode = parseMode(args[1] ?? null);
  const functionName = str(args[2] ?? null, 'function_name');
  checkRoutable(functionName, context.user);
  const callArgs = args[3] ?? [];
  if (!Array.isArray(callArgs)) throw new ProcError('args must be an array');
  const refused = checkBucket(context.node, bucketId, mode);
  if (refused !== null) {
    probe('vshard.storage.refused');
    return [null, refused];
  }
  // A write holds its bucket: a send marks the bucket sending first, then waits for these.
  const guard = mode === 'write' ? bucketGuard(context.node) : null;
  guard?.refRw(bucketId);
  try {
    return [true, ...(await context.invoke(functionName, callArgs as MpValue[]))];
  } catch (error) {
    return [false, callError(error)];
  } finally {
    guard?.unrefRw(bucketId);
  }
}

export function bucketStat(context: VshardContext, args: readonly MpValue[]): MpValue[] {
  const bucketId = uint(args[0] ?? null, 'bucket_id');
  const bucket = storedBucket(context.node, bucketId);
  if (bucket === null || !isPresent(bucket.status)) return [null, wrongBucket(bucketId, 'Not found', null)];
  return [{ id: bucket.id, status: bucket.status, destination: bucket.destination }];
}

export const STORAGE_FUNCTIONS: ReadonlyArray<[string, VshardFunction]> = [
  [STORAGE_CALL, storageCall],
  [STORAGE_BUCKET_STAT, bucketStat],
];
