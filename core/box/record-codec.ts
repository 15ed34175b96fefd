/**
 * Framing of every record box persists (WAL batches, snapshot chunks, vinyl values): a magic
 * number naming the record kind, a CRC-32C of everything after it, then the payload. A record
 * whose magic or checksum is wrong is rotten or torn and is never decoded as data.
 */

import { assert } from '../lib/assert.ts';
import { crc32c } from '../lib/crc32c.ts';

export const RECORD_HEADER_BYTES = 8;

export const RecordMagic = {
  wal: 0x42585731, // 'BXW1'
  snapshotChunk: 0x42585331, // 'BXS1'
  snapshotFooter: 0x42585346, // 'BXSF'
  vinylValue: 0x42585631, // 'BXV1'
  vinylMeta: 0x4258564d, // 'BXVM'
} as const;
export type RecordKind = keyof typeof RecordMagic;

/** Wraps a payload: [magic u32][crc32c u32][payload]. */
export function sealRecord(kind: RecordKind, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(RECORD_HEADER_BYTES + payload.length);
  out.set(payload, RECORD_HEADER_BYTES);
  const view = new DataView(out.buffer);
  view.setUint32(0, RecordMagic[kind]);
  view.setUint32(4, crc32c(out, RECORD_HEADER_BYTES));
  return out;
}

/** Header bytes a writer reserves before encoding a payload it will seal in place. */
export const RECORD_HEADER_PLACEHOLDER: Uint8Array = new Uint8Array(RECORD_HEADER_BYTES);

/**
 * Seals a record whose first RECORD_HEADER_BYTES were reserved (and are overwritten here):
 * the same bytes as sealRecord(kind, record.subarray(RECORD_HEADER_BYTES)) without a copy.
 */
export function sealRecordInPlace(kind: RecordKind, record: Uint8Array): Uint8Array {
  assert(record.length >= RECORD_HEADER_BYTES, 'record shorter than its header');
  const view = new DataView(record.buffer, record.byteOffset, record.byteLength);
  view.setUint32(0, RecordMagic[kind]);
  view.setUint32(4, crc32c(record, RECORD_HEADER_BYTES));
  return record;
}

/** The payload of a sound record, or null when the record is torn, rotten or of another kind. */
export function openRecord(kind: RecordKind, bytes: Uint8Array): Uint8Array | null {
  if (bytes.length < RECORD_HEADER_BYTES) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0) !== RecordMagic[kind]) return null;
  if (view.getUint32(4) !== crc32c(bytes, RECORD_HEADER_BYTES)) return null;
  return bytes.subarray(RECORD_HEADER_BYTES);
}

/** 8-byte big-endian key: byte order = numeric order (LSNs up to 2^53). */
export function u64Key(value: number): Uint8Array {
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  view.setUint32(0, Math.floor(value / 0x100000000));
  view.setUint32(4, value >>> 0);
  return out;
}

export function readU64Key(bytes: Uint8Array, offset = 0): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return view.getUint32(offset) * 0x100000000 + view.getUint32(offset + 4);
}
