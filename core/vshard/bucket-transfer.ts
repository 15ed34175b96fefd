/**
 * Moving one bucket, with its data, from this replicaset's master to another's (REFERENCE 5.3).
 *
 * Sender S, receiver D, bucket b, each step durable before the next:
 *   1. S: `_bucket[b]` active -> sending(D). Writes on b are refused from here on; the writes
 *      already admitted are waited out (rw refs), so the data read next has all of them.
 *   2. S -> D `bucket_recv(b, S, transfer, data)`, one call per chunk of at most
 *      `tuning.vshardTransferChunkTuplesMax` tuples (1000): D stores the first chunk's tuples and receiving(S,
 *      transfer) in one transaction, each later chunk's in another; or refuses (S goes back to
 *      active, and recovery drops what D took).
 *   3. S: sending -> sent(D). From here D's copy is the bucket.
 *   4. S -> D `bucket_recv(b, S, transfer, is_last)`: D receiving -> active.
 * A failure of step 2 or 4 without an answer (timeout, lost connection) leaves the outcome to
 * recovery (core/vshard/bucket-recovery.ts), which asks the peer: sending + peer receiving ->
 * active again, sending + peer active -> sent, receiving + peer sent or gone -> active,
 * receiving + peer active -> the copy is dropped. The transfer id on D's row keeps recovery from
 * dropping a copy a newer attempt wrote. A sent bucket's data goes once D no longer has it
 * receiving (garbage collection, in recovery too).
 *
 * Sharded data: the tuples of every user space with an index named `bucket_id` (vshard's
 * shard_index), looked up by that index. The spaces must exist on the receiver with the same
 * name.
 */

import type { MpValue } from '../codec/msgpack.ts';
import { extractKey } from '../box/key-def.ts';
import { USER_SPACE_ID_MIN } from '../box/space-def.ts';
import type { Txn } from '../box/txn.ts';
import type { Node, ShardingConfig } from '../node/node.ts';
import { ProcError, str, uint } from '../rpc/proc-error.ts';
import { BUCKET_SPACE, ensureBucketSpace } from '../rpc/sharding.ts';
import { assert } from '../lib/assert.ts';
import { probe } from '../lib/probe.ts';
import { bucketGuard } from './bucket-guard.ts';
import { bucketAlreadyExists, bucketIsPinned, missingMaster, moveToSelf, noSuchReplicaset, nonMasterError, transferInProgress, wrongBucket, type ShardingError } from './error.ts';
import { callInstance } from './peer-call.ts';
import { storedBucket } from './storage.ts';

export const BUCKET_SEND = 'vshard.storage.bucket_send';
export const BUCKET_RECV = 'vshard.storage.bucket_recv';
/** The index that says which bucket a tuple belongs to. */
export const SHARD_INDEX = 'bucket_id';
/** How long a send waits for the writes running on its bucket to finish. */
export const RW_REFS_WAIT_MS_MAX = 10_000;
const RW_REFS_POLL_MS = 5;
/** Budget of one `bucket_recv` call. */
export const BUCKET_RECV_TIMEOUT_MS = 10_000;

type Replicaset = ShardingConfig['replicasets'][number];

/** User spaces whose tuples belong to buckets, by name. */
export function shardedSpaces(node: Node): string[] {
  const names: string[] = [];
  for (const space of node.box.schema.spaces.values()) {
    if (space.def.id < USER_SPACE_ID_MIN || space.def.name === BUCKET_SPACE || space.isView) continue;
    if (space.indexes.some((index) => index.def.name === SHARD_INDEX)) names.push(space.def.name);
  }
  return names.sort();
}

/** The tuples of a bucket, per sharded space: `[[space, [tuple...]], ...]`. */
function bucketData(node: Node, bucketId: number): MpValue[] {
  const data: MpValue[] = [];
  for (const name of shardedSpaces(node)) {
    const tuples = node.box.space(name).index(SHARD_INDEX).select([bucketId]);
    if (tuples.length > 0) data.push([name, tuples as MpValue[]]);
  }
  return data;
}

/**
 * Splits `[[space, tuples]...]` into chunks of at most `tuplesMax` tuples, in order; at least one
 * chunk, empty for a bucket without data (its first chunk is what creates the receiving row).
 */
export function chunkBucketData(data: readonly MpValue[], tuplesMax: number): MpValue[][] {
  assert(tuplesMax > 0, 'a chunk holds at least one tuple');
  const chunks: MpValue[][] = [];
  let chunk: MpValue[] = [];
  let inChunk = 0;
  for (const entry of data) {
    const [space, tuples] = entry as [MpValue, MpValue[]];
    for (let from = 0; from < tuples.length; ) {
      if (inChunk === tuplesMax) {
        chunks.push(chunk);
        chunk = [];
        inChunk = 0;
      }
      const take = Math.min(tuplesMax - inChunk, tuples.length - from);
      chunk.push([space, tuples.slice(from, from + take)]);
      inChunk += take;
      from += take;
    }
  }
  chunks.push(chunk);
  return chunks;
}

/** Deletes the bucket's tuples from every sharded space, inside `txn`. */
export function deleteBucketData(node: Node, txn: Txn, bucketId: number): void {
  for (const name of shardedSpaces(node)) {
    const space = node.box.spaceObject(name);
    const primary = space.indexes[0];
    if (primary === undefined) continue;
    for (const tuple of node.box.space(name).index(SHARD_INDEX).select([bucketId])) space.delete(txn, extractKey(primary.def.keyDef, tuple));
  }
}

/** Sets the bucket's `_bucket` row, durable when the promise settles. */
export function writeBucketRow(node: Node, row: MpValue[]): Promise<unknown> {
  return node.box.space(BUCKET_SPACE).replace(row);
}

export function ownReplicaset(node: Node): Replicaset | undefined {
  const self = node.self();
  return node.sharding?.replicasets.find((r) => r.replicasetId === self?.replicasetId);
}

/** Why this instance may not send the bucket to `destUuid`, or the destination replicaset. */
function checkSend(node: Node, bucketId: number, destUuid: string): ShardingError | Replicaset {
  if (node.replication?.isMaster !== true) return nonMasterError(node);
  const own = ownReplicaset(node);
  if (own?.uuid === destUuid) return moveToSelf(bucketId, destUuid);
  const dest = node.sharding?.replicasets.find((r) => r.uuid === destUuid);
  if (dest === undefined) return noSuchReplicaset(destUuid);
  if (dest.master === '') return missingMaster(destUuid);
  const bucket = storedBucket(node, bucketId);
  if (bucket === null || (bucket.status !== 'active' && bucket.status !== 'pinned' && bucket.status !== 'sending')) return wrongBucket(bucketId, bucket === null ? 'Not found' : `bucket is ${bucket.status}`, null);
  if (bucket.status === 'pinned') return bucketIsPinned(bucketId);
  if (bucket.status === 'sending' || bucketGuard(node).isSending(bucketId)) return transferInProgress(bucketId, bucket.destination);
  return dest;
}

/**
 * Sends the bucket to the replicaset `destUuid`: `[true]`, or `[null, err]`. A failure after
 * which the bucket's fate is unknown (no answer from the receiver) leaves it `sending` for
 * recovery, and says so in the error.
 */
export async function sendBucket(node: Node, bucketId: number, destUuid: string): Promise<MpValue[]> {
  const checked = checkSend(node, bucketId, destUuid);
  if ('type' in checked) return [null, checked];
  const dest = checked;
  const guard = bucketGuard(node);
  if (!guard.beginSend(bucketId)) return [null, transferInProgress(bucketId, destUuid)];
  try {
    return await sendClaimed(node, bucketId, dest);
  } finally {
    guard.endSend(bucketId);
  }
}

async function sendClaimed(node: Node, bucketId: number, dest: Replicaset): Promise<MpValue[]> {
  const own = ownReplicaset(node)!;
  const transferId = `${node.identity?.raftId ?? 0}-${node.env.random.int(2 ** 30).toString(36)}-${bucketId}`;
  await writeBucketRow(node, [bucketId, 'sending', dest.uuid, transferId]);
  if (!(await rwRefsDrained(node, bucketId))) {
    await writeBucketRow(node, [bucketId, 'active', null]);
    return [null, transferInProgress(bucketId, dest.uuid)];
  }
  // Chunks keep each of the receiver's transactions short (tuning.vshardTransferChunkTuplesMax).
  const chunks = chunkBucketData(bucketData(node, bucketId), node.options.tuning.vshardTransferChunkTuplesMax);
  for (const chunk of chunks) {
    const answer = await callInstance(node, dest.master, BUCKET_RECV, [bucketId, own.uuid, transferId, chunk, false], BUCKET_RECV_TIMEOUT_MS);
    const refused = answer.ok ? recvRefusal(answer.values) : answer.transport ? null : answer.error;
    if (refused !== null) {
      // The receiver said no: what it took of earlier chunks is a copy recovery drops there
      // once it sees the bucket active here again.
      await writeBucketRow(node, [bucketId, 'active', null]);
      node.log.warn('bucket send refused', { bucket_id: bucketId, to: dest.replicasetId, reason: String(errorMessage(refused)) });
      return [null, refused];
    }
    if (!answer.ok) {
      probe('vshard.transfer.unknown_outcome');
      node.log.warn('bucket send interrupted, left to recovery', { bucket_id: bucketId, to: dest.replicasetId, reason: String(errorMessage(answer.error)) });
      return [null, answer.error];
    }
  }
  await writeBucketRow(node, [bucketId, 'sent', dest.uuid, transferId]);
  const last = await callInstance(node, dest.master, BUCKET_RECV, [bucketId, own.uuid, transferId, [], true], BUCKET_RECV_TIMEOUT_MS);
  if (!last.ok || recvRefusal(last.values) !== null) probe('vshard.transfer.activation_left_to_recovery');
  probe('vshard.transfer.sent');
  node.log.verbose('bucket sent', { bucket_id: bucketId, to: dest.replicasetId, chunks: chunks.length });
  return [true];
}

/** `bucket_recv` answers `[true]` or `[null, err]`; the error, or null when it took the data. */
function recvRefusal(values: readonly MpValue[]): MpValue | null {
  return values[0] === true ? null : (values[1] ?? 'bucket_recv failed');
}

function errorMessage(error: MpValue): MpValue {
  return error !== null && typeof error === 'object' && !Array.isArray(error) && 'message' in error ? (error as { message: MpValue }).message : error;
}

async function rwRefsDrained(node: Node, bucketId: number): Promise<boolean> {
  const guard = bucketGuard(node);
  const deadline = node.env.clock.nowMs() + RW_REFS_WAIT_MS_MAX;
  while (guard.rwRefCount(bucketId) > 0) {
    if (node.env.clock.nowMs() >= deadline) return false;
    await node.env.clock.sleep(RW_REFS_POLL_MS);
  }
  return true;
}

/** `vshard.storage.bucket_recv(bucket_id, from_uuid, transfer_id, data, is_last)` on the receiver. */
export async function receiveBucket(node: Node, args: readonly MpValue[]): Promise<MpValue[]> {
  const bucketId = uint(args[0] ?? null, 'bucket_id');
  const fromUuid = str(args[1] ?? null, 'from');
  const transferId = str(args[2] ?? null, 'transfer_id');
  const data = args[3] ?? [];
  const isLast = args[4] === true;
  if (!Array.isArray(data)) throw new ProcError('data must be an array');
  if (node.replication?.isMaster !== true) return [null, nonMasterError(node)];
  await ensureBucketSpace(node.box);
  const row = node.box.space(BUCKET_SPACE).get([bucketId]);
  if (isLast) {
    // A repeated is_last (its answer was lost): the bucket is active with this very transfer.
    if (row !== null && row[1] === 'active' && row[3] === transferId) return [true];
    if (row === null || row[1] !== 'receiving' || row[3] !== transferId) return [null, wrongBucket(bucketId, `no transfer ${transferId} is being received`, null)];
    await writeBucketRow(node, [bucketId, 'active', null, transferId]);
    probe('vshard.transfer.received');
    return [true];
  }
  // A later chunk of this transfer adds to what the earlier ones stored; a receiving copy left
  // by an earlier attempt from the same sender is replaced.
  if (row !== null && !(row[1] === 'receiving' && row[2] === fromUuid)) return [null, bucketAlreadyExists(bucketId)];
  const continues = row !== null && row[3] === transferId;
  await node.box.write((txn) => {
    if (row !== null && !continues) deleteBucketData(node, txn, bucketId);
    for (const entry of data) {
      const [spaceName, tuples] = entry as [MpValue, MpValue];
      const name = str(spaceName, 'space');
      if (!Array.isArray(tuples)) throw new ProcError('tuples must be an array');
      const space = node.box.spaceObject(name);
      for (const tuple of tuples) space.insert(txn, tuple as MpValue[]);
    }
    node.box.spaceObject(BUCKET_SPACE).replace(txn, [bucketId, 'receiving', fromUuid, transferId]);
  });
  return [true];
}
