/**
 * Snapshots (checkpoints) of memtx spaces in the `snap` Store.
 *
 * Keys: [lsn u64][chunk u32]. A chunk holds tuples of one space: msgpack `[spaceId, [tuple...]]`.
 * The footer (chunk 0xFFFFFFFF, written last, fsynced) holds `[lsn, chunkCount, tupleCount]`.
 * A snapshot counts only when its footer and every chunk pass their checksums and the counts
 * agree; anything else is reported as corrupt (ER_INVALID_XLOG) and never loaded.
 */

import { assert } from '../lib/assert.ts';
import { concatBytes } from '../lib/bytes.ts';
import { MpReader, MpWriter, type MpValue } from '../codec/msgpack.ts';
import type { Op, Store } from '../env/disk.ts';
import { boxErrors, type BoxError } from './errors.ts';
import { openRecord, readU64Key, sealRecord, u64Key } from './record-codec.ts';
import type { Tuple } from './tuple.ts';
import { pushAll } from '../lib/arrays.ts';

/** A chunk closes once its encoding passes this size. */
export const SNAPSHOT_CHUNK_BYTES_MAX = 256 * 1024;
/** Chunks per Store.write while writing a snapshot. */
export const SNAPSHOT_CHUNKS_PER_WRITE = 16;
const FOOTER_CHUNK = 0xffffffff;

export interface SpaceImage {
  readonly spaceId: number;
  readonly tuples: readonly Tuple[];
}

function chunkKey(lsn: number, chunk: number): Uint8Array {
  const out = new Uint8Array(12);
  out.set(u64Key(lsn));
  new DataView(out.buffer).setUint32(8, chunk);
  return out;
}

function chunkNumber(key: Uint8Array): number {
  return new DataView(key.buffer, key.byteOffset, key.byteLength).getUint32(8);
}

/** The images' chunk payloads (sealed records), one at a time, counting the tuples into `count`. */
function* encodeChunks(images: readonly SpaceImage[], count: { tuples: number }): Generator<Uint8Array> {
  const writer = new MpWriter(64);
  for (const image of images) {
    let start = 0;
    while (start < image.tuples.length || (start === 0 && image.tuples.length === 0)) {
      const body = new MpWriter(SNAPSHOT_CHUNK_BYTES_MAX + 4096);
      let end = start;
      while (end < image.tuples.length && body.length < SNAPSHOT_CHUNK_BYTES_MAX) body.value(image.tuples[end++] as MpValue);
      writer.reset();
      writer.arrayHeader(2);
      writer.uint(image.spaceId);
      writer.arrayHeader(end - start);
      count.tuples += end - start;
      yield sealRecord('snapshotChunk', concatBytes([writer.toBytes(), body.toBytes()]));
      start = end;
      if (image.tuples.length === 0) break;
    }
  }
}

/**
 * Writes a snapshot at `lsn`. On failure, deletes what it wrote (best effort) and rethrows.
 * `pause`, when given, runs after each chunk is encoded: the caller's way to let other work in
 * (a space of a million tuples took ~0.3 s to encode in one go, a stall for every client).
 */
export async function writeSnapshot(store: Store, lsn: number, images: readonly SpaceImage[], pause?: () => Promise<void>): Promise<void> {
  // Its cleanup on failure deletes every chunk at `lsn`: over a finished snapshot, whose WAL may
  // be trimmed already, that would delete the only copy of the data.
  assert(!snapshotFinished(store, lsn), () => `a snapshot at LSN ${lsn} exists already`);
  const count = { tuples: 0 };
  let chunks = 0;
  try {
    let ops: Op[] = [];
    for (const chunk of encodeChunks(images, count)) {
      ops.push({ kind: 'put', key: chunkKey(lsn, chunks++), value: chunk });
      if (ops.length === SNAPSHOT_CHUNKS_PER_WRITE) {
        await store.write(ops, 'write');
        ops = [];
      }
      if (pause !== undefined) await pause();
    }
    if (ops.length > 0) await store.write(ops, 'write');
    const footer = new MpWriter(64);
    footer.arrayHeader(3);
    footer.uint(lsn);
    footer.uint(chunks);
    footer.uint(count.tuples);
    const value = sealRecord('snapshotFooter', footer.toBytes());
    await store.write([{ kind: 'put', key: chunkKey(lsn, FOOTER_CHUNK), value }], 'fsync');
  } catch (error) {
    await deleteSnapshot(store, lsn).catch(() => undefined);
    throw error;
  }
}

/** Whether the snapshot at `lsn` was written to the end (its footer, written last, is there). */
export function snapshotFinished(store: Store, lsn: number): boolean {
  return store.get(chunkKey(lsn, FOOTER_CHUNK)) !== undefined;
}

export async function deleteSnapshot(store: Store, lsn: number): Promise<void> {
  await store.write([{ kind: 'deleteRange', from: chunkKey(lsn, 0), to: chunkKey(lsn + 1, 0) }], 'write');
}

/** LSNs of snapshots present in the store (complete or not), newest first. */
export function snapshotLsns(store: Store): number[] {
  const out: number[] = [];
  let to: Uint8Array | undefined;
  for (let guard = 0; guard < 1_000_000; guard++) {
    const entries = [...store.range({ ...(to ? { to } : {}), reverse: true, limit: 1 })];
    if (entries.length === 0) return out;
    const lsn = readU64Key(entries[0]![0]);
    out.push(lsn);
    to = u64Key(lsn);
  }
  return out;
}

/**
 * Reads and checks a snapshot completely; returns its images or a corruption error. Nothing is
 * loaded from a snapshot that fails any check.
 */
export function readSnapshot(
  store: Store,
  lsn: number,
): { images: SpaceImage[] } | { error: BoxError } | { incomplete: true } {
  const footerBytes = store.get(chunkKey(lsn, FOOTER_CHUNK));
  // The footer is written last: without it the checkpoint never finished (a crash), which is
  // not corruption. A footer that fails its checksum is.
  if (footerBytes === undefined) return { incomplete: true };
  const footer = openRecord('snapshotFooter', footerBytes);
  if (footer === null) return { error: boxErrors.invalidXlog(`snapshot ${lsn}: footer checksum mismatch`) };
  const [footerLsn, chunkCount, tupleCount] = new MpReader(footer).value() as number[];
  if (footerLsn !== lsn) return { error: boxErrors.invalidXlog(`snapshot ${lsn}: footer names LSN ${footerLsn}`) };
  const images: SpaceImage[] = [];
  let expected = 0;
  let tuples = 0;
  for (const [key, value] of store.range({ from: chunkKey(lsn, 0), to: chunkKey(lsn, FOOTER_CHUNK) })) {
    const n = chunkNumber(key);
    if (n !== expected) return { error: boxErrors.invalidXlog(`snapshot ${lsn}: chunk ${expected} is missing`) };
    expected++;
    const payload = openRecord('snapshotChunk', value);
    if (payload === null) return { error: boxErrors.invalidXlog(`snapshot ${lsn}: chunk ${n} checksum mismatch`) };
    const [spaceId, list] = new MpReader(payload).value() as [number, Tuple[]];
    assert(Array.isArray(list), 'snapshot chunk tuples');
    for (const t of list) Object.freeze(t);
    tuples += list.length;
    const last = images[images.length - 1];
    if (last !== undefined && last.spaceId === spaceId) pushAll(last.tuples as Tuple[], list);
    else images.push({ spaceId, tuples: list });
  }
  if (expected !== chunkCount || tuples !== tupleCount) {
    return { error: boxErrors.invalidXlog(`snapshot ${lsn}: ${expected}/${chunkCount} chunks, ${tuples}/${tupleCount} tuples`) };
  }
  return { images };
}
