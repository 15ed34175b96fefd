import { assert } from '../core/lib/assert.ts';
import { BTreeMap } from '../core/lib/btree.ts';
import { compareBytes, toHex } from '../core/lib/bytes.ts';
import { DiskError, type Disk, type Durability, type Op, type RangeOptions, type Store } from '../core/env/disk.ts';
import type { SimRandom } from './random.ts';
import type { EventOwner, Scheduler } from './scheduler.ts';
import type { Trace } from './trace.ts';

/**
 * The simulated disk of one host. It outlives the processes that run on the host: a restarted
 * process opens the same stores and finds what survived the crash.
 *
 * Model: each store has a visible state (what reads see) and a list of batches written since the
 * last durable point, each with an undo log. A crash rolls back the batches that did not survive:
 * - process crash: batches up to the last one written with `write`/`fsync` survive (the OS has
 *   them); trailing `none` batches are lost;
 * - power loss: a random prefix of the not-yet-fsynced batches survives (the OS may have flushed
 *   some of them), never a reordering.
 * Faults (all seeded): EIO on reads and writes, ENOSPC above a capacity, latency, and bit rot,
 * which flips a bit of a stored value so that the layer above must catch it by checksum.
 */

export interface DiskFaults {
  /** Probability that one `get`/range step fails with EIO (a transient latent sector error). */
  readonly readErrorRate: number;
  /** Probability that one `write` fails with EIO; nothing of the batch is applied. */
  readonly writeErrorRate: number;
  /** Probability that an fsync fails with EIO; the unsynced batches stay at risk. */
  readonly fsyncErrorRate: number;
  /** Probability that a written value is stored with one flipped bit (misdirected/rotten write). */
  readonly rotOnWriteRate: number;
  /** Total key+value bytes the disk holds before writes fail with ENOSPC. */
  readonly capacityBytes: number;
  /** Latency of a `write`-durability batch reaching the OS. */
  readonly writeLatencyMs: number;
  /** Minimum and mean (exponential) fsync latency. */
  readonly fsyncLatencyMsMin: number;
  readonly fsyncLatencyMsMean: number;
}

export const NO_DISK_FAULTS: DiskFaults = {
  readErrorRate: 0,
  writeErrorRate: 0,
  fsyncErrorRate: 0,
  rotOnWriteRate: 0,
  capacityBytes: Number.MAX_SAFE_INTEGER,
  writeLatencyMs: 0.01,
  fsyncLatencyMsMin: 0.5,
  fsyncLatencyMsMean: 1,
};

export type CrashKind = 'process' | 'power';

interface Batch {
  /** Prior values of the touched keys (undefined = absent), to roll the batch back. */
  readonly undo: Array<[Uint8Array, Uint8Array | undefined]>;
  /** Reached the OS: survives a process crash. */
  written: boolean;
  /** When it reached the OS (virtual ms); the OS writes it back on its own after a while. */
  writtenAtMs: number;
  /** Position in the store's write order; an fsync covers every batch up to the one it saw last. */
  readonly seq: number;
}

/** The OS writes dirty data back by itself after this long (Linux dirty_expire is 30 s). */
const OS_WRITEBACK_MS = 30_000;
/** Trace code of a crash's rollback (0-5 are destroy, read, write, ENOSPC, fsync, wipe). */
const TRACE_CODE_CRASH = 6;

interface Owned {
  readonly owner: EventOwner;
  readonly hostId: number;
}

export class SimDisk {
  readonly hostId: number;
  private readonly stores = new Map<string, SimStoreData>();
  private readonly scheduler: Scheduler;
  private readonly random: SimRandom;
  private readonly trace: Trace;
  faults: DiskFaults;
  usedBytes = 0;
  /** Time the device is busy with fsyncs until; fsyncs queue behind each other. */
  private fsyncBusyUntilMs = 0;

  constructor(hostId: number, scheduler: Scheduler, random: SimRandom, trace: Trace, faults: DiskFaults) {
    this.hostId = hostId;
    this.scheduler = scheduler;
    this.random = random;
    this.trace = trace;
    this.faults = faults;
  }

  /** The Disk interface handed to one process incarnation. */
  forProcess(owner: EventOwner): Disk {
    const owned: Owned = { owner, hostId: this.hostId };
    return {
      open: async (name) => {
        this.checkAlive(owned);
        return new SimStore(this, this.data(name), owned);
      },
      list: async () => {
        this.checkAlive(owned);
        return [...this.stores.keys()].filter((n) => this.stores.get(n)!.entries.size > 0 || this.stores.get(n)!.opened).sort();
      },
      destroy: async (name) => {
        this.checkAlive(owned);
        const data = this.stores.get(name);
        if (data === undefined) return;
        for (const [k, v] of data.entries) this.usedBytes -= k.length + v.length;
        this.stores.delete(name);
        this.traceOp(0, `destroy ${name}`);
      },
    };
  }

  private data(name: string): SimStoreData {
    let data = this.stores.get(name);
    if (data === undefined) {
      data = new SimStoreData(name);
      this.stores.set(name, data);
    }
    data.opened = true;
    return data;
  }

  checkAlive(owned: Owned): void {
    if (!owned.owner.alive) throw new DiskError('ECLOSED', 'the process that opened this store has exited');
  }

  /** Rolls back what the crash loses. Called by the host when its process dies. */
  crash(kind: CrashKind): void {
    for (const data of this.stores.values()) {
      const keep = this.survivingBatches(data, kind);
      for (let i = data.batches.length - 1; i >= keep; i--) this.rollBack(data, data.batches[i]!);
      // After a power loss what survived is on the platters; after a process crash the surviving
      // batches sit in the OS page cache, still at risk until written back.
      data.batches.length = kind === 'power' ? 0 : keep;
      this.traceOp(TRACE_CODE_CRASH, `crash ${kind} ${data.name} kept ${keep}`);
    }
    this.fsyncBusyUntilMs = this.scheduler.nowMs;
  }

  private survivingBatches(data: SimStoreData, kind: CrashKind): number {
    const n = data.batches.length;
    if (kind === 'process') {
      let keep = 0;
      for (let i = 0; i < n; i++) if (data.batches[i]!.written) keep = i + 1;
      return keep;
    }
    return n === 0 ? 0 : this.random.int(n + 1);
  }

  private rollBack(data: SimStoreData, batch: Batch): void {
    for (let i = batch.undo.length - 1; i >= 0; i--) {
      const [key, prior] = batch.undo[i]!;
      const current = data.entries.get(key);
      if (current !== undefined) this.usedBytes -= key.length + current.length;
      if (prior === undefined) data.entries.delete(key);
      else {
        data.entries.set(key, prior);
        this.usedBytes += key.length + prior.length;
      }
    }
  }

  /** Erases every store, as an operator wiping a data directory would (host must be down). */
  wipe(): void {
    for (const data of this.stores.values()) for (const [k, v] of data.entries) this.usedBytes -= k.length + v.length;
    this.stores.clear();
    this.traceOp(5, 'wipe');
  }

  /** Flips one bit of a random stored value (a fault the scenario can inject at any moment). */
  rotRandomValue(): string | null {
    const names = [...this.stores.keys()].filter((n) => this.stores.get(n)!.entries.size > 0).sort();
    if (names.length === 0) return null;
    const data = this.stores.get(this.random.pick(names))!;
    const skip = this.random.int(data.entries.size);
    let i = 0;
    for (const [key, value] of data.entries) {
      if (i++ < skip) continue;
      if (value.length === 0) return null;
      data.entries.set(key, this.flipBit(value));
      return `${data.name}/${toHex(key)}`;
    }
    return null;
  }

  flipBit(value: Uint8Array): Uint8Array {
    const copy = value.slice();
    const bit = this.random.int(copy.length * 8);
    copy[bit >> 3] = copy[bit >> 3]! ^ (1 << (bit & 7));
    return copy;
  }

  // --- operations, called by SimStore ---------------------------------------------------------

  read(owned: Owned, storeName: string): void {
    this.checkAlive(owned);
    if (this.random.chance(this.faults.readErrorRate)) {
      this.traceOp(1, `read EIO ${storeName}`);
      throw new DiskError('EIO', `read error in store ${storeName}`);
    }
  }

  write(owned: Owned, data: SimStoreData, ops: readonly Op[], durability: Durability): Promise<void> {
    this.checkAlive(owned);
    if (this.random.chance(this.faults.writeErrorRate)) {
      this.traceOp(2, `write EIO ${data.name}`);
      return Promise.reject(new DiskError('EIO', `write error in store ${data.name}`));
    }
    const growthBytes = this.growth(data, ops);
    if (this.usedBytes + growthBytes > this.faults.capacityBytes) {
      this.traceOp(3, `ENOSPC ${data.name}`);
      return Promise.reject(new DiskError('ENOSPC', `no space left on device (store ${data.name})`));
    }
    this.osWriteback(data);
    const batch = this.apply(data, ops);
    this.trace.event('disk', this.scheduler.nowMs, this.hostId, ops.length);
    if (durability === 'none') return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.scheduler.after(this.faults.writeLatencyMs, () => {
        batch.written = true;
        batch.writtenAtMs = this.scheduler.nowMs;
        if (durability === 'write') return resolve();
        this.fsync(owned, data.name).then(resolve, reject);
      }, owned.owner);
    });
  }

  private growth(data: SimStoreData, ops: readonly Op[]): number {
    let bytes = 0;
    for (const op of ops) {
      if (op.kind === 'deleteRange') {
        for (const [key, value] of rangeEntries(data, op.from, op.to)) bytes -= key.length + value.length;
        continue;
      }
      const prior = data.entries.get(op.key);
      if (prior !== undefined) bytes -= op.key.length + prior.length;
      if (op.kind === 'put') bytes += op.key.length + op.value.length;
    }
    return bytes;
  }

  private apply(data: SimStoreData, ops: readonly Op[]): Batch {
    const batch: Batch = { undo: [], written: false, writtenAtMs: 0, seq: ++data.lastSeq };
    for (const op of ops) {
      if (op.kind === 'deleteRange') {
        for (const [key, prior] of rangeEntries(data, op.from, op.to)) {
          batch.undo.push([key, prior]);
          this.usedBytes -= key.length + prior.length;
          data.entries.delete(key);
        }
        continue;
      }
      const prior = data.entries.get(op.key);
      batch.undo.push([op.key, prior]);
      if (prior !== undefined) this.usedBytes -= op.key.length + prior.length;
      if (op.kind === 'put') {
        const stored = this.random.chance(this.faults.rotOnWriteRate) && op.value.length > 0 ? this.flipBit(op.value) : op.value;
        data.entries.set(op.key, stored);
        this.usedBytes += op.key.length + stored.length;
      } else {
        data.entries.delete(op.key);
      }
    }
    data.batches.push(batch);
    return batch;
  }

  /** Old batches that reached the OS become durable without an fsync, as the kernel flushes them. */
  private osWriteback(data: SimStoreData): void {
    const horizonMs = this.scheduler.nowMs - OS_WRITEBACK_MS;
    let n = 0;
    while (n < data.batches.length && data.batches[n]!.written && data.batches[n]!.writtenAtMs <= horizonMs) n++;
    if (n > 0) data.batches.splice(0, n);
  }

  /**
   * Makes every batch written before this call durable once the device finishes. Calls made
   * while an fsync is in flight queue behind it (and so share the next one: group commit).
   */
  fsync(owned: Owned, storeName: string): Promise<void> {
    this.checkAlive(owned);
    const data = this.stores.get(storeName);
    // Batches can leave the front of the list meanwhile (OS writeback), so remember a position
    // in the write order, not a count.
    const coveredSeq = data === undefined ? 0 : data.lastSeq;
    const startMs = Math.max(this.scheduler.nowMs, this.fsyncBusyUntilMs);
    const latencyMs = this.faults.fsyncLatencyMsMin + this.random.exponential(this.faults.fsyncLatencyMsMean);
    this.fsyncBusyUntilMs = startMs + latencyMs;
    const fails = this.random.chance(this.faults.fsyncErrorRate);
    return new Promise<void>((resolve, reject) => {
      this.scheduler.schedule(this.fsyncBusyUntilMs, () => {
        if (fails) {
          this.traceOp(4, `fsync EIO ${storeName}`);
          return reject(new DiskError('EIO', `fsync failed for store ${storeName}`));
        }
        if (data !== undefined) {
          // Batches up to `coveredSeq` are durable now; they can no longer be rolled back.
          let n = 0;
          while (n < data.batches.length && data.batches[n]!.seq <= coveredSeq) n++;
          data.batches.splice(0, n);
          assert(data.batches.every((b) => b.seq > coveredSeq), 'batches must stay in write order');
        }
        resolve();
      }, owned.owner);
    });
  }

  /** A disk event's trace node is `hostId * 16 + code` (the report recovers the host from it). */
  private traceOp(code: number, text: string): void {
    assert(code >= 0 && code < 16, `disk trace code ${code} out of range`);
    this.trace.eventText('disk', this.scheduler.nowMs, this.hostId * 16 + code, text);
  }
}

/** The entries with from <= key < to, copied out (the caller may delete them). */
function rangeEntries(data: SimStoreData, from: Uint8Array, to: Uint8Array): Array<[Uint8Array, Uint8Array]> {
  if (compareBytes(from, to) >= 0) return [];
  return [...data.entries.entries({ from, to })];
}

class SimStoreData {
  readonly name: string;
  readonly entries = new BTreeMap<Uint8Array, Uint8Array>(compareBytes);
  /** Batches since the last durable point, oldest first. */
  readonly batches: Batch[] = [];
  /** Sequence number of the last batch written. */
  lastSeq = 0;
  opened = false;

  constructor(name: string) {
    this.name = name;
  }
}

class SimStore implements Store {
  private readonly disk: SimDisk;
  private readonly data: SimStoreData;
  private readonly owned: Owned;

  constructor(disk: SimDisk, data: SimStoreData, owned: Owned) {
    this.disk = disk;
    this.data = data;
    this.owned = owned;
  }

  get name(): string {
    return this.data.name;
  }

  get(key: Uint8Array): Uint8Array | undefined {
    this.disk.read(this.owned, this.data.name);
    return this.data.entries.get(key);
  }

  *range(options: RangeOptions = {}): Iterable<[Uint8Array, Uint8Array]> {
    this.disk.read(this.owned, this.data.name);
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    let count = 0;
    const bounds = {
      ...(options.from !== undefined ? { from: options.from } : {}),
      ...(options.to !== undefined ? { to: options.to } : {}),
      reverse: options.reverse ?? false,
    };
    // Snapshot the range first: callers may write while iterating, which the tree forbids.
    const entries: Array<[Uint8Array, Uint8Array]> = [];
    for (const entry of this.data.entries.entries(bounds)) {
      if (count++ >= limit) break;
      entries.push(entry);
    }
    for (const entry of entries) {
      this.disk.checkAlive(this.owned);
      yield entry;
    }
  }

  write(ops: readonly Op[], durability: Durability): Promise<void> {
    return this.disk.write(this.owned, this.data, ops, durability);
  }

  sync(): Promise<void> {
    return this.disk.fsync(this.owned, this.data.name);
  }
}
