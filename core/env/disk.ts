/**
 * What a node persists: named ordered key-value stores with atomic batches and an explicit
 * durability point. Maps one-to-one onto LMDB (one named database per store).
 *
 * Keys and values are bytes; keys sort lexicographically by byte. The store does not checksum
 * values: every layer that persists records must checksum them itself (see core/lib/crc32c.ts),
 * because stored bytes can rot.
 */

export type DiskErrorCode =
  | 'EIO' // the device failed this read or write
  | 'ENOSPC' // no space left; the batch was not applied
  | 'ECLOSED'; // the store was closed (or its process crashed)

export class DiskError extends Error {
  override readonly name = 'DiskError';
  readonly code: DiskErrorCode;
  constructor(code: DiskErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.code = code;
  }
}

/**
 * `deleteRange` removes every key k with from <= k < to (bytewise), as one op however many keys it
 * covers: trimming a write-ahead log up to a checkpoint is a range, and a delete per record made a
 * million-row trim allocate a million ops and write them all out.
 */
export type Op =
  | { readonly kind: 'put'; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly kind: 'delete'; readonly key: Uint8Array }
  | { readonly kind: 'deleteRange'; readonly from: Uint8Array; readonly to: Uint8Array };

/**
 * - `none`: kept in the process; lost if the process dies.
 * - `write`: handed to the OS; survives a process crash, may be lost on power loss.
 * - `fsync`: on stable storage; survives power loss.
 * A crash never reorders: what survives is a prefix of the batches in write order.
 */
export type Durability = 'none' | 'write' | 'fsync';

export interface RangeOptions {
  /** Inclusive lower bound; omitted = from the first key. */
  readonly from?: Uint8Array;
  /** Exclusive upper bound; omitted = to the last key. */
  readonly to?: Uint8Array;
  readonly reverse?: boolean;
  readonly limit?: number;
}

export interface Store {
  readonly name: string;
  /** Throws DiskError (EIO, ECLOSED). */
  get(key: Uint8Array): Uint8Array | undefined;
  /** Entries in key order (or reverse). Throws DiskError (EIO, ECLOSED) while iterating. */
  range(options?: RangeOptions): Iterable<[key: Uint8Array, value: Uint8Array]>;
  /**
   * Applies the batch atomically. It is visible to `get`/`range` before `write` returns; the
   * promise settles once it reached `durability`. Rejects with DiskError (EIO, ENOSPC, ECLOSED);
   * on ENOSPC and on a synchronous EIO nothing of the batch was applied.
   * Ownership of the op buffers passes to the store.
   */
  write(ops: readonly Op[], durability: Durability): Promise<void>;
  /** Resolves when every earlier write is on stable storage. */
  sync(): Promise<void>;
}

export interface Disk {
  /** Opens (creating if missing) the named store. */
  open(name: string): Promise<Store>;
  /** Names of existing stores. */
  list(): Promise<string[]>;
  /** Removes a store and its data (used to wipe a data directory). */
  destroy(name: string): Promise<void>;
}
