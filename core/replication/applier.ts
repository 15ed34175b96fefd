/**
 * A replica's side of replication: one loop per instance that, while the instance is a member
 * of a replicaset whose master is someone else, pulls that master's transactions
 * (`.proc_replication_fetch`, core/replication/relay.ts) and applies each as one local
 * transaction together with its `_vclock` row and the cursor (core/replication/state-spaces.ts),
 * so that what is applied and what the instance says it holds never disagree, crash or not.
 *
 * Replication is asynchronous unless a transaction writes to a synchronous space
 * (core/replication/synchro.ts): a master acknowledges a write once its own WAL has it. A master
 * that fails before its replicas fetched a write loses that write when another member takes
 * over (the old master, back as a replica, copies the new master whole: see `resync` in
 * state-spaces.ts). The governor's graceful switch waits for the new master to catch up first.
 *
 * A copy (`resync`) is taken while the master keeps writing: the master names the LSN and
 * vclock it starts at, once that LSN is durable; every page shows that state or a later one;
 * the replica then fetches from that LSN on. Rows log effects (whole tuples, deletes by key,
 * applied as replaces and idempotent deletes), so replaying the transactions after the start
 * over pages that may already show some of them converges on the master's state.
 */

import type { Box } from '../box/box.ts';
import type { WalRow } from '../box/txn.ts';
import type { MpObject, MpValue } from '../codec/msgpack.ts';
import type { Node } from '../node/node.ts';
import { probe } from '../lib/probe.ts';
import { callInstance, type PeerOutcome } from '../vshard/peer-call.ts';
import { OP_DELETE, OP_REPLACE, OP_TRUNCATE, PROC_REPLICATION_COPY_BEGIN, PROC_REPLICATION_COPY_PAGE, PROC_REPLICATION_FETCH, selfOrigin } from './relay.ts';
import { ensureSpaceFromDef, isReplicatedSpace } from './space-defs.ts';
import { caughtUpRow, COPY_KEY, copiedAtRow, currentEpoch, cursorRow, ensureStateSpaces, forgetCaughtUpRow, holdsHistory, markResync, needsResync, originAt, originEpochRow, readCursor, readVclock, REPLICA_STATE_SPACE, resyncRow, VCLOCK_SPACE, vclockRow } from './state-spaces.ts';
import { formatVclock, vclockFromValue, vclockToValue, type Vclock } from './vclock.ts';

/**
 * A fetch's deadline beyond the time the master may hold it: a master cut off is given up on
 * soon, so that a replica catches up quickly once the link is back (a master switch waits on it).
 */
const FETCH_REPLY_MARGIN_MS = 2_000;

/** Thrown out of a step: the loop logs it and retries after `replicationRetryMs`. */
class ReplicationStepError extends Error {
  override readonly name = 'ReplicationStepError';
}

function outcomeValue(outcome: PeerOutcome, what: string): MpObject {
  if (!outcome.ok) {
    const error = outcome.error as MpObject | null;
    throw new ReplicationStepError(`${what}: ${String(error?.['message'] ?? 'failed')}`);
  }
  const value = outcome.values[0];
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ReplicationStepError(`${what}: malformed reply`);
  return value as MpObject;
}

/** A master's row as a local WAL row (its space, by name, exists here: fetchAndApply made sure). */
function localRow(box: Box, row: MpValue[]): WalRow {
  const [name, op, body] = row as [string, number, MpValue];
  if (!box.hasSpace(name)) throw new ReplicationStepError(`the master's rows touch space "${name}" without its definition`);
  const spaceId = box.space(name).id;
  if (op === OP_DELETE) return { lsn: 0, spaceId, op: 'delete', key: body as MpValue[] };
  if (op === OP_TRUNCATE) return { lsn: 0, spaceId, op: 'truncate' };
  if (op !== OP_REPLACE || !Array.isArray(body)) throw new ReplicationStepError(`unknown replicated row op ${String(op)}`);
  return { lsn: 0, spaceId, op: 'replace', tuple: Object.freeze([...body]) };
}

/** How far this replica holds master `masterId`'s WAL: the applier's cursor, else the stored one. */
export function progressOf(node: Node, masterId: string): number {
  if (node.replicationCursor?.masterId === masterId) return node.replicationCursor.lsn;
  const stored = readCursor(node.box);
  return stored?.masterId === masterId ? stored.lsn : 0;
}

export class ReplicationApplier {
  private readonly node: Node;
  private stopped = false;
  private followedMasterId: string | null = null;

  constructor(node: Node) {
    this.node = node;
  }

  stop(): void {
    this.stopped = true;
  }

  /**
   * How far into `masterId`'s WAL this replica got (persisted with every applied transaction);
   * kept on the node, where the governor's catch-up before a master switch and /metrics read it.
   */
  private setCursor(masterId: string, lsn: number): void {
    this.node.replicationCursor = { masterId, lsn, masterLsn: Math.max(lsn, this.masterLsn) };
  }

  /** The master's last committed LSN as of its latest fetch reply (for the lag metric). */
  private masterLsn = 0;

  /**
   * Where in `followedMasterId`'s WAL this replica counts as caught up with it: the master's
   * LSN in the first reply (or the start of a copy) since this process began following it.
   * Null before anything was heard from it; unused while `caught_up` is recorded.
   */
  private catchUpTargetLsn: number | null = null;

  /** Records `caught_up` once the cursor reaches the target (see state-spaces.ts). */
  private async noteCatchUp(masterId: string, targetLsn: number): Promise<void> {
    const box = this.node.box;
    if (holdsHistory(box)) return;
    this.catchUpTargetLsn ??= targetLsn;
    if (progressOf(this.node, masterId) < this.catchUpTargetLsn || !this.stillFollowing(masterId)) return;
    await box.applyRows([caughtUpRow(box, masterId)]);
    this.node.log.info('caught up with the master', { master: masterId, lsn: progressOf(this.node, masterId) });
  }

  async run(): Promise<void> {
    const { replicationRetryMs } = this.node.options.tuning;
    if (replicationRetryMs <= 0) return;
    while (!this.stopped) {
      const masterId = this.masterToFollow();
      if (masterId === null) {
        await this.node.env.clock.sleep(replicationRetryMs);
        continue;
      }
      try {
        await this.step(masterId);
      } catch (error) {
        if (this.stopped) return;
        const reason = error instanceof Error ? error.message : String(error);
        this.node.log.verbose('replication step failed', { master: masterId, reason });
        await this.node.env.clock.sleep(replicationRetryMs);
      }
    }
  }

  /** The master of this instance's replicaset when it is someone else, else null. */
  private masterToFollow(): string | null {
    const node = this.node;
    if (node.state !== 'online' && node.state !== 'postjoin') return null;
    if (node.replication === null || node.replication.isMaster) return null;
    const self = node.self();
    if (self === undefined) return null;
    const masterId = node.tables.replicaset(self.replicasetId)?.masterId;
    if (masterId === undefined || masterId === self.instanceId || node.tables.instance(masterId) === undefined) return null;
    return masterId;
  }

  private stillFollowing(masterId: string): boolean {
    return !this.stopped && this.masterToFollow() === masterId;
  }

  private async step(masterId: string): Promise<void> {
    const box = this.node.box;
    await ensureStateSpaces(box);
    if (this.followedMasterId !== masterId) {
      if (this.followedMasterId !== null) probe('replication.master_changed');
      this.node.log.info('replicating from the master', { master: masterId });
      this.followedMasterId = masterId;
      this.catchUpTargetLsn = null;
    }
    if (needsResync(box)) {
      await this.copy(masterId);
      return;
    }
    await this.fetchAndApply(masterId);
  }

  private async fetchAndApply(masterId: string): Promise<void> {
    const node = this.node;
    const box = node.box;
    const { replicationFetchWaitMs, replicationFetchRowsMax } = node.options.tuning;
    const origin = selfOrigin(node);
    const vclock = readVclock(box, origin);
    const args: MpValue[] = [vclockToValue(vclock), progressOf(node, masterId), replicationFetchRowsMax, replicationFetchWaitMs, origin];
    const reply = outcomeValue(await callInstance(node, masterId, PROC_REPLICATION_FETCH, args, replicationFetchWaitMs + FETCH_REPLY_MARGIN_MS), 'fetch');
    if (typeof reply['resync'] === 'string') {
      probe('replication.resync_requested');
      node.log.warn('the master cannot bring this replica up to date from its WAL: copying its data whole', { master: masterId, reason: reply['resync'], vclock: formatVclock(vclock) });
      await markResync(box);
      return;
    }
    const spaces = (reply['spaces'] ?? {}) as MpObject;
    this.masterLsn = Number(reply['master_lsn'] ?? 0);
    // The spaces first (their DDL awaits), then every transaction of the reply submitted at once:
    // the WAL writes them in group commits, as the master did. Applied one by one, each waiting
    // for its own write, a replica falls behind any master that commits in batches.
    for (const name of Object.keys(spaces)) await ensureSpaceFromDef(box, name, spaces[name] ?? null);
    if (!this.stillFollowing(masterId)) return;
    const txns = (reply['txns'] ?? []) as MpValue[][];
    const applied = txns.map((txn) => this.submit(masterId, txn));
    for (const [k, promise] of applied.entries()) {
      const [origin, seq, lastLsn] = txns[k] as [number, number, number];
      try {
        await promise;
      } catch (error) {
        // The replica's data does not take the master's rows (a conflict no WAL replay can
        // produce unless the two diverged), or its WAL failed: start over from a copy.
        probe('replication.apply_failed');
        node.log.error('cannot apply a replicated transaction: copying the master whole', { master: masterId, origin, seq, error: error instanceof Error ? error.message : String(error) });
        await Promise.allSettled(applied);
        await markResync(box);
        throw new ReplicationStepError('apply failed');
      }
      this.setCursor(masterId, lastLsn);
      probe('replication.applied');
    }
    if (!this.stillFollowing(masterId)) return;
    this.setCursor(masterId, Number(reply['cursor'] ?? 0));
    await this.noteCatchUp(masterId, this.masterLsn);
  }

  /** Applies one of the master's transactions with its `_vclock` row and the cursor after it. */
  private submit(masterId: string, txn: MpValue[]): Promise<void> {
    const box = this.node.box;
    const [origin, seq, lastLsn, rows] = txn as [number, number, number, MpValue[][]];
    try {
      const local = rows.map((row) => localRow(box, row));
      local.push(vclockRow(box, origin, seq), cursorRow(box, masterId, lastLsn));
      return box.applyRows(local);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Replaces every replicated space's data with the master's (see the module comment). */
  private async copy(masterId: string): Promise<void> {
    const node = this.node;
    const box = node.box;
    const { syncRpcTimeoutMs, replicationFetchRowsMax } = node.options.tuning;
    node.log.info('copying the master\'s data', { master: masterId });
    const begin = outcomeValue(await callInstance(node, masterId, PROC_REPLICATION_COPY_BEGIN, [], syncRpcTimeoutMs), 'copy begin');
    const startVclock: Vclock | null = vclockFromValue(begin['vclock'] ?? null);
    const startLsn = Number(begin['cursor']);
    if (startVclock === null || !Number.isSafeInteger(startLsn)) throw new ReplicationStepError('copy begin: malformed reply');
    const copyFromLsn = box.lastAssignedLsn;
    const marker = (): WalRow => ({ lsn: 0, spaceId: box.space(REPLICA_STATE_SPACE).id, op: 'replace', tuple: [COPY_KEY, vclockToValue(startVclock)] });
    const spaces = (begin['spaces'] ?? {}) as MpObject;
    const names = Object.keys(spaces);
    for (const name of names) await ensureSpaceFromDef(box, name, spaces[name] ?? null);
    // From here until the copy has caught up this instance holds less than its replicaset's history.
    if (holdsHistory(box)) await box.applyRows([forgetCaughtUpRow(box)]);
    // Replicated spaces the master does not have are emptied too: the copy is the master's state.
    for (const space of [...box.schema.spaces.values()]) {
      if (!isReplicatedSpace(space.def) || space.indexes.length === 0) continue;
      if (!this.stillFollowing(masterId)) throw new ReplicationStepError('the master changed during a copy');
      await box.applyRows([{ lsn: 0, spaceId: space.id, op: 'truncate' }, marker()]);
    }
    for (const name of names) {
      let after: MpValue = null;
      for (;;) {
        if (!this.stillFollowing(masterId)) throw new ReplicationStepError('the master changed during a copy');
        const args: MpValue[] = [name, after, replicationFetchRowsMax];
        const page = outcomeValue(await callInstance(node, masterId, PROC_REPLICATION_COPY_PAGE, args, syncRpcTimeoutMs), 'copy page');
        const tuples = (page['tuples'] ?? []) as MpValue[][];
        const spaceId = box.space(name).id;
        if (tuples.length > 0) await box.applyRows([...tuples.map((t): WalRow => ({ lsn: 0, spaceId, op: 'replace', tuple: Object.freeze([...t]) })), marker()]);
        if (page['done'] === true || tuples.length === 0) break;
        after = page['last_key'] ?? null;
      }
    }
    // A new epoch: what this instance wrote before and its master lacked is gone (module comment
    // of state-spaces.ts); its old origin becomes one more component of the copied vclock.
    const epoch = currentEpoch(box) + 1;
    const origin = originAt(node.identity?.raftId ?? 0, epoch);
    const finish: WalRow[] = [{ lsn: 0, spaceId: box.space(VCLOCK_SPACE).id, op: 'truncate' }];
    for (const [o, seq] of startVclock) if (o !== origin) finish.push(vclockRow(box, o, seq));
    finish.push(originEpochRow(box, epoch), copiedAtRow(box, copyFromLsn, startVclock));
    finish.push(cursorRow(box, masterId, startLsn), resyncRow(box, false), marker());
    await box.applyRows(finish);
    this.setCursor(masterId, startLsn);
    // The copy holds the master's state at startLsn, which is after this replica joined.
    this.catchUpTargetLsn = startLsn;
    probe('replication.copy_done');
    node.log.info('copied the master\'s data', { master: masterId, lsn: startLsn, vclock: formatVclock(startVclock) });
  }
}
