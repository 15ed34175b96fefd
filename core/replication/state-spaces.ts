/**
 * What an instance keeps about its replication, in two local spaces (never replicated), so it is
 * durable with the data it describes:
 * - `_vclock {origin, seq}`: the greatest seq of every other origin's transactions applied here.
 *   An applied transaction writes its row in the same local transaction as its data, so after a
 *   crash the clock and the data agree. This instance's own component is not stored: its own
 *   transactions are tagged with their LSNs, so it holds all of them up to its committed LSN.
 * - `_replica_state {key, value}`:
 *   - `cursor` = `[master instance id, lsn]`: how far into that master's WAL this replica got (a
 *     hint that saves rescanning the master's WAL; the vclock decides what is applied);
 *   - `origin_epoch`, `copied_at`: see `originOf` and `readCopiedAt`;
 *   - `copy` = the vclock of the master's state a copy was taken of, written in every
 *     transaction of a copy: a relay recognises a copy in its WAL by it (relay.ts);
 *   - `resync` = true: this instance's data may not be a prefix of its master's, and it copies
 *     the master's data whole before it applies anything more. Set when an instance becomes
 *     writable (a master may commit transactions no replica got before it fails over, and must
 *     not keep them once it follows the new master) and while a copy is under way.
 *   - `caught_up` = an instance id: this instance holds the replicaset's history up to some
 *     moment after it joined: it caught up with that master (held everything the master had
 *     committed when the replica first fetched from it), or it is that master itself. Before
 *     that it may lack writes acknowledged while the replicaset was smaller (a quorum of fewer
 *     members), so the governor does not promote it (core/governor/executor.ts). Afterwards
 *     every acknowledged write counted it among the members. A copy, which starts by emptying
 *     the data, removes it until the copy has caught up.
 */

import type { Box } from '../box/box.ts';
import type { MpValue } from '../codec/msgpack.ts';
import type { WalRow } from '../box/txn.ts';
import { vclockFromValue, vclockToValue, type Vclock } from './vclock.ts';

export const VCLOCK_SPACE = '_vclock';
export const REPLICA_STATE_SPACE = '_replica_state';
export const CURSOR_KEY = 'cursor';
export const RESYNC_KEY = 'resync';
export const COPY_KEY = 'copy';
export const ORIGIN_EPOCH_KEY = 'origin_epoch';
export const COPIED_AT_KEY = 'copied_at';
export const CAUGHT_UP_KEY = 'caught_up';

/** Origins of one raft id differ by a multiple of this: origin = epoch * ORIGIN_EPOCH_STRIDE + raft id. */
export const ORIGIN_EPOCH_STRIDE = 2 ** 32;

/** The raft id an origin belongs to. */
export function raftIdOfOrigin(origin: number): number {
  return origin % ORIGIN_EPOCH_STRIDE;
}

/**
 * This instance's origin for the transactions it writes: its raft id in the epoch it is in. A
 * copy (`resync`) discards whatever this instance wrote that its master lacked, and starts a new
 * epoch: its later transactions get new tags, so the discarded ones (which another member may
 * still hold) are never mistaken for transactions it has.
 */
export function originOf(box: Box, raftId: number): number {
  return raftId <= 0 ? 0 : originAt(raftId, currentEpoch(box));
}

export function originAt(raftId: number, epoch: number): number {
  return epoch * ORIGIN_EPOCH_STRIDE + raftId;
}

export function originEpochRow(box: Box, epoch: number): WalRow {
  return { lsn: 0, spaceId: box.space(REPLICA_STATE_SPACE).id, op: 'replace', tuple: [ORIGIN_EPOCH_KEY, epoch] };
}

export function currentEpoch(box: Box): number {
  const epoch = stateValue(box, ORIGIN_EPOCH_KEY);
  return typeof epoch === 'number' ? epoch : 0;
}

/**
 * Where the last copy began in this instance's WAL and the vclock it copied: transactions
 * before that LSN are not this instance's history any more (relay.ts never sends them).
 */
export function readCopiedAt(box: Box): { readonly lsn: number; readonly vclock: Vclock } | null {
  const value = stateValue(box, COPIED_AT_KEY);
  if (!Array.isArray(value) || typeof value[0] !== 'number') return null;
  const vclock = vclockFromValue(value[1] ?? null);
  return vclock === null ? null : { lsn: value[0], vclock };
}

export function copiedAtRow(box: Box, lsn: number, vclock: Vclock): WalRow {
  return { lsn: 0, spaceId: box.space(REPLICA_STATE_SPACE).id, op: 'replace', tuple: [COPIED_AT_KEY, [lsn, vclockToValue(vclock)]] };
}

/** Spaces that hold replication state, not data: never sent to a replica. */
export function isReplicationStateSpace(name: string): boolean {
  return name === VCLOCK_SPACE || name === REPLICA_STATE_SPACE;
}

/** Creates whatever part of the two spaces is missing (each DDL step is its own transaction). */
export async function ensureStateSpaces(box: Box): Promise<void> {
  if (!box.hasSpace(VCLOCK_SPACE)) {
    await box.createSpaceAsReplica(VCLOCK_SPACE, { format: [{ name: 'origin', type: 'unsigned' }, { name: 'seq', type: 'unsigned' }] });
  }
  if (box.space(VCLOCK_SPACE).indexes().length === 0) await box.createIndex(VCLOCK_SPACE, 'pk', { parts: [['origin', 'unsigned']] });
  if (!box.hasSpace(REPLICA_STATE_SPACE)) {
    await box.createSpaceAsReplica(REPLICA_STATE_SPACE, { format: [{ name: 'key', type: 'string' }, { name: 'value', type: 'any' }] });
  }
  if (box.space(REPLICA_STATE_SPACE).indexes().length === 0) await box.createIndex(REPLICA_STATE_SPACE, 'pk', { parts: [['key', 'string']] });
}

function ready(box: Box, name: string): boolean {
  return box.hasSpace(name) && box.space(name).indexes().length > 0;
}

/** The instance's vclock: the applied components and its own (`selfOrigin` -> its committed LSN). */
export function readVclock(box: Box, selfOrigin: number): Vclock {
  const vclock = new Map<number, number>();
  if (ready(box, VCLOCK_SPACE)) {
    for (const t of box.space(VCLOCK_SPACE).select([], { iterator: 'ALL' })) vclock.set(t[0] as number, t[1] as number);
  }
  if (selfOrigin > 0) vclock.set(selfOrigin, Math.max(vclock.get(selfOrigin) ?? 0, box.committedLsn));
  return vclock;
}

function stateValue(box: Box, key: string): MpValue | undefined {
  if (!ready(box, REPLICA_STATE_SPACE)) return undefined;
  return box.space(REPLICA_STATE_SPACE).get([key])?.[1];
}

export function readCursor(box: Box): { readonly masterId: string; readonly lsn: number } | null {
  const value = stateValue(box, CURSOR_KEY);
  if (!Array.isArray(value) || typeof value[0] !== 'string' || typeof value[1] !== 'number') return null;
  return { masterId: value[0], lsn: value[1] };
}

/** Whether this instance holds its replicaset's history (`caught_up`, see the module comment). */
export function holdsHistory(box: Box): boolean {
  return typeof stateValue(box, CAUGHT_UP_KEY) === 'string';
}

/** Row recording `caught_up` with `instanceId` (a master caught up with, or this one as master). */
export function caughtUpRow(box: Box, instanceId: string): WalRow {
  return { lsn: 0, spaceId: box.space(REPLICA_STATE_SPACE).id, op: 'replace', tuple: [CAUGHT_UP_KEY, instanceId] };
}

export function forgetCaughtUpRow(box: Box): WalRow {
  return { lsn: 0, spaceId: box.space(REPLICA_STATE_SPACE).id, op: 'delete', key: [CAUGHT_UP_KEY] };
}

export function needsResync(box: Box): boolean {
  return stateValue(box, RESYNC_KEY) === true;
}

/** Row setting `origin`'s component (to go in the transaction that applies its transaction). */
export function vclockRow(box: Box, origin: number, seq: number): WalRow {
  return { lsn: 0, spaceId: box.space(VCLOCK_SPACE).id, op: 'replace', tuple: [origin, seq] };
}

export function cursorRow(box: Box, masterId: string, lsn: number): WalRow {
  return { lsn: 0, spaceId: box.space(REPLICA_STATE_SPACE).id, op: 'replace', tuple: [CURSOR_KEY, [masterId, lsn]] };
}

export function resyncRow(box: Box, on: boolean): WalRow {
  const spaceId = box.space(REPLICA_STATE_SPACE).id;
  return on ? { lsn: 0, spaceId, op: 'replace', tuple: [RESYNC_KEY, true] } : { lsn: 0, spaceId, op: 'delete', key: [RESYNC_KEY] };
}

/** Durably marks this instance's data as needing a copy from its next master (see the module comment). */
export async function markResync(box: Box): Promise<void> {
  await ensureStateSpaces(box);
  if (!needsResync(box)) await box.applyRows([resyncRow(box, true)]);
}
