/**
 * Settles the buckets a transfer left half-way, and collects the data of buckets sent away
 * (REFERENCE 5.3), by asking the other side. Runs on masters, every
 * `tuning.vshardRecoveryIntervalMs`, over the buckets no send of this process is working on.
 * The rules follow from the transfer's order (core/vshard/bucket-transfer.ts): a receiver
 * activates only once the sender is durably `sent` with that transfer, and a sender's row goes
 * only forward while that transfer lives.
 *
 * - here `sending(D, t)`: D has it active with t -> `sent`; D unreachable -> wait; otherwise D
 *   never got t or holds it receiving -> `active` again (D drops its copy).
 * - here `receiving(S, t)`: S `sent` to us with t -> `active`; S `sending` with t -> wait (S
 *   decides); S unreachable -> wait; otherwise (S active, moved it elsewhere, forgot it) the copy
 *   is stale -> dropped, unless a newer attempt replaced it meanwhile.
 * - here `sent(D, t)`: D no longer has t receiving -> the data and the row are deleted; D
 *   unreachable or still receiving t -> wait.
 */

import type { MpValue } from '../codec/msgpack.ts';
import { isMpMap, mapGet } from '../codec/msgpack.ts';
import type { Tuple } from '../box/tuple.ts';
import type { Node } from '../node/node.ts';
import { uint } from '../rpc/proc-error.ts';
import { BUCKET_SPACE, ensureBucketSpace } from '../rpc/sharding.ts';
import { probe } from '../lib/probe.ts';
import { bucketGuard } from './bucket-guard.ts';
import { deleteBucketData, ownReplicaset, writeBucketRow } from './bucket-transfer.ts';
import { callInstance } from './peer-call.ts';

export const RECOVERY_BUCKET_STAT = 'vshard.storage.recovery_bucket_stat';
const RECOVERY_CALL_TIMEOUT_MS = 5_000;

/** What a peer says of a bucket: its row, null when it has none, undefined when it did not answer. */
type PeerRow = { readonly status: string; readonly destination: string | null; readonly transfer: string | null } | null | undefined;

/**
 * `vshard.storage.recovery_bucket_stat(bucket_id)`: `{status, destination, transfer}` of any row
 * here, or nil; answered once that row is on a quorum of this replicaset (the asker deletes or
 * activates its own copy on the strength of it), else an error the asker takes as no answer.
 */
export async function recoveryBucketStat(node: Node, args: readonly MpValue[]): Promise<MpValue[]> {
  const bucketId = uint(args[0] ?? null, 'bucket_id');
  if (!node.box.hasSpace(BUCKET_SPACE)) return [null];
  const row = node.box.space(BUCKET_SPACE).get([bucketId]);
  await node.box.waitVisibleConfirmed();
  if (row === null) return [null];
  return [{ status: row[1] ?? null, destination: row[2] ?? null, transfer: row[3] ?? null }];
}

async function askPeer(node: Node, replicasetUuid: string, bucketId: number): Promise<PeerRow> {
  const replicaset = node.sharding?.replicasets.find((r) => r.uuid === replicasetUuid);
  // A replicaset that left the configuration cannot be asked; its buckets wait for an operator.
  if (replicaset === undefined || replicaset.master === '') return undefined;
  const outcome = await callInstance(node, replicaset.master, RECOVERY_BUCKET_STAT, [bucketId], RECOVERY_CALL_TIMEOUT_MS);
  if (!outcome.ok) return undefined;
  const stat = outcome.values[0] ?? null;
  if (!isMpMap(stat)) return null;
  const text = (key: string): string | null => {
    const value = mapGet(stat, key);
    return typeof value === 'string' ? value : null;
  };
  return { status: text('status') ?? '', destination: text('destination'), transfer: text('transfer') };
}

/** The current row of the bucket here, to check that what was asked about is still the case. */
function currentRow(node: Node, bucketId: number): Tuple | null {
  return node.box.space(BUCKET_SPACE).get([bucketId]);
}

function sameRow(a: Tuple | null, b: Tuple): boolean {
  return a !== null && a[1] === b[1] && a[2] === b[2] && a[3] === b[3];
}

/** Deletes the bucket's row and its tuples in one transaction. */
function dropBucket(node: Node, bucketId: number): Promise<unknown> {
  return node.box.write((txn) => {
    deleteBucketData(node, txn, bucketId);
    node.box.spaceObject(BUCKET_SPACE).delete(txn, [bucketId]);
  });
}

async function recoverSending(node: Node, row: Tuple): Promise<void> {
  const bucketId = row[0] as number;
  const peer = await askPeer(node, String(row[2]), bucketId);
  if (peer === undefined || bucketGuard(node).isSending(bucketId) || !sameRow(currentRow(node, bucketId), row)) return;
  if (peer !== null && peer.status === 'active' && peer.transfer === row[3]) {
    await writeBucketRow(node, [bucketId, 'sent', row[2] ?? null, row[3] ?? null]);
    probe('vshard.recovery.marked_sent');
    return;
  }
  await writeBucketRow(node, [bucketId, 'active', null]);
  probe('vshard.recovery.reactivated');
  node.log.info('bucket send did not finish: the bucket is active here again', { bucket_id: bucketId });
}

async function recoverReceiving(node: Node, row: Tuple): Promise<void> {
  const bucketId = row[0] as number;
  const peer = await askPeer(node, String(row[2]), bucketId);
  if (peer === undefined || !sameRow(currentRow(node, bucketId), row)) return;
  const ownUuid = ownReplicaset(node)?.uuid;
  if (peer !== null && peer.transfer === row[3]) {
    if (peer.status === 'sending') return;
    if (peer.status === 'sent' && peer.destination === ownUuid) {
      await writeBucketRow(node, [bucketId, 'active', null, row[3] ?? null]);
      probe('vshard.recovery.activated_received');
      node.log.info('bucket received, activated by recovery', { bucket_id: bucketId });
      return;
    }
  }
  await dropBucket(node, bucketId);
  probe('vshard.recovery.dropped_copy');
  node.log.info('stale copy of a bucket dropped', { bucket_id: bucketId, sender_status: peer?.status ?? 'none' });
}

async function collectSent(node: Node, row: Tuple): Promise<void> {
  const bucketId = row[0] as number;
  const peer = await askPeer(node, String(row[2]), bucketId);
  if (peer === undefined || !sameRow(currentRow(node, bucketId), row)) return;
  if (peer !== null && peer.status === 'receiving' && peer.transfer === row[3]) return;
  await dropBucket(node, bucketId);
  probe('vshard.gc.collected');
}

/** One pass over the buckets in transit here. Errors of one bucket do not stop the others. */
export async function recoverBuckets(node: Node): Promise<void> {
  if (node.replication?.isMaster !== true || node.sharding === null || !node.box.hasSpace(BUCKET_SPACE)) return;
  // A crash between the DDL statements that make `_bucket` leaves it without indexes: finish it.
  await ensureBucketSpace(node.box);
  const byStatus = node.box.space(BUCKET_SPACE).index('status');
  const rows = [...byStatus.select(['sending']), ...byStatus.select(['receiving']), ...byStatus.select(['sent'])];
  for (const row of rows) {
    if (node.replication?.isMaster !== true) return;
    try {
      if (row[1] === 'sending') await recoverSending(node, row);
      else if (row[1] === 'receiving') await recoverReceiving(node, row);
      else await collectSent(node, row);
    } catch (error) {
      node.log.verbose('bucket recovery step failed', { bucket_id: row[0] ?? null, reason: error instanceof Error ? error.message : String(error) });
    }
  }
}
