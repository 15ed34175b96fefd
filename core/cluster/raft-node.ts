/**
 * The Raft node driver: the thin async shell around the pure core (core/raft). It ticks the core
 * on the env clock, steps messages from the network, and processes Readies in the order the
 * contract demands:
 *   1. persist snapshot, entries and hard state (fsync when the Ready says so);
 *   2. only then send the Ready's messages (they may acknowledge what was just persisted);
 *   3. install a received snapshot into the tables, apply committed entries, answer reads;
 *   4. advance.
 * Proposals resolve when their entry is applied with the term it was proposed in; an entry of
 * another term at that index means the proposal was lost.
 */

import type { Env } from '../env/env.ts';
import { assert } from '../lib/assert.ts';
import { decodeConfChange, type ConfChangeSingle as RaftConfChangeSingle, type ConfChangeV2 } from '../raft/confchange.ts';
import type { RaftConfigInput } from '../raft/config.ts';
import type { RaftError } from '../raft/errors.ts';
import type { RaftMessage } from '../raft/messages.ts';
import { RawNode } from '../raft/raw-node.ts';
import type { RaftStatus } from '../raft/status.ts';
import { asLogIndex, asRaftId, type ConfState, type Entry, type RaftId, type RaftRole, type Snapshot } from '../raft/types.ts';
import { decodeOp, encodeOp, type Op } from './ops.ts';
import type { RaftStore } from './raft-store.ts';
import type { ClusterTables } from './tables.ts';
import type { Tuple } from './table.ts';

export interface RaftTransport {
  /** Sends messages to one peer (fire and forget); failures come back via `reportUnreachable`. */
  send(to: RaftId, messages: readonly RaftMessage[]): void;
}

export type RaftNodeError =
  | { readonly kind: 'not_a_leader'; readonly leaderId: number }
  | { readonly kind: 'proposal_dropped'; readonly reason: string }
  | { readonly kind: 'proposal_lost'; readonly index: number }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'apply_failed'; readonly code: number; readonly message: string }
  | { readonly kind: 'stopped' };

export class RaftNodeFailure extends Error {
  override readonly name = 'RaftNodeFailure';
  readonly error: RaftNodeError;
  constructor(error: RaftNodeError) {
    super(describe(error));
    this.error = error;
  }
}

/**
 * Raft sends one append per proposal; a burst of proposals in one Ready yields a run of appends to
 * each follower where each continues the previous one. One append carrying all of them says the
 * same (the follower acks the last index, which releases every earlier in-flight slot), at a
 * fraction of the messages and acks.
 */
export function mergeAppends(first: RaftMessage, second: RaftMessage): RaftMessage | null {
  if (first.type !== 'append' || second.type !== 'append' || first.term !== second.term || first.to !== second.to) return null;
  const last = first.entries[first.entries.length - 1];
  if (last === undefined || second.prevIndex !== last.index || second.prevTerm !== last.term) return null;
  return { ...first, entries: [...first.entries, ...second.entries], commit: second.commit > first.commit ? second.commit : first.commit };
}

function describe(e: RaftNodeError): string {
  switch (e.kind) {
    case 'not_a_leader':
      return 'not a leader';
    case 'proposal_dropped':
      return `proposal dropped: ${e.reason}`;
    case 'proposal_lost':
      return `proposal at index ${e.index} was overwritten by another leader`;
    case 'timeout':
      return 'timeout';
    case 'apply_failed':
      return e.message;
    case 'stopped':
      return 'raft node has stopped';
  }
}

export interface RaftNodeOptions {
  readonly raftId: number;
  /** Length of one Raft tick (Picodata: 100 ms). */
  readonly tickMs: number;
  readonly raft: Omit<RaftConfigInput, 'id' | 'random' | 'appliedIndex'>;
  /** Snapshot the tables and compact once this many applied entries are in the log. */
  readonly compactEntriesMax: number;
}

export interface AppliedEntry {
  readonly index: number;
  readonly term: number;
  readonly op: Op | null;
}

export interface RaftNodeHooks {
  /** After an entry (normal) is applied to the tables. */
  applied?(entry: AppliedEntry): void;
  /** After a snapshot replaced the tables. */
  restored?(index: number): void;
  /**
   * Role or leader changed; `term` is the one the change happened in (the node may be in a later
   * term by the time the hook runs: messages are stepped while the change is being persisted).
   */
  roleChanged?(role: RaftRole, leaderId: number, term: number): void;
  /** A write to the Raft log failed: the node cannot continue safely. */
  fatal(reason: string): void;
}

interface Waiter {
  readonly term: number;
  readonly resolve: (result: { index: number; term: number; tuple: Tuple | undefined }) => void;
  readonly reject: (error: RaftNodeFailure) => void;
}

type AppliedListener = () => void;

export class RaftNode {
  readonly id: RaftId;
  readonly raw: RawNode;
  private readonly env: Env;
  private readonly store: RaftStore;
  private readonly tables: ClusterTables;
  private readonly transport: RaftTransport;
  private readonly options: RaftNodeOptions;
  private readonly hooks: RaftNodeHooks;
  private readonly waiters = new Map<number, Waiter>();
  private readonly readWaiters = new Map<string, Array<(index: number) => void>>();
  private readonly appliedListeners = new Set<AppliedListener>();
  private readyScheduled = false;
  private processing = false;
  private stopped = false;
  private cancelTick: (() => void) | null = null;
  private nextReadId = 1;
  /**
   * A TimeoutNow that arrived while committed entries were still unapplied. Raft ignores it then
   * (a conf change among them may change who votes) and the leader does not resend it, so the
   * driver holds it until the entries are applied.
   */
  private heldTimeoutNow: RaftMessage | null = null;
  /** Monotonic time each peer was last heard from (any message). */
  readonly lastHeardMs = new Map<number, number>();

  constructor(env: Env, store: RaftStore, tables: ClusterTables, transport: RaftTransport, options: RaftNodeOptions, hooks: RaftNodeHooks) {
    this.env = env;
    this.store = store;
    this.tables = tables;
    this.transport = transport;
    this.options = options;
    this.hooks = hooks;
    this.id = asRaftId(options.raftId);
    const snapshot = store.memory.snapshot();
    const appliedIndex = snapshot.ok ? snapshot.value.index : asLogIndex(0);
    if (snapshot.ok && snapshot.value.index > 0) tables.restore(snapshot.value.data);
    this.raw = new RawNode({ ...options.raft, id: this.id, random: env.random.fork('raft'), appliedIndex }, store.memory);
  }

  start(): void {
    const tick = (): void => {
      if (this.stopped) return;
      this.raw.tick();
      this.scheduleReady();
      this.cancelTick = this.env.clock.after(this.options.tickMs, tick);
    };
    this.cancelTick = this.env.clock.after(this.options.tickMs, tick);
    this.scheduleReady();
  }

  stop(): void {
    this.stopped = true;
    this.cancelTick?.();
    for (const [, waiter] of this.waiters) waiter.reject(new RaftNodeFailure({ kind: 'stopped' }));
    this.waiters.clear();
  }

  // --- inputs ---------------------------------------------------------------------------------

  step(message: RaftMessage): RaftError | undefined {
    if (this.stopped) return undefined;
    this.lastHeardMs.set(message.from, this.env.clock.nowMs());
    if (message.type === 'timeoutNow' && this.commit > this.applied) {
      this.heldTimeoutNow = message;
      this.scheduleReady();
      return undefined;
    }
    const error = this.raw.step(message);
    this.scheduleReady();
    return error;
  }

  tick(count: number): void {
    for (let i = 0; i < count; i++) this.raw.tick();
    this.scheduleReady();
  }

  campaign(): void {
    this.raw.campaign();
    this.scheduleReady();
  }

  transferLeadership(to: number): RaftError | undefined {
    const error = this.raw.transferLeader(asRaftId(to));
    this.scheduleReady();
    return error;
  }

  reportUnreachable(id: RaftId): void {
    this.raw.reportUnreachable(id);
    this.scheduleReady();
  }

  reportSnapshot(id: RaftId, ok: boolean): void {
    this.raw.reportSnapshot(id, ok ? 'finish' : 'failure');
    this.scheduleReady();
  }

  /**
   * Appends `op` to the log (leader only) and returns where it went; the returned promise
   * settles once it is applied (`applied`), so callers can choose whether to wait.
   */
  propose(op: Op, timeoutMs: number): { index: number; term: number; applied: Promise<{ index: number; term: number; tuple: Tuple | undefined }> } {
    if (this.role !== 'Leader') throw new RaftNodeFailure({ kind: 'not_a_leader', leaderId: this.leaderId });
    const lastBefore = this.lastIndex;
    const term = this.term;
    const error = this.raw.propose(encodeOp(op));
    if (error !== undefined) throw new RaftNodeFailure({ kind: 'proposal_dropped', reason: error.kind === 'proposal_dropped' ? error.reason : error.kind });
    const index = this.lastIndex;
    assert(index > lastBefore, 'a proposal accepted by the leader must extend its log');
    const applied = new Promise<{ index: number; term: number; tuple: Tuple | undefined }>((resolve, reject) => {
      // A waiter already at this index is a proposal of an earlier term of this node's
      // leadership whose entry was overwritten before it applied: lost. Replacing it silently
      // would leave its caller waiting for ever (raft-safety seed 200171: the sentinel).
      const previous = this.waiters.get(index);
      assert(previous === undefined || previous.term < term, 'two proposals at one index in one term');
      previous?.reject(new RaftNodeFailure({ kind: 'proposal_lost', index }));
      const waiter: Waiter = { term, resolve, reject };
      this.waiters.set(index, waiter);
      this.env.clock.after(timeoutMs, () => {
        if (this.waiters.get(index) !== waiter) return;
        this.waiters.delete(index);
        reject(new RaftNodeFailure({ kind: 'timeout' }));
      });
    });
    this.scheduleReady();
    return { index, term, applied };
  }

  /** Proposes and waits until applied. */
  async proposeAndWait(op: Op, timeoutMs: number): Promise<{ index: number; term: number; tuple: Tuple | undefined }> {
    return this.propose(op, timeoutMs).applied;
  }

  proposeConfChange(changes: readonly RaftConfChangeSingle[]): RaftError | undefined {
    const change: ConfChangeV2 = { transition: 'auto', changes, context: new Uint8Array(0) };
    const error = this.raw.proposeConfChange(change);
    this.scheduleReady();
    return error;
  }

  /** A linearizable read point: resolves with an index once reads at it see every committed write. */
  async readIndex(timeoutMs: number): Promise<number> {
    const id = `${this.id}/${this.nextReadId++}`;
    const context = new TextEncoder().encode(id);
    const index = await new Promise<number>((resolve, reject) => {
      const list = this.readWaiters.get(id) ?? [];
      list.push(resolve);
      this.readWaiters.set(id, list);
      const error = this.raw.readIndex(context);
      if (error !== undefined) {
        this.readWaiters.delete(id);
        reject(new RaftNodeFailure({ kind: 'proposal_dropped', reason: error.kind === 'proposal_dropped' ? error.reason : error.kind }));
        return;
      }
      this.scheduleReady();
      this.env.clock.after(timeoutMs, () => {
        if (!this.readWaiters.delete(id)) return;
        reject(new RaftNodeFailure({ kind: 'timeout' }));
      });
    });
    await this.waitApplied(index, timeoutMs);
    return index;
  }

  /** Resolves once the applied index reaches `index`; rejects with timeout. */
  waitApplied(index: number, timeoutMs: number): Promise<void> {
    if (this.applied >= index) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      let cancel: (() => void) | null = null;
      const listener = (): void => {
        if (this.applied < index) return;
        this.appliedListeners.delete(listener);
        cancel?.();
        resolve();
      };
      this.appliedListeners.add(listener);
      cancel = this.env.clock.after(timeoutMs, () => {
        if (!this.appliedListeners.delete(listener)) return;
        reject(new RaftNodeFailure({ kind: 'timeout' }));
      });
    });
  }

  /** Calls `fn` after every applied batch and role change until it returns true. */
  watch(fn: () => boolean): void {
    const listener = (): void => {
      if (fn()) this.appliedListeners.delete(listener);
    };
    this.appliedListeners.add(listener);
  }

  // --- state ----------------------------------------------------------------------------------

  status(): RaftStatus {
    return this.raw.status();
  }

  // Hot accessors read the core directly: status() builds sorted lists and progress maps.

  get applied(): number {
    return this.raw.raft.log.applied;
  }

  get commit(): number {
    return this.raw.raft.log.committed;
  }

  get lastIndex(): number {
    return this.raw.raft.log.lastIndex();
  }

  get term(): number {
    return this.raw.raft.term;
  }

  get role(): RaftRole {
    return this.raw.raft.state;
  }

  get leaderId(): number {
    return this.raw.raft.lead;
  }

  confState(): ConfState {
    return this.raw.confState();
  }

  /** Whether a configuration change is in flight or the joint state not yet left. */
  confChangePending(): boolean {
    if (this.raw.raft.tracker.config.voters.outgoing.size > 0) return true;
    return this.raw.raft.pendingConfIndex > this.applied;
  }

  /**
   * Compacts the log up to `upTo` (not past applied + 1): entries before it are dropped after a
   * snapshot of the tables at the applied index. Returns the new first index.
   */
  async compactLog(upTo: number): Promise<number> {
    const until = Math.min(upTo, this.applied + 1);
    const first = this.store.firstIndex;
    if (until <= first) return first;
    const covering = this.snapshotCovering(until - 1);
    if (covering === null) return first;
    this.raw.compact(asLogIndex(until - 1));
    await this.store.compact(covering, until - 1);
    return this.store.firstIndex;
  }

  /** Snapshots the tables at the applied index and keeps it (the log is not compacted). */
  private async storeFreshSnapshot(): Promise<void> {
    const fresh = this.raw.createSnapshot(this.tables.snapshot());
    if ('kind' in fresh) return;
    await this.store.compact(fresh, this.store.firstIndex - 1);
  }

  /** The latest snapshot if it covers `index`, or a fresh one of the tables at the applied index. */
  private snapshotCovering(index: number): Snapshot | null {
    const latest = this.store.memory.snapshot();
    if (latest.ok && latest.value.index >= index) return latest.value;
    const fresh = this.raw.createSnapshot(this.tables.snapshot());
    return 'kind' in fresh ? null : fresh;
  }

  /**
   * Entries in [from, to] still in the log, including ones not yet persisted (a proposal is in
   * the log the moment it is accepted), for CaS conflict checks and `pico.raft_log()`.
   */
  entries(from: number, to: number): Entry[] {
    const log = this.raw.raft.log;
    const lo = Math.max(from, log.firstIndex());
    const hi = Math.min(to, log.lastIndex());
    if (lo > hi) return [];
    const result = log.slice(asLogIndex(lo), asLogIndex(hi + 1), Number.POSITIVE_INFINITY);
    return result.ok ? result.value : [];
  }

  termAt(index: number): number | undefined {
    const result = this.raw.raft.log.term(asLogIndex(index));
    return result.ok ? result.value : undefined;
  }

  // --- the Ready loop -------------------------------------------------------------------------

  private scheduleReady(): void {
    if (this.readyScheduled || this.stopped) return;
    this.readyScheduled = true;
    void Promise.resolve().then(() => this.processReadies());
  }

  private async processReadies(): Promise<void> {
    this.readyScheduled = false;
    if (this.processing || this.stopped) return;
    this.processing = true;
    try {
      while (!this.stopped && this.raw.hasReady()) await this.handleReady();
    } catch (error) {
      this.stopped = true;
      this.hooks.fatal(error instanceof Error ? error.message : String(error));
    } finally {
      this.processing = false;
    }
  }

  private async handleReady(): Promise<void> {
    const ready = this.raw.ready();
    const termAtReady = this.term;
    await this.store.persist(ready.snapshot, ready.entries, ready.hardState, ready.mustSync);
    // BUGGIFY: a slow disk or a busy process between persisting and sending.
    if (this.env.buggify('raft.ready.slow')) await this.env.clock.sleep(this.env.random.int(50));
    if (this.stopped) return;
    this.sendAll(ready.messages);
    if (ready.snapshot !== undefined && ready.snapshot.index > 0) {
      this.tables.restore(ready.snapshot.data);
      this.hooks.restored?.(ready.snapshot.index);
    }
    for (const entry of ready.committedEntries) this.apply(entry);
    for (const rs of ready.readStates) this.answerRead(new TextDecoder().decode(rs.context), rs.index);
    this.raw.advance();
    // A follower joined after the stored snapshot was taken and needs one that includes it.
    if (ready.snapshotWanted && this.applied > 0) await this.storeFreshSnapshot();
    this.releaseHeldTimeoutNow();
    if (ready.softState !== undefined) this.hooks.roleChanged?.(ready.softState.raftState, ready.softState.leaderId, termAtReady);
    this.notifyApplied();
    await this.maybeCompact();
  }

  private releaseHeldTimeoutNow(): void {
    const held = this.heldTimeoutNow;
    if (held === null) return;
    if (this.commit > this.applied) return;
    this.heldTimeoutNow = null;
    if (held.term === this.term) this.raw.step(held);
  }

  private sendAll(messages: readonly RaftMessage[]): void {
    const byPeer = new Map<number, RaftMessage[]>();
    for (const m of messages) {
      const list = byPeer.get(m.to) ?? [];
      const previous = list[list.length - 1];
      const merged = previous === undefined ? null : mergeAppends(previous, m);
      if (merged !== null) list[list.length - 1] = merged;
      else list.push(m);
      byPeer.set(m.to, list);
    }
    for (const [to, list] of byPeer) this.transport.send(asRaftId(to), list);
  }

  private apply(entry: Entry): void {
    if (entry.kind === 'confChange') {
      this.raw.applyConfChange(decodeConfChange(entry.data));
      this.hooks.applied?.({ index: entry.index, term: entry.term, op: null });
      return;
    }
    let op: Op | null = null;
    let tuple: Tuple | undefined;
    let failure: RaftNodeFailure | null = null;
    if (entry.data.length > 0) {
      try {
        op = decodeOp(entry.data);
        tuple = this.tables.apply(op);
      } catch (error) {
        // Every instance fails the same entry the same way: the tables stay identical.
        const code = typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : 0;
        failure = new RaftNodeFailure({ kind: 'apply_failed', code, message: error instanceof Error ? error.message : String(error) });
      }
    }
    this.settleWaiter(entry, tuple, failure);
    this.hooks.applied?.({ index: entry.index, term: entry.term, op });
  }

  private settleWaiter(entry: Entry, tuple: Tuple | undefined, failure: RaftNodeFailure | null): void {
    const waiter = this.waiters.get(entry.index);
    if (waiter === undefined) return;
    this.waiters.delete(entry.index);
    if (waiter.term !== entry.term) waiter.reject(new RaftNodeFailure({ kind: 'proposal_lost', index: entry.index }));
    else if (failure !== null) waiter.reject(failure);
    else waiter.resolve({ index: entry.index, term: entry.term, tuple });
  }

  private answerRead(id: string, index: number): void {
    const list = this.readWaiters.get(id);
    if (list === undefined) return;
    this.readWaiters.delete(id);
    for (const resolve of list) resolve(index);
  }

  private notifyApplied(): void {
    for (const listener of [...this.appliedListeners]) listener();
  }

  private async maybeCompact(): Promise<void> {
    const applied = this.applied;
    if (applied - this.store.firstIndex + 1 <= this.options.compactEntriesMax) return;
    await this.compactLog(applied - Math.floor(this.options.compactEntriesMax / 2));
  }
}
