/**
 * A WAL record: one Store entry per WAL write, holding whole transactions (a group commit
 * batch), keyed by the first row's LSN. Payload: msgpack `[firstLsn, [row...]]`, a row being
 * `[spaceId, opCode, body, txnEnd]` with iproto op codes (INSERT 2, REPLACE 3, DELETE 5) and
 * TRUNCATE as 100; body = tuple (insert/replace), primary key (delete) or nil (truncate).
 *
 * Rows log effects, not requests: an UPDATE or UPSERT is logged as the REPLACE of the tuple it
 * produced, so replay (recovery, a replica) never depends on the state it meets.
 */

import { assert } from '../lib/assert.ts';
import { MpReader, MpWriter, type MpValue } from '../codec/msgpack.ts';
import { openRecord, RECORD_HEADER_PLACEHOLDER, sealRecordInPlace } from './record-codec.ts';
import type { Tuple } from './tuple.ts';
import type { RowOp, Txn, WalRow } from './txn.ts';
import { rowOf } from './txn.ts';

function opCode(op: RowOp): number {
  switch (op) {
    case 'insert':
      return 2;
    case 'replace':
      return 3;
    case 'delete':
      return 5;
    case 'truncate':
      return 100;
  }
}
const OPS_BY_CODE = new Map<number, RowOp>([
  [2, 'insert'],
  [3, 'replace'],
  [5, 'delete'],
  [100, 'truncate'],
]);

/** A decoded WAL row with the transaction boundary it ends, if any. */
export interface DecodedRow extends WalRow {
  readonly txnEnd: boolean;
}

export interface WalBatch {
  readonly firstLsn: number;
  readonly rows: DecodedRow[];
}

const writer = new MpWriter(1 << 16);

/** The tuple as msgpack, scalar fields inline (the same bytes as writer.value(tuple)). */
function encodeTuple(tuple: Tuple): void {
  const n = tuple.length;
  writer.arrayHeader(n);
  for (let i = 0; i < n; i++) {
    const v = tuple[i];
    if (typeof v === 'number') writer.number(v);
    else if (typeof v === 'string') writer.str(v);
    else writer.value(v, 1);
  }
}

/** Encodes the transactions of one WAL write. Their LSNs must be consecutive. */
export function encodeWalBatch(txns: readonly Txn[]): Uint8Array {
  assert(txns.length > 0, 'empty WAL batch');
  const firstLsn = txns[0]!.firstLsn;
  let rowCount = 0;
  for (const t of txns) {
    assert(t.firstLsn === firstLsn + rowCount, 'WAL batch LSNs not consecutive');
    rowCount += t.changes.length;
  }
  writer.reset();
  writer.raw(RECORD_HEADER_PLACEHOLDER);
  writer.arrayHeader(2);
  writer.uint(firstLsn);
  writer.arrayHeader(rowCount);
  for (const t of txns) {
    const changes = t.changes;
    const last = changes.length - 1;
    for (let i = 0; i <= last; i++) {
      const c = changes[i]!;
      const op = c.op;
      writer.u8(0x94); // fixarray(4)
      writer.uint(c.spaceId);
      writer.u8(opCode(op)); // positive fixint
      if (op === 'delete') writer.value(c.key as MpValue);
      else if (op === 'truncate') writer.nil();
      else encodeTuple(c.new!);
      writer.u8(i === last ? 0xc3 : 0xc2); // true | false
    }
  }
  return sealRecordInPlace('wal', writer.toBytes());
}

/** Decodes a WAL record; null when it is torn or rotten (checksum) or malformed. */
export function decodeWalBatch(bytes: Uint8Array): WalBatch | null {
  const payload = openRecord('wal', bytes);
  if (payload === null) return null;
  try {
    const reader = new MpReader(payload);
    if (reader.arrayHeader() !== 2) return null;
    const firstLsn = reader.value();
    if (typeof firstLsn !== 'number') return null;
    const count = reader.arrayHeader();
    const rows: DecodedRow[] = [];
    for (let i = 0; i < count; i++) rows.push(decodeRow(reader, firstLsn + i));
    return reader.done ? { firstLsn, rows } : null;
  } catch {
    return null;
  }
}

function decodeRow(reader: MpReader, lsn: number): DecodedRow {
  if (reader.arrayHeader() !== 4) throw new Error('bad WAL row');
  const spaceId = reader.value();
  const op = OPS_BY_CODE.get(reader.value() as number);
  const body = reader.value();
  const txnEnd = reader.value() === true;
  if (typeof spaceId !== 'number' || op === undefined) throw new Error('bad WAL row');
  if (op === 'delete') return { lsn, spaceId, op, key: body as MpValue[], txnEnd };
  if (op === 'truncate') return { lsn, spaceId, op, txnEnd };
  if (!Array.isArray(body)) throw new Error('bad WAL row tuple');
  return { lsn, spaceId, op, tuple: Object.freeze(body), txnEnd };
}

/** Rows of a submitted transaction, for onCommit subscribers. */
export function txnRows(txn: Txn): WalRow[] {
  return txn.changes.map((c, i) => rowOf(c, txn.firstLsn + i));
}
