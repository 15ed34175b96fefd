/**
 * Checkpoints and the data they must never lose: a checkpoint trims the WAL it covers, so the
 * snapshot is then the only copy of those rows.
 */

import { describe, expect, it } from 'vitest';
import { Box } from '../../core/box/box.ts';
import { DiskError, type Disk, type Durability, type Op, type RangeOptions, type Store } from '../../core/env/disk.ts';
import { captureLog, MemoryDisk } from './helpers.ts';

/** A MemoryDisk whose `snap` store can be made to fail its next write with EIO. */
class FlakySnapDisk implements Disk {
  readonly inner = new MemoryDisk();
  failNextSnapWrite = false;
  async open(name: string): Promise<Store> {
    const store = await this.inner.open(name);
    if (name !== 'snap') return store;
    const disk = this;
    return {
      name,
      get: (key: Uint8Array) => store.get(key),
      range: (options?: RangeOptions) => store.range(options),
      write(ops: readonly Op[], durability: Durability): Promise<void> {
        if (disk.failNextSnapWrite) {
          disk.failNextSnapWrite = false;
          return Promise.reject(new DiskError('EIO', 'injected'));
        }
        return store.write(ops, durability);
      },
      sync: () => store.sync(),
    };
  }
  list(): Promise<string[]> {
    return this.inner.list();
  }
  destroy(name: string): Promise<void> {
    return this.inner.destroy(name);
  }
}

async function boxWithRows(disk: Disk, rows: number): Promise<Box> {
  const box = await Box.open({ disk, log: captureLog(), walMode: 'fsync', checkpointWalRowsMax: 0 });
  const space = await box.createSpace('t');
  await space.createIndex('pk');
  for (let i = 1; i <= rows; i++) await space.replace([i, `v${i}`]);
  return box;
}

async function rowsAfterReopen(disk: Disk): Promise<number> {
  const box = await Box.open({ disk, log: captureLog(), walMode: 'fsync', checkpointWalRowsMax: 0 });
  return box.hasSpace('t') ? box.space('t').select([], { iterator: 'ALL' }).length : 0;
}

describe('box checkpoints', () => {
  it('with nothing written since the last snapshot, writes nothing (a failure then cannot delete that snapshot)', async () => {
    const disk = new FlakySnapDisk();
    const box = await boxWithRows(disk, 5);
    const lsn = await box.checkpoint();
    disk.failNextSnapWrite = true;
    // Rewriting the snapshot at the same LSN failed, and its cleanup deleted the only copy of
    // rows whose WAL was trimmed: a restart came up empty.
    expect(await box.checkpoint()).toBe(lsn);
    expect(disk.failNextSnapWrite).toBe(true); // no write was attempted
    expect(await rowsAfterReopen(disk)).toBe(5);
  });

  it('that fail leave the previous snapshot and the WAL after it', async () => {
    const disk = new FlakySnapDisk();
    const box = await boxWithRows(disk, 5);
    await box.checkpoint();
    for (let i = 6; i <= 8; i++) await box.space('t').replace([i, `v${i}`]);
    disk.failNextSnapWrite = true;
    await expect(box.checkpoint()).rejects.toThrow(/EIO/);
    expect(await rowsAfterReopen(disk)).toBe(8);
  });
});
