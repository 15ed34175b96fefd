/**
 * Recovery: the newest good snapshot, then the WAL rows after it.
 *
 * - Snapshots are tried newest first; a corrupt one is reported (logged and returned as a
 *   BoxError) and the next older one is tried. The empty state counts as a snapshot at LSN 0
 *   while the WAL still starts at LSN 1. A base is usable only if the WAL continues it without a
 *   gap; with no usable base the box refuses to start (ER_MISSING_SNAPSHOT) instead of serving
 *   partial data.
 * - WAL records replay in LSN order. A record that fails its checksum, does not decode, or leaves
 *   a gap is corruption, never a crash's torn tail: stores write batches atomically (core/env/
 *   disk.ts), and the daemon's append log cuts torn frames before the box sees them. So recovery
 *   refuses (ER_INVALID_XLOG) and touches nothing: the record may hold acknowledged writes, and
 *   starting past it would drop them silently (found by the box-durability scenario: a rotted
 *   last record was deleted and the instance served on without it). Only with `forceRecovery`
 *   (Tarantool's `force_recovery`) is it and everything after it reported, deleted (so new writes
 *   never follow a hole), and the box started from the last good record.
 */

import type { Store } from '../env/disk.ts';
import type { Log } from '../env/log.ts';
import { boxErrors, type BoxError } from './errors.ts';
import { readU64Key } from './record-codec.ts';
import { deleteSnapshot, readSnapshot, snapshotLsns, type SpaceImage } from './snapshot.ts';
import type { WalSpan } from './wal.ts';
import { decodeWalBatch, type DecodedRow, type WalBatch } from './wal-record.ts';

export interface RecoveryTarget {
  /** Loads a snapshot's images (system spaces first: their triggers recreate the schema). */
  loadImages(images: readonly SpaceImage[]): void;
  /** Replays the rows of one transaction. */
  replayTxn(rows: readonly DecodedRow[]): void;
}

export interface RecoveryResult {
  /** LSN of the last row recovered (0 for an empty box). */
  readonly lastLsn: number;
  readonly snapshotLsn: number;
  readonly walSpans: WalSpan[];
  /** Corruption found and worked around (reported, never loaded). */
  readonly problems: BoxError[];
  /** Nothing on disk: the caller bootstraps. */
  readonly fresh: boolean;
}

interface WalEntry {
  readonly key: Uint8Array;
  readonly batch: WalBatch | null;
}

function readWal(store: Store): WalEntry[] {
  const out: WalEntry[] = [];
  for (const [key, value] of store.range()) out.push({ key, batch: decodeWalBatch(value) });
  return out;
}

function lastLsnOf(batch: WalBatch): number {
  return batch.firstLsn + batch.rows.length - 1;
}

/** True when the WAL continues `base` without a gap (or holds nothing after it). */
function walContinues(wal: readonly WalEntry[], base: number): boolean {
  for (const e of wal) {
    const firstLsn = e.batch?.firstLsn ?? readU64Key(e.key);
    const lastLsn = e.batch === null ? firstLsn : lastLsnOf(e.batch);
    if (lastLsn <= base) continue;
    return firstLsn <= base + 1;
  }
  return true;
}

/** The last LSN the WAL holds; 0 when it is empty. */
function walLastLsn(wal: readonly WalEntry[]): number {
  const last = wal[wal.length - 1];
  if (last === undefined) return 0;
  return last.batch === null ? readU64Key(last.key) : lastLsnOf(last.batch);
}

export interface RecoveryOptions {
  /** Start from the last good WAL record when a later one is corrupt (losing what follows). */
  readonly forceRecovery: boolean;
}

export async function recover(snapStore: Store, walStore: Store, log: Log, target: RecoveryTarget, options: RecoveryOptions): Promise<RecoveryResult> {
  const problems: BoxError[] = [];
  const wal = readWal(walStore);
  const snapshots = snapshotLsns(snapStore);
  if (snapshots.length === 0 && wal.length === 0) return { lastLsn: 0, snapshotLsn: 0, walSpans: [], problems, fresh: true };
  let base = -1;
  // A corrupt snapshot's data once reached the disk (its footer is there): an older base is
  // good only with a WAL reaching past it. A checkpoint trims the WAL it covers, so without
  // this an empty WAL after a rotten only snapshot would start the instance empty, silently.
  let corruptLsn = 0;
  for (const lsn of [...snapshots, 0]) {
    if (!walContinues(wal, lsn)) {
      if (lsn > 0) log.warn('snapshot not continued by the WAL, trying an older one', { lsn });
      continue;
    }
    if (corruptLsn > lsn && walLastLsn(wal) < corruptLsn) {
      if (lsn > 0) log.warn('snapshot and the WAL after it stop short of a newer corrupt snapshot, trying an older one', { lsn, corruptLsn });
      continue;
    }
    if (lsn === 0) {
      base = 0;
      break;
    }
    const snapshot = readSnapshot(snapStore, lsn);
    if ('incomplete' in snapshot) {
      // A checkpoint cut short by a crash: expected, not corruption. Its chunks go.
      log.warn('incomplete snapshot (checkpoint interrupted), removing it', { lsn });
      await deleteSnapshot(snapStore, lsn);
      continue;
    }
    if ('error' in snapshot) {
      log.error('snapshot is corrupt, not loading it', { lsn, error: snapshot.error.message });
      problems.push(snapshot.error);
      corruptLsn = Math.max(corruptLsn, lsn);
      continue;
    }
    target.loadImages(snapshot.images);
    log.info('snapshot loaded', { lsn });
    base = lsn;
    break;
  }
  if (base < 0) {
    const details = problems.map((p) => p.message).join('; ') || 'the WAL does not reach back to any snapshot';
    throw boxErrors.missingSnapshot(details);
  }
  const replayed = await replayWal(walStore, wal, base, log, problems, target, options);
  return { lastLsn: replayed.lastLsn, snapshotLsn: base, walSpans: replayed.spans, problems, fresh: false };
}

async function replayWal(
  store: Store,
  wal: readonly WalEntry[],
  base: number,
  log: Log,
  problems: BoxError[],
  target: RecoveryTarget,
  options: RecoveryOptions,
): Promise<{ lastLsn: number; spans: WalSpan[] }> {
  let lastLsn = base;
  const spans: WalSpan[] = [];
  for (let i = 0; i < wal.length; i++) {
    const { batch } = wal[i]!;
    const bad = batch === null ? 'checksum mismatch' : batch.firstLsn > lastLsn + 1 ? 'LSN gap' : null;
    if (bad !== null) {
      const badRecordLsn = readU64Key(wal[i]!.key);
      const error = boxErrors.invalidXlog(`WAL record at LSN ${badRecordLsn}: ${bad}`);
      const details = { lastGoodLsn: lastLsn, badRecordLsn, reason: bad, recordsFromIt: wal.length - i };
      if (!options.forceRecovery) {
        log.error('WAL is corrupt, refusing to recover past it (force_recovery starts from the last good record)', details);
        throw error;
      }
      log.error('WAL is corrupt: recovery stopped at the last good record (force_recovery)', details);
      problems.push(error);
      await store.write(wal.slice(i).map((e) => ({ kind: 'delete' as const, key: e.key })), 'fsync');
      break;
    }
    spans.push({ firstLsn: batch!.firstLsn, lastLsn: lastLsnOf(batch!) });
    lastLsn = replayBatch(batch!, lastLsn, target);
  }
  return { lastLsn, spans };
}

/** Replays the rows of one record after `lastLsn`, transaction by transaction. */
function replayBatch(batch: WalBatch, lastLsn: number, target: RecoveryTarget): number {
  let txn: DecodedRow[] = [];
  for (const row of batch.rows) {
    if (row.lsn <= lastLsn) continue;
    txn.push(row);
    if (row.txnEnd) {
      target.replayTxn(txn);
      txn = [];
    }
  }
  if (txn.length > 0) target.replayTxn(txn);
  return Math.max(lastLsn, lastLsnOf(batch));
}

