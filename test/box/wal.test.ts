/**
 * The WAL writer's counters (WalStats, read by /metrics): rows, transactions, group commits,
 * bytes and syncs count only what reached the WAL mode's durability; pending rows are the ones
 * submitted and not yet there; write durations are timed with the box's Clock. The WAL store is
 * gated so the test decides when each write becomes durable and what the clock says meanwhile.
 */

import { describe, expect, it } from 'vitest';
import { Box, WAL_STORE } from '../../core/box/box.ts';
import { WAL_WRITE_DURATION_BUCKETS_MS, type WalMode, type WalStats } from '../../core/box/wal.ts';
import type { Clock } from '../../core/env/clock.ts';
import { DiskError, type Disk, type Durability, type Op, type RangeOptions, type Store } from '../../core/env/disk.ts';
import { captureLog, MemoryDisk } from './helpers.ts';

/** A store whose writes, while `gated`, apply at once but become durable only on `release()`. */
class GatedStore implements Store {
  gated = false;
  failNext = false;
  private held: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  private readonly inner: Store;
  constructor(inner: Store) {
    this.inner = inner;
  }
  get name(): string {
    return this.inner.name;
  }
  get(key: Uint8Array): Uint8Array | undefined {
    return this.inner.get(key);
  }
  range(options?: RangeOptions): Iterable<[Uint8Array, Uint8Array]> {
    return this.inner.range(options);
  }
  write(ops: readonly Op[], durability: Durability): Promise<void> {
    if (this.failNext) {
      this.failNext = false;
      return Promise.reject(new DiskError('EIO', 'injected'));
    }
    const written = this.inner.write(ops, durability);
    if (!this.gated) return written;
    return new Promise((resolve, reject) => this.held.push({ resolve, reject }));
  }
  sync(): Promise<void> {
    return this.inner.sync();
  }
  get heldWrites(): number {
    return this.held.length;
  }
  /** Makes the oldest held write durable. */
  releaseOne(): void {
    const held = this.held.shift();
    expect(held).toBeDefined();
    held!.resolve();
  }
  /** Fails the oldest held write with EIO. */
  failOne(): void {
    const held = this.held.shift();
    expect(held).toBeDefined();
    held!.reject(new DiskError('EIO', 'injected'));
  }
}

class GatedDisk implements Disk {
  private readonly inner = new MemoryDisk();
  wal: GatedStore | null = null;
  async open(name: string): Promise<Store> {
    const store = await this.inner.open(name);
    if (name !== WAL_STORE) return store;
    this.wal = new GatedStore(store);
    return this.wal;
  }
  list(): Promise<string[]> {
    return this.inner.list();
  }
  destroy(name: string): Promise<void> {
    return this.inner.destroy(name);
  }
}

/** A clock the test moves by hand; the box reads it (and sleeps no time on it). */
class ManualClock implements Clock {
  timeMs = 1000;
  nowMs(): number {
    return this.timeMs;
  }
  wallMs(): number {
    return this.timeMs;
  }
  after(): () => void {
    throw new Error('the box sets no timers');
  }
  sleep(): Promise<void> {
    return Promise.resolve(); // a checkpoint pauses between snapshot chunks; no time passes here
  }
}

async function openBox(walMode: WalMode): Promise<{ box: Box; disk: GatedDisk; clock: ManualClock }> {
  const disk = new GatedDisk();
  const clock = new ManualClock();
  const box = await Box.open({ disk, log: captureLog(), clock, walMode });
  const space = await box.createSpace('test');
  await space.createIndex('pk');
  return { box, disk, clock };
}

/** The counters at one moment (the duration histogram copied: the live one keeps counting). */
function snapshot(stats: Readonly<WalStats>): Omit<WalStats, 'writeDurationMs'> & { writeDurationCount: number; writeDurationSumMs: number; writeDurationBuckets: number[] } {
  const d = stats.writeDurationMs;
  return { ...stats, writeDurationCount: d.count, writeDurationSumMs: d.sum, writeDurationBuckets: [...d.buckets] };
}

/** Lets the WAL's microtask flush run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

describe('WAL counters', () => {
  it('fsync mode: one group commit counts its rows, transactions, bytes, one sync and its duration', async () => {
    const { box, disk, clock } = await openBox('fsync');
    const before = snapshot(box.walStats);
    expect(before.batchesWritten).toBeGreaterThan(0); // bootstrap and the DDL above
    expect(box.walPendingRows).toBe(0);
    disk.wal!.gated = true;
    const space = box.space('test');
    // Three autocommit statements and a two-row transaction in one synchronous run: one record.
    const writes: Array<Promise<unknown>> = [space.insert([1]), space.insert([2]), space.insert([3])];
    box.begin();
    writes.push(space.insert([4]), space.insert([5]));
    writes.push(box.commit());
    await settle();
    expect(disk.wal!.heldWrites).toBe(1);
    expect(box.walPendingRows).toBe(5);
    expect(box.walStats.rowsWritten).toBe(before.rowsWritten);
    clock.timeMs += 3;
    disk.wal!.releaseOne();
    await Promise.all(writes);
    const after = snapshot(box.walStats);
    expect(box.walPendingRows).toBe(0);
    expect(after.rowsWritten - before.rowsWritten).toBe(5);
    expect(after.transactionsWritten - before.transactionsWritten).toBe(4);
    expect(after.batchesWritten - before.batchesWritten).toBe(1);
    expect(after.syncs - before.syncs).toBe(1);
    expect(after.bytesWritten - before.bytesWritten).toBeGreaterThan(8 + 5 * 2);
    expect(after.writeErrors).toBe(0);
    expect(after.writeDurationCount - before.writeDurationCount).toBe(1);
    expect(after.writeDurationSumMs - before.writeDurationSumMs).toBe(3);
    const bucket = WAL_WRITE_DURATION_BUCKETS_MS.findIndex((le) => 3 <= le);
    expect(WAL_WRITE_DURATION_BUCKETS_MS[bucket]).toBe(5);
    expect(after.writeDurationBuckets[bucket]! - before.writeDurationBuckets[bucket]!).toBe(1);
  });

  it('rows submitted while a write is in flight stay pending until their own record is durable', async () => {
    const { box, disk, clock } = await openBox('fsync');
    const before = snapshot(box.walStats);
    disk.wal!.gated = true;
    const space = box.space('test');
    const first = space.insert([1]);
    await settle();
    const second = [space.insert([2]), space.insert([3])];
    await settle();
    expect(disk.wal!.heldWrites).toBe(1); // one write in flight at a time
    expect(box.walPendingRows).toBe(3);
    clock.timeMs += 20;
    disk.wal!.releaseOne();
    await first;
    await settle();
    expect(box.walPendingRows).toBe(2);
    expect(box.walStats.rowsWritten - before.rowsWritten).toBe(1);
    expect(disk.wal!.heldWrites).toBe(1);
    disk.wal!.releaseOne();
    await Promise.all(second);
    expect(box.walPendingRows).toBe(0);
    expect(box.walStats.rowsWritten - before.rowsWritten).toBe(3);
    expect(box.walStats.batchesWritten - before.batchesWritten).toBe(2);
    expect(box.walStats.writeDurationMs.sum - before.writeDurationSumMs).toBe(20);
  });

  it('a failed write counts an error and no rows, and leaves nothing pending', async () => {
    const { box, disk } = await openBox('write');
    const before = snapshot(box.walStats);
    disk.wal!.failNext = true;
    await expect(box.space('test').insert([1])).rejects.toMatchObject({ code: expect.any(Number) });
    await box.space('test').insert([2]); // after the cleanup, writes succeed again
    expect(box.walStats.writeErrors - before.writeErrors).toBe(1);
    expect(box.walStats.rowsWritten - before.rowsWritten).toBe(1);
    expect(box.walPendingRows).toBe(0);
    expect(box.space('test').select([])).toEqual([[2]]);
  });

  it('a failed cleanup fails what queued behind it and gives its LSNs back: a checkpoint then finishes', async () => {
    const { box, disk } = await openBox('write');
    const space = box.space('test');
    await space.insert([1]);
    disk.wal!.gated = true; // the cleanup's delete will be held
    disk.wal!.failNext = true;
    await expect(space.insert([2])).rejects.toMatchObject({ code: expect.any(Number) });
    expect(disk.wal!.heldWrites).toBe(1);
    const queued = space.insert([3]); // waits behind the cleanup
    await settle();
    disk.wal!.failOne(); // the cleanup fails: the WAL is broken until restart
    await expect(queued).rejects.toMatchObject({ code: expect.any(Number) });
    expect(box.walPendingRows).toBe(0);
    disk.wal!.gated = false;
    // It waited forever for LSN 3, which the broken WAL would never write.
    await box.checkpoint();
    expect(space.select([])).toEqual([[1]]);
  });

  it('write mode counts records but no syncs; none mode writes nothing', async () => {
    const write = await openBox('write');
    const beforeWrite = snapshot(write.box.walStats);
    await write.box.space('test').insert([1]);
    expect(write.box.walStats.batchesWritten - beforeWrite.batchesWritten).toBe(1);
    expect(write.box.walStats.syncs).toBe(0);
    const none = await openBox('none');
    await none.box.space('test').insert([1]);
    expect(none.box.walStats.rowsWritten).toBe(0);
    expect(none.box.walStats.batchesWritten).toBe(0);
    expect(none.box.walStats.writeDurationMs.count).toBe(0);
    expect(none.box.walPendingRows).toBe(0);
  });
});
