/**
 * A Store kept as an append-only log of files, for stores written the way a write-ahead log is:
 * every put appends a key greater than any live key; deletes may remove any key or range of keys
 * (in practice a prefix when a checkpoint trims the log, or the newest key when a failed write is
 * undone).
 *
 * Why not LMDB for these: an LMDB commit rewrites the B-tree path and free-list pages and the meta
 * page, ~6 pwrites and ~19 µs of CPU per commit on this machine, where appending the same record
 * to a file is one write of ~3 µs (bench/box and bench:peers' replace lines pay it per WAL group
 * commit). Tarantool's xlogs are append-only files for the same reason.
 *
 * Layout: a directory of segments `<seq>.log` (seq = 16 hex digits, increasing). Each `write`
 * appends one frame holding the whole batch, so a batch is atomic:
 *   u32 headerBytes | u32 valueBytes | u32 crc32c(header) | header | values
 *   header = u32 opCount, then per op: u8 kind (1 put, 2 delete, 3 range delete), u16 keyBytes,
 *            key, then for a put u32 valueBytes (the values follow the header in op order), for
 *            a range delete u16 toBytes, to (the key is the range's inclusive start, `to` its
 *            exclusive end).
 * Only the header is checksummed (it holds the structure and the keys); values are checksummed
 * by the layer that stores them, as for every Store (core/env/disk.ts).
 *
 * The live keys and where their values are stay in memory; values are read from the files.
 * Opening replays every segment in order. At the end of the last segment, a frame that runs past
 * the end of the file, or zeros, are what a crash leaves of an interrupted write: the segment is
 * truncated there (that write was never acknowledged). Any other bad frame is damage, and open
 * fails with EIO rather than drop the frames after it.
 * A segment is removed once it and every older segment hold no live key (a delete is recorded in
 * a later frame than its put, so removing a dead prefix of segments never loses a delete that
 * still matters).
 */

import { closeSync, fdatasync, fdatasyncSync, fstatSync, ftruncateSync, mkdirSync, openSync, readdirSync, readSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DiskError, type Durability, type Op, type RangeOptions, type Store } from '../core/env/disk.ts';
import { assert } from '../core/lib/assert.ts';
import { crc32c } from '../core/lib/crc32c.ts';
import { LogIndex } from './append-log-index.ts';
import { GroupedSync } from './grouped-sync.ts';

/** A segment stops taking frames past this size (one frame may overshoot it). */
export const SEGMENT_BYTES_MAX_DEFAULT = 64 * 1024 * 1024;

export interface AppendLogOptions {
  readonly segmentBytesMax?: number;
}
const FRAME_PREFIX_BYTES = 12;
const KIND_PUT = 1;
const KIND_DELETE = 2;
const KIND_DELETE_RANGE = 3;
const KEY_BYTES_MAX = 0xffff;

interface Segment {
  readonly seq: number;
  readonly path: string;
  fd: number;
  bytes: number;
  /** Live keys whose values are in this segment. */
  live: number;
}

/** Where a value is: `length` bytes at `offset` of `segment`. */
interface ValuePlace {
  readonly segment: Segment;
  readonly offset: number;
  readonly length: number;
}

function ioError(error: unknown, what: string): DiskError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const text = error instanceof Error ? error.message : String(error);
  return new DiskError(code === 'ENOSPC' || code === 'EDQUOT' ? 'ENOSPC' : 'EIO', `${what}: ${text}`);
}

function segmentName(seq: number): string {
  return `${seq.toString(16).padStart(16, '0')}.log`;
}

export class AppendLogStore implements Store {
  readonly name: string;
  private readonly dir: string;
  /** Oldest first; the last one takes the appends. */
  private readonly segments: Segment[] = [];
  /** The segments by seq, for the index's positions. */
  private readonly segmentsBySeq = new Map<number, Segment>();
  /** Live keys in order and where their values are. */
  private readonly index = new LogIndex();
  private closed = false;
  private readonly syncs = new GroupedSync(() => this.runSync());

  private readonly segmentBytesMax: number;

  private constructor(name: string, dir: string, segmentBytesMax: number) {
    assert(Number.isInteger(segmentBytesMax) && segmentBytesMax > 0, 'segment size');
    this.name = name;
    this.dir = dir;
    this.segmentBytesMax = segmentBytesMax;
  }

  /** Opens (creating if missing) the log in directory `dir`, replaying its segments. */
  static open(name: string, dir: string, options: AppendLogOptions = {}): AppendLogStore {
    const store = new AppendLogStore(name, dir, options.segmentBytesMax ?? SEGMENT_BYTES_MAX_DEFAULT);
    try {
      mkdirSync(dir, { recursive: true });
      const seqs = readdirSync(dir)
        .filter((f) => /^[0-9a-f]{16}\.log$/.test(f))
        .map((f) => parseInt(f.slice(0, 16), 16))
        .sort((a, b) => a - b);
      for (let i = 0; i < seqs.length; i++) store.replaySegment(seqs[i]!, i === seqs.length - 1);
      if (store.segments.length === 0) {
        // A new log: its file and directory entries must survive power loss as its fsyncs do.
        store.startSegment(1);
        syncDirectory(dir);
        syncDirectory(dirname(dir));
      }
      store.dropDeadSegments();
    } catch (error) {
      store.closeFiles();
      throw error instanceof DiskError ? error : ioError(error, `open log ${name}`);
    }
    return store;
  }

  /** Removes the log's directory and everything in it. */
  static destroy(dir: string): void {
    rmSync(dir, { recursive: true, force: true });
  }

  get(key: Uint8Array): Uint8Array | undefined {
    this.checkOpen();
    const i = this.index.find(key);
    return i >= 0 ? this.readValue(this.placeAt(i)) : undefined;
  }

  *range(options: RangeOptions = {}): Iterable<[Uint8Array, Uint8Array]> {
    this.checkOpen();
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    const from = options.from === undefined ? this.index.first : this.index.lowerBound(options.from);
    const to = options.to === undefined ? this.index.end : this.index.lowerBound(options.to);
    // Positions move when the log is written, so the span's keys and places are taken now and
    // the values read as the caller iterates.
    const span: Array<{ key: Uint8Array; at: ValuePlace }> = [];
    const count = Math.min(Math.max(0, to - from), limit);
    for (let n = 0; n < count; n++) {
      const i = options.reverse ? to - 1 - n : from + n;
      span.push({ key: this.index.keyAt(i), at: this.placeAt(i) });
    }
    for (const { key, at } of span) yield [key, this.readValue(at)];
  }

  write(ops: readonly Op[], durability: Durability): Promise<void> {
    try {
      this.checkOpen();
      this.append(ops);
    } catch (error) {
      return Promise.reject(error instanceof DiskError ? error : ioError(error, `write to ${this.name}`));
    }
    return durability === 'fsync' ? this.sync() : Promise.resolve();
  }

  /** fdatasync of the segment taking appends, grouped (runtime-real/grouped-sync.ts). */
  sync(): Promise<void> {
    if (this.closed) return Promise.reject(new DiskError('ECLOSED', `the log ${this.name} is closed`));
    return this.syncs.request();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.sync().catch(() => undefined);
    this.closed = true;
    this.closeFiles();
  }

  /** The newest live key, if any. */
  lastKey(): Uint8Array | undefined {
    return this.index.size > 0 ? this.index.keyAt(this.index.end - 1) : undefined;
  }

  /** Live keys (for tests and invariant checks). */
  get size(): number {
    return this.index.size;
  }

  /** Segment files in use (for tests). */
  get segmentCount(): number {
    return this.segments.length;
  }

  private runSync(): Promise<void> {
    const fd = this.active().fd;
    return new Promise((resolve, reject) => fdatasync(fd, (error) => (error ? reject(ioError(error, `fsync ${this.name}`)) : resolve())));
  }

  private checkOpen(): void {
    if (this.closed) throw new DiskError('ECLOSED', `the log ${this.name} is closed`);
  }

  private active(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  // --- appending ---

  private append(ops: readonly Op[]): void {
    if (ops.length === 0) return;
    this.checkAppendable(ops);
    if (this.active().bytes >= this.segmentBytesMax) this.rotate();
    const segment = this.active();
    const frame = encodeFrame(ops);
    const start = segment.bytes;
    try {
      let written = 0;
      while (written < frame.bytes.length) written += writeSync(segment.fd, frame.bytes, written, frame.bytes.length - written, start + written);
    } catch (error) {
      this.undoPartialAppend(segment, start);
      throw ioError(error, `write to ${this.name}`);
    }
    segment.bytes = start + frame.bytes.length;
    this.apply(ops, segment, start + frame.valuesOffset);
  }

  /**
   * A batch is all puts (each key after the previous one and after every live key) or all deletes
   * (of keys or ranges): the two ways a write-ahead log is written, and what keeps the order
   * checks this simple.
   */
  private checkAppendable(ops: readonly Op[]): void {
    const puts = ops[0]!.kind === 'put';
    let previous: Uint8Array | null = null;
    for (const op of ops) {
      assert((op.kind === 'put') === puts, 'an append-only log batch is all puts or all deletes');
      if (op.kind === 'deleteRange') {
        assert(op.from.length <= KEY_BYTES_MAX && op.to.length <= KEY_BYTES_MAX, 'log range key too long');
        continue;
      }
      assert(op.key.length <= KEY_BYTES_MAX, 'log key too long');
      if (op.kind === 'delete') continue;
      // The first put against the newest live key (compared in place: this runs per commit).
      const after = previous !== null ? Buffer.compare(op.key, previous) > 0 : this.index.size === 0 || this.index.compareAt(this.index.end - 1, op.key) < 0;
      if (!after) throw new DiskError('EIO', `append-only log ${this.name}: put of a key not after the last one`);
      previous = op.key;
    }
  }

  /** A failed write may have left part of the frame: cut it off, or stop taking writes. */
  private undoPartialAppend(segment: Segment, size: number): void {
    try {
      ftruncateSync(segment.fd, size);
    } catch {
      this.closed = true;
      this.closeFiles();
    }
  }

  private rotate(): void {
    const old = this.active();
    // The old segment's frames must reach the disk before any frame of the new one can.
    fdatasyncSync(old.fd);
    this.startSegment(old.seq + 1);
    syncDirectory(this.dir);
  }

  private startSegment(seq: number): void {
    const path = join(this.dir, segmentName(seq));
    const fd = openSync(path, 'a+');
    this.addSegment({ seq, path, fd, bytes: fstatSync(fd).size, live: 0 });
  }

  private addSegment(segment: Segment): void {
    this.segments.push(segment);
    this.segmentsBySeq.set(segment.seq, segment);
  }

  // --- the in-memory index ---

  /** Applies a frame's ops to the index; its values start at `valuesAt` of `segment`. */
  private apply(ops: readonly Op[], segment: Segment, valuesAt: number): void {
    let offset = valuesAt;
    for (const op of ops) {
      if (op.kind === 'put') {
        this.index.push(op.key, segment.seq, offset, op.value.length);
        segment.live++;
        offset += op.value.length;
      } else if (op.kind === 'delete') {
        this.remove(op.key);
      } else {
        this.removeRange(op.from, op.to);
      }
    }
    this.dropDeadSegments();
  }

  /** Removes the live keys k with from <= k < to: no per-key allocation, whatever their number. */
  private removeRange(from: Uint8Array, to: Uint8Array): void {
    const first = this.index.lowerBound(from);
    const end = this.index.lowerBound(to);
    if (end <= first) return;
    let segment: Segment | undefined;
    for (let i = first; i < end; i++) {
      const seq = this.index.seqAt(i);
      if (segment === undefined || segment.seq !== seq) segment = this.segmentsBySeq.get(seq)!;
      segment.live--;
      assert(segment.live >= 0, 'segment live count below zero');
    }
    this.index.removeRange(first, end);
  }

  private remove(key: Uint8Array): void {
    const i = this.index.find(key);
    if (i < 0) return;
    const segment = this.segmentsBySeq.get(this.index.seqAt(i))!;
    segment.live--;
    assert(segment.live >= 0, 'segment live count below zero');
    this.index.remove(i);
  }

  private dropDeadSegments(): void {
    while (this.segments.length > 1 && this.segments[0]!.live === 0) {
      const dead = this.segments.shift()!;
      this.segmentsBySeq.delete(dead.seq);
      closeSync(dead.fd);
      unlinkSync(dead.path);
    }
  }

  private placeAt(i: number): ValuePlace {
    return { segment: this.segmentsBySeq.get(this.index.seqAt(i))!, offset: this.index.offsetAt(i), length: this.index.lengthAt(i) };
  }

  private readValue({ segment, offset, length }: ValuePlace): Uint8Array {
    const value = Buffer.allocUnsafe(length);
    try {
      if (readFully(segment.fd, value, offset) < length) throw new Error(`segment ${segment.path} ends inside a value`);
    } catch (error) {
      throw ioError(error, `read from ${this.name}`);
    }
    return value;
  }

  // --- opening ---

  private replaySegment(seq: number, last: boolean): void {
    const path = join(this.dir, segmentName(seq));
    const fd = openSync(path, 'r+');
    const segment: Segment = { seq, path, fd, bytes: 0, live: 0 };
    this.addSegment(segment);
    const data = Buffer.allocUnsafe(fstatSync(fd).size);
    const read = readFully(fd, data, 0);
    let at = 0;
    while (at < read) {
      const frame = decodeFrame(data, at, read);
      if (frame === null) {
        if (!last || !isTornTail(data, at, read)) throw new DiskError('EIO', `log ${this.name}: segment ${path} is corrupt at byte ${at}`);
        ftruncateSync(fd, at); // the write a crash interrupted
        break;
      }
      this.apply(frame.ops, segment, at + frame.valuesOffset);
      at = frame.end;
    }
    segment.bytes = at;
  }

  private closeFiles(): void {
    for (const segment of this.segments) {
      try {
        closeSync(segment.fd);
      } catch {
        // already closed
      }
    }
  }
}

/** Reads into all of `buffer` from `position` of `fd`; returns the bytes read (fewer at end of file). */
function readFully(fd: number, buffer: Buffer, position: number): number {
  let read = 0;
  while (read < buffer.length) {
    const n = readSync(fd, buffer, read, buffer.length - read, position + read);
    if (n === 0) break;
    read += n;
  }
  return read;
}

/** Makes the directory's entries (a created file) durable. */
function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

interface EncodedFrame {
  readonly bytes: Buffer;
  /** Where the values start, from the frame's first byte. */
  readonly valuesOffset: number;
}

function encodeFrame(ops: readonly Op[]): EncodedFrame {
  let headerBytes = 4;
  let valueBytes = 0;
  for (const op of ops) {
    if (op.kind === 'deleteRange') {
      headerBytes += 1 + 2 + op.from.length + 2 + op.to.length;
      continue;
    }
    headerBytes += 1 + 2 + op.key.length;
    if (op.kind === 'put') {
      headerBytes += 4;
      valueBytes += op.value.length;
    }
  }
  const bytes = Buffer.allocUnsafe(FRAME_PREFIX_BYTES + headerBytes + valueBytes);
  let at = FRAME_PREFIX_BYTES;
  bytes.writeUInt32BE(ops.length, at);
  at += 4;
  for (const op of ops) {
    if (op.kind === 'deleteRange') {
      bytes[at++] = KIND_DELETE_RANGE;
      at = writeKey(bytes, at, op.from);
      at = writeKey(bytes, at, op.to);
      continue;
    }
    bytes[at++] = op.kind === 'put' ? KIND_PUT : KIND_DELETE;
    at = writeKey(bytes, at, op.key);
    if (op.kind === 'put') {
      bytes.writeUInt32BE(op.value.length, at);
      at += 4;
    }
  }
  for (const op of ops) {
    if (op.kind !== 'put') continue;
    bytes.set(op.value, at);
    at += op.value.length;
  }
  bytes.writeUInt32BE(headerBytes, 0);
  bytes.writeUInt32BE(valueBytes, 4);
  bytes.writeUInt32BE(crc32c(bytes, FRAME_PREFIX_BYTES, FRAME_PREFIX_BYTES + headerBytes), 8);
  return { bytes, valuesOffset: FRAME_PREFIX_BYTES + headerBytes };
}

/** Writes `u16 length, key` at `at`; returns the offset past it. */
function writeKey(bytes: Buffer, at: number, key: Uint8Array): number {
  bytes.writeUInt16BE(key.length, at);
  bytes.set(key, at + 2);
  return at + 2 + key.length;
}

/**
 * Whether the bad frame at `at` is what a crash leaves of the last write: the frame's own length
 * fields reach past the end of the file (a prefix of it was written), or only zeros follow (the
 * file grew but its blocks were never written). A frame that fails its checksum with more of the
 * file after it is damage, and the frames after it may hold acknowledged writes.
 */
function isTornTail(data: Buffer, at: number, size: number): boolean {
  if (at + FRAME_PREFIX_BYTES > size) return true;
  const declaredEnd = at + FRAME_PREFIX_BYTES + data.readUInt32BE(at) + data.readUInt32BE(at + 4);
  if (declaredEnd >= size) return true;
  for (let i = at; i < size; i++) if (data[i] !== 0) return false;
  return true;
}

interface DecodedFrame {
  readonly ops: Op[];
  /** Where the values start, from the frame's first byte. */
  readonly valuesOffset: number;
  /** Offset just past the frame in the segment. */
  readonly end: number;
}

/** The frame at `at` of `data` (valid up to `size`), or null when it is torn or damaged. */
function decodeFrame(data: Buffer, at: number, size: number): DecodedFrame | null {
  if (at + FRAME_PREFIX_BYTES > size) return null;
  const headerBytes = data.readUInt32BE(at);
  const valueBytes = data.readUInt32BE(at + 4);
  const headerStart = at + FRAME_PREFIX_BYTES;
  const end = headerStart + headerBytes + valueBytes;
  if (headerBytes < 4 || end > size) return null;
  if (crc32c(data, headerStart, headerStart + headerBytes) !== data.readUInt32BE(at + 8)) return null;
  const headerEnd = headerStart + headerBytes;
  const count = data.readUInt32BE(headerStart);
  const ops: Op[] = [];
  let p = headerStart + 4;
  let valueAt = headerEnd;
  for (let i = 0; i < count; i++) {
    if (p + 3 > headerEnd) return null;
    const kind = data[p]!;
    const keyBytes = data.readUInt16BE(p + 1);
    p += 3;
    if (p + keyBytes > headerEnd) return null;
    // A view: the index copies the key bytes it keeps, and replay drops the frame's ops.
    const key = data.subarray(p, p + keyBytes);
    p += keyBytes;
    if (kind === KIND_DELETE) {
      ops.push({ kind: 'delete', key });
      continue;
    }
    if (kind === KIND_DELETE_RANGE) {
      if (p + 2 > headerEnd) return null;
      const toBytes = data.readUInt16BE(p);
      p += 2;
      if (p + toBytes > headerEnd) return null;
      ops.push({ kind: 'deleteRange', from: key, to: data.subarray(p, p + toBytes) });
      p += toBytes;
      continue;
    }
    if (kind !== KIND_PUT || p + 4 > headerEnd) return null;
    const length = data.readUInt32BE(p);
    p += 4;
    if (valueAt + length > end) return null;
    // Replay only needs the value's length and place; the bytes stay in the file.
    ops.push({ kind: 'put', key, value: data.subarray(valueAt, valueAt + length) });
    valueAt += length;
  }
  if (p !== headerEnd || valueAt !== end) return null;
  return { ops, valuesOffset: headerBytes + FRAME_PREFIX_BYTES, end };
}
