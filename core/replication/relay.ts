/**
 * The master's side of replication: replicas pull (core/replication/applier.ts), the master
 * answers from its WAL. Pulling rather than pushing keeps the master stateless about its
 * replicas: every request says where the replica is (its vclock, and a cursor into this
 * master's WAL), so a replica that restarts, or a master that fails over, needs no handshake.
 *
 * `.proc_replication_fetch(vclock, cursor_lsn, rows_max, wait_ms, origin)`:
 *   the committed transactions after `cursor_lsn` in this instance's WAL that the replica's
 *   `vclock` does not hold, as `{cursor, master_lsn, txns: [[origin, seq, last_lsn, rows]], spaces}` with
 *   rows `[space_name, op, body]` (iproto op codes: 3 replace, 5 delete, 100 truncate) and the
 *   definitions of the spaces they touch. With nothing to send it waits up to `wait_ms` for a
 *   commit. Answers `{resync: reason}` when the replica cannot catch up from the WAL:
 *   - the rows it needs were trimmed by a checkpoint (they live only in a snapshot);
 *   - it holds transactions this instance lacks (it was ahead of this master on some origin,
 *     or this master lost a WAL tail it had already sent);
 *   - the transactions to send include a copy this instance took of its own master (a copy is
 *     the state of many transactions at once, and cannot be sent as them).
 * `.proc_replication_copy_begin()` -> `{cursor, vclock, spaces}` and
 * `.proc_replication_copy_page(space, after_key, rows_max)` -> `{tuples, done}`: a replica's
 * whole copy (see applier.ts for why a copy taken while writes go on converges).
 *
 * A transaction's tag (core/replication/vclock.ts): its `_vclock` row when it was applied from
 * another origin, else this instance's raft id and its first LSN.
 */

import type { Box } from '../box/box.ts';
import type { MpObject, MpValue } from '../codec/msgpack.ts';
import type { Node } from '../node/node.ts';
import type { DecodedRow, WalBatch } from '../box/wal-record.ts';
import { ProcError, str, uint } from '../rpc/proc-error.ts';
import type { Proc } from '../rpc/proc.ts';
import { isReplicatedSpace, replicatedSpaceNames, spaceDefValue } from './space-defs.ts';
import { COPY_KEY, originOf, readCopiedAt, readVclock, REPLICA_STATE_SPACE, VCLOCK_SPACE } from './state-spaces.ts';
import { dominates, holds, vclockFromValue, vclockToValue, type TxnTag, type Vclock } from './vclock.ts';
import { probe } from '../lib/probe.ts';

export const PROC_REPLICATION_FETCH = '.proc_replication_fetch';
export const PROC_REPLICATION_COPY_BEGIN = '.proc_replication_copy_begin';
export const PROC_REPLICATION_COPY_PAGE = '.proc_replication_copy_page';

/** Bounds one fetch reply and one copy page, whatever the replica asks for. */
export const FETCH_ROWS_MAX = 10_000;
export const FETCH_WAIT_MS_MAX = 10_000;

export const OP_REPLACE = 3;
export const OP_DELETE = 5;
export const OP_TRUNCATE = 100;

type OutRow = [string, number, MpValue];
type OutTxn = [number, number, number, OutRow[]];

export type FetchReply =
  | { readonly kind: 'txns'; readonly cursor: number; readonly masterLsn: number; readonly txns: OutTxn[]; readonly spaces: MpObject }
  | { readonly kind: 'resync'; readonly reason: string };

/** This instance's origin id (its raft id in its epoch, state-spaces.ts), or 0 before it has a raft id. */
export function selfOrigin(node: Node): number {
  return originOf(node.box, node.identity?.raftId ?? 0);
}

/** Why a replica at (`vclock`, `cursor`) cannot catch up from this WAL, or null when it can. */
function resyncReason(box: Box, own: Vclock, ownOrigin: number, requester: number, vclock: Vclock, cursor: number): string | null {
  if (box.walMode === 'none') throw new ProcError('replication needs a WAL: this instance runs with wal_mode none');
  if (cursor + 1 < box.walOldestLsn()) return `the rows after LSN ${cursor} were trimmed by a checkpoint`;
  for (const [origin, seq] of vclock) {
    if (origin === requester) continue;
    const have = origin === ownOrigin ? box.committedLsn : (own.get(origin) ?? 0);
    if (seq > have) return `the replica holds transactions of origin ${origin} up to ${seq}, this instance only up to ${have}`;
  }
  return null;
}

/** Splits a record's rows after `afterLsn` into transactions. */
function transactions(batch: WalBatch, afterLsn: number): DecodedRow[][] {
  const out: DecodedRow[][] = [];
  let txn: DecodedRow[] = [];
  for (const row of batch.rows) {
    txn.push(row);
    if (!row.txnEnd) continue;
    // Cursors sit between transactions: one that starts at or before `afterLsn` was sent whole.
    if (txn[0]!.lsn > afterLsn) out.push(txn);
    txn = [];
  }
  return out;
}

/** What one WAL transaction is to a replica. */
type Classified = { readonly kind: 'data'; readonly tag: TxnTag; readonly rows: OutRow[] } | { readonly kind: 'copy'; readonly vclock: Vclock } | { readonly kind: 'none' };

function classify(box: Box, ownOrigin: number, txn: readonly DecodedRow[]): Classified {
  let tag: TxnTag = { origin: ownOrigin, seq: txn[0]!.lsn };
  const rows: OutRow[] = [];
  for (const row of txn) {
    if (!box.hasSpace(row.spaceId)) continue; // dropped since: nothing to replicate
    const def = box.schema.space(row.spaceId).def;
    if (def.name === VCLOCK_SPACE && row.tuple !== undefined) {
      tag = { origin: row.tuple[0] as number, seq: row.tuple[1] as number };
    } else if (def.name === REPLICA_STATE_SPACE && row.tuple?.[0] === COPY_KEY) {
      return { kind: 'copy', vclock: vclockFromValue(row.tuple[1] ?? null) ?? new Map() };
    } else if (isReplicatedSpace(def)) {
      if (row.op === 'delete') rows.push([def.name, OP_DELETE, row.key as MpValue]);
      else if (row.op === 'truncate') rows.push([def.name, OP_TRUNCATE, null]);
      else rows.push([def.name, OP_REPLACE, row.tuple as MpValue]);
    }
  }
  return rows.length === 0 || tag.origin === 0 ? { kind: 'none' } : { kind: 'data', tag, rows };
}

/** One fetch, without waiting: the transactions after `cursor` the replica lacks. */
export function collect(node: Node, vclock: Vclock, cursor: number, rowsMax: number, requester: number): FetchReply {
  const box = node.box;
  const ownOrigin = selfOrigin(node);
  if (cursor > box.committedLsn) cursor = 0; // another incarnation's cursor, or a lost tail: rescan
  // What precedes this instance's last copy is not its history: a replica that does not hold
  // the copied state gets a copy itself, one that does starts after it.
  const copiedAt = readCopiedAt(box);
  if (copiedAt !== null && cursor < copiedAt.lsn) {
    if (!dominates(vclock, copiedAt.vclock)) {
      probe('replication.relay.copy_in_wal');
      return { kind: 'resync', reason: 'the replica needs rows this instance holds only as a copy of its own master' };
    }
    cursor = copiedAt.lsn;
  }
  const reason = resyncReason(box, readVclock(box, ownOrigin), ownOrigin, requester, vclock, cursor);
  if (reason !== null) return { kind: 'resync', reason };
  const txns: OutTxn[] = [];
  const spaces: MpObject = {};
  let rows = 0;
  let reached = cursor;
  for (const batch of box.readCommitted(cursor, rowsMax)) {
    for (const txn of transactions(batch, reached)) {
      const c = classify(box, ownOrigin, txn);
      if (c.kind === 'copy') {
        if (dominates(vclock, c.vclock)) continue;
        probe('replication.relay.copy_in_wal');
        return { kind: 'resync', reason: 'the replica needs rows this instance holds only as a copy of its own master' };
      }
      if (c.kind === 'none' || holds(vclock, c.tag)) continue;
      const lastLsn = txn[txn.length - 1]!.lsn;
      txns.push([c.tag.origin, c.tag.seq, lastLsn, c.rows]);
      for (const [name] of c.rows) spaces[name] ??= spaceDefValue(box, name);
      rows += c.rows.length;
    }
    reached = batch.firstLsn + batch.rows.length - 1;
    if (rows >= rowsMax) break;
  }
  return { kind: 'txns', cursor: reached, masterLsn: box.committedLsn, txns, spaces };
}

/** Resolves at the next commit, or after `waitMs`. */
function nextCommit(node: Node, waitMs: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      unsubscribe();
      cancel();
      resolve();
    };
    const unsubscribe = node.box.onCommit(done);
    const cancel = node.env.clock.after(waitMs, done);
  });
}

function replyValue(reply: FetchReply): MpValue[] {
  if (reply.kind === 'resync') return [{ resync: reply.reason }];
  return [{ cursor: reply.cursor, master_lsn: reply.masterLsn, txns: reply.txns as MpValue, spaces: reply.spaces }];
}

export const fetchProc: Proc = {
  name: PROC_REPLICATION_FETCH,
  async handle(node, args) {
    const vclock = vclockFromValue(args[0] ?? null);
    if (vclock === null) throw new ProcError('vclock must be a map of origin to seq');
    const cursor = uint(args[1] ?? null, 'cursor_lsn');
    const rowsMax = Math.min(FETCH_ROWS_MAX, Math.max(1, uint(args[2] ?? null, 'rows_max')));
    const waitMs = Math.min(FETCH_WAIT_MS_MAX, uint(args[3] ?? null, 'wait_ms'));
    const requester = uint(args[4] ?? null, 'origin');
    // The replica sends its cursor only once everything up to it is durable there.
    if (requester > 0 && cursor <= node.box.committedLsn) node.replicaAcks?.ack(requester, cursor);
    let reply = collect(node, vclock, cursor, rowsMax, requester);
    if (reply.kind === 'txns' && reply.txns.length === 0 && reply.cursor >= node.box.committedLsn && waitMs > 0) {
      await nextCommit(node, waitMs);
      reply = collect(node, vclock, reply.cursor, rowsMax, requester);
    }
    return replyValue(reply);
  },
};

export const copyBeginProc: Proc = {
  name: PROC_REPLICATION_COPY_BEGIN,
  async handle(node) {
    const box = node.box;
    if (box.walMode === 'none') throw new ProcError('replication needs a WAL: this instance runs with wal_mode none');
    // The clock is read in the same synchronous run as the LSN, so it is the state at that LSN;
    // the copy starts once that LSN is durable (every page then shows that state or a later one).
    const cursor = box.lastAssignedLsn;
    const vclock = new Map(readVclock(box, 0));
    const ownOrigin = selfOrigin(node);
    if (ownOrigin > 0) vclock.set(ownOrigin, Math.max(vclock.get(ownOrigin) ?? 0, cursor));
    const spaces: MpObject = {};
    for (const name of replicatedSpaceNames(box)) spaces[name] = spaceDefValue(box, name);
    await box.waitCommitted(cursor);
    return [{ cursor, vclock: vclockToValue(vclock), spaces }];
  },
};

export const copyPageProc: Proc = {
  name: PROC_REPLICATION_COPY_PAGE,
  handle(node, args) {
    const name = str(args[0] ?? null, 'space');
    const after = args[1] ?? null;
    const rowsMax = Math.min(FETCH_ROWS_MAX, Math.max(1, uint(args[2] ?? null, 'rows_max')));
    const box = node.box;
    if (!box.hasSpace(name) || !isReplicatedSpace(box.schema.space(name).def)) throw new ProcError(`space "${name}" is not replicated here`);
    const space = box.space(name);
    const tuples = after === null ? space.select([], { iterator: 'ALL', limit: rowsMax }) : space.select(after, { iterator: 'GT', limit: rowsMax });
    const primary = space.indexes()[0]!;
    const last = tuples[tuples.length - 1];
    const lastKey = last === undefined ? null : primary.parts.map((p) => last[p.fieldNo] ?? null);
    return [{ tuples: tuples as MpValue[], last_key: lastKey, done: tuples.length < rowsMax }];
  },
};
