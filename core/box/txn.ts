/**
 * Transactions. A statement applies to the indexes at once (memtx semantics: visible before the
 * WAL write finishes) and leaves a change record; the records are the transaction's undo log and
 * also its WAL rows. A failed statement undoes only its own records; rollback undoes all of
 * them, newest first.
 *
 * Readers never see half a transaction because a transaction cannot outlive the synchronous run
 * that opened it: Box aborts it on the first yield (await), as Tarantool 1.10 aborts a memtx
 * transaction whose fiber yields. Between begin and commit nothing else runs.
 */

import { assert } from '../lib/assert.ts';
import type { Key, Tuple } from './tuple.ts';

export type RowOp = 'insert' | 'replace' | 'delete' | 'truncate';

/** One change to one space: old -> new (null = absent). */
export interface Change {
  readonly spaceId: number;
  readonly op: RowOp;
  readonly old: Tuple | null;
  readonly new: Tuple | null;
  /** Undoes this change in memory (indexes, and schema for system spaces). */
  undo(): void;
  /** Primary key of the deleted tuple (delete rows). */
  readonly key: Key | null;
}

/** A committed row as the WAL and replication see it. */
export interface WalRow {
  readonly lsn: number;
  readonly spaceId: number;
  readonly op: RowOp;
  /** The new tuple (insert, replace). */
  readonly tuple?: Tuple;
  /** The primary key (delete). */
  readonly key?: Key;
}

export type TxnState = 'open' | 'submitted' | 'committed' | 'rolled_back';

/** Statements per transaction; Tarantool has no hard limit, this bounds a runaway loop. */
export const TXN_CHANGES_MAX = 10_000_000;

const NO_CHANGES: readonly Change[] = Object.freeze([]);

export class Txn {
  readonly id: number;
  /**
   * The change records, oldest first. Starts as a shared empty array and becomes a one-slot
   * literal on the first statement: an autocommit statement then allocates 1 slot, not the 16
   * a first push() reserves.
   */
  private list: Change[] | null = null;
  state: TxnState = 'open';
  /** LSN of the first row, assigned when the transaction is submitted to the WAL. */
  firstLsn = 0;
  /** True when a statement touched a system space (DDL): bumps the schema version. */
  ddl = false;

  constructor(id: number) {
    this.id = id;
  }

  get changes(): readonly Change[] {
    return this.list ?? NO_CHANGES;
  }

  push(change: Change): void {
    // The message is built only on failure: a closure per statement is not free.
    if (this.state !== 'open') assert(false, `change recorded in a ${this.state} transaction`);
    const list = this.list;
    if (list === null) {
      this.list = [change];
      return;
    }
    assert(list.length < TXN_CHANGES_MAX, 'transaction too large');
    list.push(change);
  }

  /** Position to roll a failed statement back to. */
  savepoint(): number {
    return this.changes.length;
  }

  /** Undoes changes made after `savepoint`, newest first. */
  rollbackTo(savepoint: number): void {
    assert(savepoint >= 0 && savepoint <= this.changes.length, 'savepoint out of range');
    const list = this.list;
    if (list === null) return;
    for (let i = list.length - 1; i >= savepoint; i--) list[i]!.undo();
    list.length = savepoint;
  }

  /** Undoes everything (rollback, or a failed WAL write). */
  undoAll(): void {
    for (let i = this.changes.length - 1; i >= 0; i--) this.changes[i]!.undo();
  }

  rows(): WalRow[] {
    assert(this.firstLsn > 0, 'rows of a transaction without an LSN');
    return this.changes.map((c, i) => rowOf(c, this.firstLsn + i));
  }
}

export function rowOf(c: Change, lsn: number): WalRow {
  if (c.op === 'delete') return { lsn, spaceId: c.spaceId, op: c.op, key: c.key! };
  if (c.op === 'truncate') return { lsn, spaceId: c.spaceId, op: c.op };
  return { lsn, spaceId: c.spaceId, op: c.op, tuple: c.new! };
}
