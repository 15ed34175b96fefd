/**
 * A WAL record that fails its checksum is corruption, never a torn tail (stores write batches
 * atomically): recovery refuses to open the box and leaves the WAL as it found it, unless
 * `forceRecovery` asks to start from the last good record (Tarantool's force_recovery).
 */

import { describe, expect, it } from 'vitest';
import { Box, SNAP_STORE, WAL_STORE } from '../../core/box/box.ts';
import { BoxError, ErrorCode } from '../../core/box/errors.ts';
import { captureLog, MemoryDisk } from './helpers.ts';

/** A box with three one-row transactions in three WAL records, then a bit flipped in one record. */
async function corruptedDisk(record: 'last' | 'middle'): Promise<{ disk: MemoryDisk; keys: Uint8Array[] }> {
  const disk = new MemoryDisk();
  const box = await Box.open({ disk, log: captureLog(), walMode: 'fsync', checkpointWalRowsMax: 0 });
  const space = await box.createSpace('t');
  await space.createIndex('pk');
  for (let i = 1; i <= 3; i++) await space.replace([i, `v${i}`]);
  const wal = await disk.open(WAL_STORE);
  const entries = [...wal.range()];
  const [key, value] = entries[record === 'last' ? entries.length - 1 : entries.length - 2]!;
  const rotten = value.slice();
  rotten[rotten.length - 1]! ^= 0x01;
  await wal.write([{ kind: 'put', key, value: rotten }], 'fsync');
  return { disk, keys: entries.map(([k]) => k) };
}

describe('box recovery and a corrupt WAL record', () => {
  for (const record of ['last', 'middle'] as const) {
    it(`refuses to open when the ${record} record is corrupt, and deletes nothing`, async () => {
      const { disk, keys } = await corruptedDisk(record);
      const log = captureLog();
      const opened = await Box.open({ disk, log, walMode: 'fsync' }).then(
        () => null,
        (error: unknown) => error,
      );
      expect(opened).toBeInstanceOf(BoxError);
      expect((opened as BoxError).code).toBe(ErrorCode.ER_INVALID_XLOG);
      expect((opened as BoxError).message).toMatch(/^Invalid xlog: WAL record at LSN \d+: checksum mismatch$/);
      expect(log.lines.some((l) => l.message.startsWith('WAL is corrupt, refusing to recover past it'))).toBe(true);
      const wal = await disk.open(WAL_STORE);
      expect([...wal.range()].map(([k]) => k)).toEqual(keys);
    });
  }

  it('with forceRecovery, starts from the last good record and reports what it dropped', async () => {
    const { disk } = await corruptedDisk('middle');
    const box = await Box.open({ disk, log: captureLog(), walMode: 'fsync', forceRecovery: true });
    expect(box.recoveryProblems.map((p) => p.code)).toEqual([ErrorCode.ER_INVALID_XLOG]);
    const space = box.space('t');
    expect(space.get([1])).toEqual([1, 'v1']);
    // The rotten record (row 2) and the one after it (row 3) are gone, and new writes continue.
    expect(space.get([2])).toBeNull();
    expect(space.get([3])).toBeNull();
    await space.replace([4, 'v4']);
    expect(space.get([4])).toEqual([4, 'v4']);
  });
});

describe('box recovery and a corrupt snapshot', () => {
  /** A box checkpointed after three rows (the WAL trimmed to it), then a bit flipped in its snapshot. */
  async function rottenSnapshot(rowsAfter: number): Promise<MemoryDisk> {
    const disk = new MemoryDisk();
    const box = await Box.open({ disk, log: captureLog(), walMode: 'fsync', checkpointWalRowsMax: 0 });
    const space = await box.createSpace('t');
    await space.createIndex('pk');
    for (let i = 1; i <= 3; i++) await space.replace([i, `v${i}`]);
    await box.checkpoint();
    for (let i = 4; i < 4 + rowsAfter; i++) await space.replace([i, `v${i}`]);
    const snap = await disk.open(SNAP_STORE);
    const [key, value] = [...snap.range()][0]!;
    const rotten = value.slice();
    rotten[rotten.length - 1]! ^= 0x01;
    await snap.write([{ kind: 'put', key, value: rotten }], 'fsync');
    return disk;
  }

  for (const rowsAfter of [0, 2]) {
    it(`refuses to open when the only snapshot rotted and the WAL was trimmed to it (${rowsAfter} rows after it)`, async () => {
      // Starting from nothing plus the WAL would lose the rows the snapshot held, silently.
      const disk = await rottenSnapshot(rowsAfter);
      const opened = await Box.open({ disk, log: captureLog(), walMode: 'fsync' }).then(
        () => null,
        (error: unknown) => error,
      );
      expect(opened).toBeInstanceOf(BoxError);
      expect((opened as BoxError).code).toBe(ErrorCode.ER_MISSING_SNAPSHOT);
      expect((opened as BoxError).message).toMatch(/snapshot \d+: chunk 0 checksum mismatch/);
    });
  }
});

describe('box recovery of a long WAL', () => {
  it('replays more separately written transactions than a call takes arguments (no spread of the WAL spans)', async () => {
    // Each awaited write is a WAL record of its own; V8 overflows the stack spreading ~120k
    // arguments, which is what a restart after that many requests without a checkpoint did.
    const disk = new MemoryDisk();
    const box = await Box.open({ disk, log: captureLog(), walMode: 'write', checkpointWalRowsMax: 0 });
    const s = await box.createSpace('t');
    await s.createIndex('pk');
    const writes = 150_000;
    for (let i = 0; i < writes; i++) await s.replace([i % 1000, i]);
    await box.drain();
    const again = await Box.open({ disk, log: captureLog(), walMode: 'write', checkpointWalRowsMax: 0 });
    expect(again.space('t').len()).toBe(1000);
    expect(again.space('t').get([999])).toEqual([999, writes - 1]);
  }, 60_000);
});
