import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { DiskError, type Op } from '../../core/env/disk.ts';
import { Box, WAL_STORE } from '../../core/box/box.ts';
import { AppendLogStore } from '../../runtime-real/append-log.ts';
import { LmdbDisk } from '../../runtime-real/disk.ts';
import { captureLog } from '../box/helpers.ts';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'append-log-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** An 8-byte big-endian key, as the WAL's u64Key makes them. */
function key(n: number): Uint8Array {
  const k = new Uint8Array(8);
  new DataView(k.buffer).setUint32(4, n);
  return k;
}
const keyOf = (k: Uint8Array): number => new DataView(k.buffer, k.byteOffset, 8).getUint32(4);
const value = (n: number, bytes = 10): Buffer => Buffer.alloc(bytes, n & 0xff);
const put = (n: number, bytes = 10): Op => ({ kind: 'put', key: key(n), value: value(n, bytes) });
const del = (n: number): Op => ({ kind: 'delete', key: key(n) });
const delRange = (from: number, to: number): Op => ({ kind: 'deleteRange', from: key(from), to: key(to) });
const contents = (log: AppendLogStore): Array<[number, number]> => [...log.range()].map(([k, v]) => [keyOf(k), v[0]!]);
function segments(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.log')).sort();
}

describe('AppendLogStore', () => {
  it('reads back what it appended, in every range form, before and after a reopen', async () => {
    const dir = tempDir();
    const log = AppendLogStore.open('wal', dir);
    await log.write([put(1), put(2)], 'write');
    await log.write([put(5)], 'fsync');
    await log.write([put(7, 3000)], 'write');
    const check = (l: AppendLogStore): void => {
      expect(contents(l)).toEqual([[1, 1], [2, 2], [5, 5], [7, 7]]);
      expect([...l.range({ reverse: true })].map(([k]) => keyOf(k))).toEqual([7, 5, 2, 1]);
      expect([...l.range({ from: key(2), to: key(7) })].map(([k]) => keyOf(k))).toEqual([2, 5]);
      expect([...l.range({ from: key(3), limit: 1 })].map(([k]) => keyOf(k))).toEqual([5]);
      expect([...l.range({ reverse: true, limit: 1 })].map(([k]) => keyOf(k))).toEqual([7]);
      expect(l.get(key(7))).toEqual(value(7, 3000));
      expect(l.get(key(3))).toBeUndefined();
    };
    check(log);
    await log.close();
    const again = AppendLogStore.open('wal', dir);
    check(again);
    await again.close();
  });

  it('deletes a trimmed prefix and an undone newest key, and reuses that key', async () => {
    const dir = tempDir();
    const log = AppendLogStore.open('wal', dir);
    for (let i = 1; i <= 6; i++) await log.write([put(i)], 'write');
    await log.write([del(1), del(2), del(3)], 'write');
    await log.write([del(6)], 'write');
    await log.write([put(6, 4)], 'write');
    expect(contents(log)).toEqual([[4, 4], [5, 5], [6, 6]]);
    expect(log.get(key(6))).toEqual(value(6, 4));
    await log.close();
    const again = AppendLogStore.open('wal', dir);
    expect(contents(again)).toEqual([[4, 4], [5, 5], [6, 6]]);
    expect(again.get(key(6))).toEqual(value(6, 4));
    await again.close();
  });

  it('deletes ranges (a prefix, the middle, the newest keys) in one op each, across a reopen', async () => {
    const dir = tempDir();
    const log = AppendLogStore.open('wal', dir, { segmentBytesMax: 100 });
    for (let i = 1; i <= 20; i++) await log.write([put(i, 30)], 'write');
    const segmentsBefore = segments(dir).length;
    await log.write([delRange(0, 9)], 'write'); // 1..8: the trim a checkpoint makes
    expect(segments(dir).length).toBeLessThan(segmentsBefore); // their segments are dead
    await log.write([delRange(12, 14), delRange(30, 10)], 'write'); // a reversed range deletes nothing
    await log.write([delRange(19, 25)], 'write');
    await log.write([put(19, 5)], 'write'); // the newest key is free again
    const expected = [9, 10, 11, 14, 15, 16, 17, 18, 19];
    expect(contents(log).map(([k]) => k)).toEqual(expected);
    expect(log.get(key(12))).toBeUndefined();
    expect(log.get(key(19))).toEqual(value(19, 5));
    await log.close();
    const again = AppendLogStore.open('wal', dir, { segmentBytesMax: 100 });
    expect(contents(again).map(([k]) => k)).toEqual(expected);
    expect(again.get(key(19))).toEqual(value(19, 5));
    await again.close();
  });

  it('refuses a put that does not append, and keeps the log as it was', async () => {
    const dir = tempDir();
    const log = AppendLogStore.open('wal', dir);
    await log.write([put(5)], 'write');
    const sizeBefore = statSync(join(dir, segments(dir)[0]!)).size;
    await expect(log.write([put(5)], 'write')).rejects.toThrow(/not after the last one/);
    await expect(log.write([put(4)], 'write')).rejects.toBeInstanceOf(DiskError);
    await expect(log.write([put(7), put(6)], 'write')).rejects.toThrow(/not after the last one/);
    expect(statSync(join(dir, segments(dir)[0]!)).size).toBe(sizeBefore);
    expect(contents(log)).toEqual([[5, 5]]);
    await log.close();
  });

  it('cuts off a write torn by a crash at the end of the last segment, and appends after it', async () => {
    const dir = tempDir();
    const log = AppendLogStore.open('wal', dir);
    await log.write([put(1)], 'write');
    await log.write([put(2)], 'write');
    await log.close();
    const file = join(dir, segments(dir)[0]!);
    const whole = statSync(file).size;
    // The second frame loses its last bytes, as a write interrupted by a crash would.
    truncateSync(file, whole - 3);
    const again = AppendLogStore.open('wal', dir);
    expect(contents(again)).toEqual([[1, 1]]);
    await again.write([put(2, 12)], 'write');
    await again.close();
    const third = AppendLogStore.open('wal', dir);
    expect(contents(third)).toEqual([[1, 1], [2, 2]]);
    expect(third.get(key(2))).toEqual(value(2, 12));
    await third.close();
  });

  it('drops zeros a crash left after the last frame', async () => {
    const dir = tempDir();
    const log = AppendLogStore.open('wal', dir);
    await log.write([put(1)], 'write');
    await log.close();
    const file = join(dir, segments(dir)[0]!);
    const whole = statSync(file).size;
    appendFileSync(file, new Uint8Array(100));
    const again = AppendLogStore.open('wal', dir);
    expect(contents(again)).toEqual([[1, 1]]);
    expect(statSync(file).size).toBe(whole);
    await again.close();
  });

  it('rotates segments, removes the dead prefix of them, and replays across them', async () => {
    const dir = tempDir();
    const log = AppendLogStore.open('wal', dir, { segmentBytesMax: 200 });
    for (let i = 1; i <= 20; i++) await log.write([put(i, 60)], 'write');
    expect(log.segmentCount).toBeGreaterThan(5);
    expect(segments(dir).length).toBe(log.segmentCount);
    const before = log.segmentCount;
    await log.write(Array.from({ length: 15 }, (_, i) => del(i + 1)), 'write');
    expect(log.segmentCount).toBeLessThan(before);
    expect(segments(dir).length).toBe(log.segmentCount);
    await log.close();
    const again = AppendLogStore.open('wal', dir, { segmentBytesMax: 200 });
    expect(contents(again).map(([k]) => k)).toEqual([16, 17, 18, 19, 20]);
    await again.close();
  });

  it('fails to open, with EIO, when a frame with more frames after it is damaged in the last segment', async () => {
    const dir = tempDir();
    const log = AppendLogStore.open('wal', dir);
    for (let i = 1; i <= 3; i++) await log.write([put(i)], 'write');
    await log.close();
    const file = join(dir, segments(dir)[0]!);
    const bytes = readFileSync(file);
    bytes[14] = bytes[14]! ^ 0xff; // the first frame's header: frames 2 and 3 follow it
    writeFileSync(file, bytes);
    expect(() => AppendLogStore.open('wal', dir)).toThrow(/EIO: .*corrupt at byte 0/);
    expect(statSync(file).size).toBe(bytes.length);
  });

  it('fails to open, with EIO, when a segment before the last is damaged', async () => {
    const dir = tempDir();
    const log = AppendLogStore.open('wal', dir, { segmentBytesMax: 100 });
    for (let i = 1; i <= 6; i++) await log.write([put(i, 60)], 'write');
    await log.close();
    const first = join(dir, segments(dir)[0]!);
    const bytes = readFileSync(first);
    bytes[14] = bytes[14]! ^ 0xff; // inside the first frame's header: its checksum fails
    writeFileSync(first, bytes);
    expect(() => AppendLogStore.open('wal', dir, { segmentBytesMax: 100 })).toThrow(/EIO: .*corrupt/);
  });

  it('agrees with a sorted map under random appends, trims, range deletes, undos and reopens', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom<'append' | 'trim' | 'range' | 'undo' | 'reopen'>('append', 'trim', 'range', 'undo', 'reopen'), { maxLength: 60 }),
        fc.integer({ min: 1, max: 2000 }),
        async (steps, seed) => {
          const dir = tempDir();
          let log = AppendLogStore.open('wal', dir, { segmentBytesMax: 300 });
          const model = new Map<number, number>();
          let next = 1;
          let r = seed;
          const rand = (n: number): number => {
            r = (r * 1103515245 + 12345) % 2147483648;
            return r % n;
          };
          for (const step of steps) {
            const keys = [...model.keys()].sort((a, b) => a - b);
            if (step === 'append') {
              const n = 1 + rand(3);
              const ops: Op[] = [];
              for (let i = 0; i < n; i++) {
                const bytes = 1 + rand(90);
                ops.push(put(next, bytes));
                model.set(next, bytes);
                next++;
              }
              await log.write(ops, 'write');
            } else if (step === 'trim' && keys.length > 0) {
              const n = 1 + rand(keys.length);
              await log.write(keys.slice(0, n).map(del), 'write');
              for (const k of keys.slice(0, n)) model.delete(k);
            } else if (step === 'range') {
              // Any bounds, reversed and empty ranges included.
              const from = rand(next + 2);
              const to = rand(next + 2);
              await log.write([delRange(from, to)], 'write');
              for (const k of keys) if (k >= from && k < to) model.delete(k);
            } else if (step === 'undo' && keys.length > 0) {
              const newest = keys[keys.length - 1]!;
              await log.write([del(newest)], 'write');
              model.delete(newest);
              next = newest; // the key is put again next
            } else if (step === 'reopen') {
              await log.close();
              log = AppendLogStore.open('wal', dir, { segmentBytesMax: 300 });
            }
            const expected = [...model.entries()].sort((a, b) => a[0] - b[0]).map(([k, bytes]) => [k, k & 0xff, bytes]);
            expect([...log.range()].map(([k, v]) => [keyOf(k), v[0], v.length])).toEqual(expected);
          }
          await log.close();
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('AppendLogStore after a crash that tore the last write', () => {
  it('recovers exactly the writes that completed before the torn one', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 120 }), { minLength: 1, maxLength: 25 }), fc.nat(), async (sizes, cut) => {
        const dir = tempDir();
        const log = AppendLogStore.open('wal', dir, { segmentBytesMax: 400 });
        // The newest segment and its size after each write.
        const after: Array<{ segment: string; bytes: number }> = [];
        for (let i = 0; i < sizes.length; i++) {
          await log.write([put(i + 1, sizes[i])], 'write');
          const segment = segments(dir).at(-1)!;
          after.push({ segment, bytes: statSync(join(dir, segment)).size });
        }
        await log.close();
        // The crash leaves the last write partly on disk: anywhere from none of it to all but a byte.
        const { segment, bytes: whole } = after.at(-1)!;
        const file = join(dir, segment);
        const before = after.at(-2);
        const lastWriteBytes = before !== undefined && before.segment === segment ? whole - before.bytes : whole;
        const kept = whole - lastWriteBytes + (cut % lastWriteBytes);
        truncateSync(file, kept);
        const again = AppendLogStore.open('wal', dir, { segmentBytesMax: 400 });
        const expected = sizes.slice(0, -1).map((bytes, i) => [i + 1, (i + 1) & 0xff, bytes]);
        expect([...again.range()].map(([k, v]) => [keyOf(k), v[0], v.length])).toEqual(expected);
        // The log takes writes again where the torn one was cut off.
        await again.write([put(sizes.length, 7)], 'write');
        await again.close();
        const third = AppendLogStore.open('wal', dir, { segmentBytesMax: 400 });
        expect(third.size).toBe(sizes.length);
        await third.close();
      }),
      { numRuns: 80 },
    );
  });
});

describe('LmdbDisk with the WAL as an append-only log', () => {
  it('runs a box across reopens and checkpoints', async () => {
    const dir = tempDir();
    const log = captureLog();
    let disk = LmdbDisk.open(dir, { appendLogStores: [WAL_STORE] });
    let box = await Box.open({ disk, log, walMode: 'fsync' });
    const m = await box.createSpace('m');
    await m.createIndex('pk');
    for (let i = 0; i < 100; i++) await m.replace([i, `m${i}`]);
    await box.checkpoint();
    for (let i = 100; i < 150; i++) await m.replace([i, `m${i}`]);
    await m.delete([5]);
    await box.drain();
    await disk.close();
    disk = LmdbDisk.open(dir, { appendLogStores: [WAL_STORE] });
    box = await Box.open({ disk, log, walMode: 'fsync' });
    expect(box.space('m').len()).toBe(149);
    expect(box.space('m').get([120])).toEqual([120, 'm120']);
    expect(box.space('m').get([5])).toBeNull();
    expect(readdirSync(join(dir, `log-${WAL_STORE}`)).length).toBeGreaterThan(0);
    await disk.close();
  });

  it('moves a WAL an older version kept in LMDB into the log, once', async () => {
    const dir = tempDir();
    const log = captureLog();
    let disk = LmdbDisk.open(dir);
    let box = await Box.open({ disk, log, walMode: 'fsync', checkpointWalRowsMax: 0 });
    const m = await box.createSpace('m');
    await m.createIndex('pk');
    for (let i = 0; i < 30; i++) await m.replace([i, `old${i}`]);
    await box.drain();
    await disk.close();
    for (let round = 0; round < 2; round++) {
      disk = LmdbDisk.open(dir, { appendLogStores: [WAL_STORE] });
      box = await Box.open({ disk, log, walMode: 'fsync', checkpointWalRowsMax: 0 });
      expect(box.space('m').len()).toBe(30 + round);
      expect(box.space('m').get([29])).toEqual([29, 'old29']);
      await box.space('m').replace([100 + round, 'new']);
      await box.drain();
      await disk.close();
    }
    // Opened the old way again, LMDB holds no WAL any more: the records live in the log only.
    const plain = LmdbDisk.open(dir);
    const walInLmdb = await plain.open(WAL_STORE);
    expect([...walInLmdb.range()].length).toBe(0);
    await plain.close();
  });
});
