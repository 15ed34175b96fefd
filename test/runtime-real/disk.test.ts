import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LmdbDisk } from '../../runtime-real/disk.ts';
import { Box } from '../../core/box/box.ts';
import { captureLog } from '../box/helpers.ts';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'box-lmdb-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const b = (...xs: number[]): Uint8Array => Uint8Array.from(xs);

describe('LmdbDisk', () => {
  it('writes atomically, reads back after reopen, keeps byte order in both directions', async () => {
    const dir = tempDir();
    const disk = LmdbDisk.open(dir);
    const store = await disk.open('s');
    await store.write([{ kind: 'put', key: b(2), value: b(20) }, { kind: 'put', key: b(1), value: b(10) }, { kind: 'put', key: b(1, 5), value: b(15) }, { kind: 'put', key: b(3), value: b(30) }], 'fsync');
    expect(store.get(b(1))).toEqual(Buffer.from([10]));
    await store.write([{ kind: 'delete', key: b(3) }], 'write');
    await store.write([{ kind: 'put', key: b(4), value: b(40) }, { kind: 'put', key: b(4, 1), value: b(41) }, { kind: 'put', key: b(5), value: b(50) }], 'write');
    // [4, 5) holds 4 and 4,1; a reversed range deletes nothing.
    await store.write([{ kind: 'deleteRange', from: b(4), to: b(5) }, { kind: 'deleteRange', from: b(9), to: b(1) }], 'write');
    expect(store.get(b(4, 1))).toBeUndefined();
    await store.write([{ kind: 'deleteRange', from: b(5), to: b(6) }], 'write');
    await disk.close();
    const again = LmdbDisk.open(dir);
    expect(await again.list()).toEqual(['s']);
    const s2 = await again.open('s');
    const keys = (o: Parameters<typeof s2.range>[0]) => [...s2.range(o)].map(([k]) => [...k]);
    expect(keys({})).toEqual([[1], [1, 5], [2]]);
    expect(keys({ reverse: true })).toEqual([[2], [1, 5], [1]]);
    expect(keys({ from: b(1, 5), to: b(2) })).toEqual([[1, 5]]);
    expect(keys({ from: b(1), to: b(2), reverse: true })).toEqual([[1, 5], [1]]);
    expect(keys({ from: b(1), reverse: true, limit: 1 })).toEqual([[2]]);
    expect(s2.get(b(3))).toBeUndefined();
    await again.destroy('s');
    expect(await again.list()).toEqual([]);
    await again.close();
  });

  it('groups concurrent fsyncs and settles every promise', async () => {
    const disk = LmdbDisk.open(tempDir());
    const store = await disk.open('w');
    const writes = Array.from({ length: 50 }, (_, i) => store.write([{ kind: 'put', key: b(i), value: b(i) }], 'fsync'));
    await Promise.all(writes);
    expect([...store.range()].length).toBe(50);
    await disk.close();
  });

  it('runs a box: memtx and vinyl survive a reopen', async () => {
    const dir = tempDir();
    const log = captureLog();
    let disk = LmdbDisk.open(dir);
    let box = await Box.open({ disk, log, walMode: 'fsync' });
    const m = await box.createSpace('m');
    await m.createIndex('pk');
    const v = await box.createSpace('v', { engine: 'vinyl' });
    await v.createIndex('pk');
    for (let i = 0; i < 100; i++) await Promise.all([m.replace([i, `m${i}`]), v.replace([i, `v${i}`])]);
    await box.checkpoint();
    await m.delete([5]);
    await box.drain();
    await disk.close();
    disk = LmdbDisk.open(dir);
    box = await Box.open({ disk, log, walMode: 'fsync' });
    expect(box.space('m').len()).toBe(99);
    expect(box.space('v').len()).toBe(100);
    expect(box.space('v').get([42])).toEqual([42, 'v42']);
    expect(box.space('v').select([90], { iterator: 'GE' }).length).toBe(10);
    await disk.close();
  });
});
