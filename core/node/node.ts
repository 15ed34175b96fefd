/**
 * One instance's moving parts and the primitives the RPC handlers, the governor and the API use.
 * Lifecycle (discover -> boot|join -> postjoin -> online -> shutdown) lives in core/instance.ts.
 */

import { Box } from '../box/box.ts';
import { BoxError, ErrorCode } from '../box/errors.ts';
import { exitOnStorageFailure } from '../env/storage-failure.ts';
import type { MpValue } from '../codec/msgpack.ts';
import { Topology } from '../cluster/topology.ts';
import { ClusterTables, TABLE_DEFS } from '../cluster/tables.ts';
import type { Op } from '../cluster/ops.ts';
import { RaftNode, type RaftNodeHooks } from '../cluster/raft-node.ts';
import { RaftStore, type Identity } from '../cluster/raft-store.ts';
import type { Discovery } from '../cluster/discovery.ts';
import type { Instance } from '../cluster/records.ts';
import type { Env } from '../env/env.ts';
import type { Log } from '../env/log.ts';
import type { IprotoServer } from '../iproto/server.ts';
import { assert } from '../lib/assert.ts';
import type { RaftRole } from '../raft/types.ts';
import { PeerPool } from '../rpc/pool.ts';
import { ProcError } from '../rpc/proc-error.ts';
import { EXIT_CORRUPT_DATA, EXIT_IO_ERROR, type NodeOptions } from './options.ts';
import { RaftTransportOverRpc } from './raft-transport.ts';

export type NodeState = 'starting' | 'discovery' | 'booting' | 'joining' | 'postjoin' | 'online' | 'stopping' | 'exited';

/** Replication settings the governor gave this instance (`proc_replication`). */
export interface ReplicationConfig {
  readonly replicasetId: string;
  readonly isMaster: boolean;
  /** `guest:@<address>` of every replicaset member, like box.cfg.replication. */
  readonly peers: readonly string[];
}

/** Sharding settings the governor gave this instance (`proc_sharding`). */
export interface ShardingConfig {
  readonly bucketCount: number;
  readonly replicasets: ReadonlyArray<{ readonly replicasetId: string; readonly uuid: string; readonly weight: number; readonly master: string; readonly replicas: readonly string[] }>;
}

export const BUCKET_COUNT = 3000;
export const RAFT_STORE = 'raft';

export class Node {
  readonly env: Env;
  readonly options: NodeOptions;
  readonly log: Log;
  readonly box: Box;
  readonly tables = new ClusterTables();
  readonly raftStore: RaftStore;
  readonly pool: PeerPool;
  state: NodeState = 'starting';
  raft: RaftNode | null = null;
  identity: Identity | null;
  discovery: Discovery | null = null;
  server: IprotoServer | null = null;
  replication: ReplicationConfig | null = null;
  /**
   * How far this replica has fetched from its master's WAL (core/replication/applier.ts): every
   * transaction of that master's WAL up to `lsn` is applied here, or held already;
   * `masterLsn` is the master's last committed LSN as of its latest reply.
   */
  replicationCursor: { readonly masterId: string; readonly lsn: number; readonly masterLsn: number } | null = null;
  /** Where a replica's fetch reports what it holds of this instance's WAL (synchronous replication). */
  replicaAcks: { ack(origin: number, lsn: number): void } | null = null;
  sharding: ShardingConfig | null = null;
  /** Addresses learned outside the tables (the join reply), until the log catches up. */
  readonly addresses = new Map<number, string>();
  /**
   * Addresses instances announced themselves (their Online request at restart, the sender address
   * of their Raft messages) that differ from the table, until an address write for them is
   * applied. They win over the table: with two voters, the entry recording a moved instance's
   * address cannot commit before the leader replicates it to that instance at the new address.
   */
  private readonly announcedAddresses = new Map<number, string>();
  private topologyCache: { term: number; topology: Topology } | null = null;
  private readonly changeListeners = new Set<() => void>();
  private exitRequested = false;
  /** This node's monotonic time when its stores were open (box.info.uptime counts from it). */
  readonly openedAtMs: number;

  private constructor(env: Env, options: NodeOptions, box: Box, raftStore: RaftStore) {
    this.env = env;
    this.openedAtMs = env.clock.nowMs();
    this.options = options;
    this.log = env.log;
    this.box = box;
    this.raftStore = raftStore;
    this.identity = raftStore.identity() ?? null;
    this.pool = new PeerPool(env);
  }

  /** Opens the local stores. Corrupt data stops the instance instead of being served. */
  static async open(env: Env, options: NodeOptions): Promise<Node | null> {
    try {
      let raftStore = RaftStore.load(await env.disk.open(RAFT_STORE));
      if (raftStore.identity() === undefined && !raftStore.isEmpty()) {
        // Interrupted before its identity was saved (a crash mid-boot): like Picodata's
        // supervisor, wipe the Raft state and start over from discovery.
        env.log.warn('raft state without an identity, wiping it and starting over');
        await env.disk.destroy(RAFT_STORE);
        raftStore = RaftStore.load(await env.disk.open(RAFT_STORE));
      }
      // Box checkpoints by itself every DEFAULT_CHECKPOINT_WAL_ROWS_MAX rows, so the WAL stays
      // bounded without an operator; the daemon may also checkpoint on a timer.
      const box = await Box.open({ disk: env.disk, log: env.log, clock: env.clock, walMode: options.walMode, readOnly: true, forceRecovery: options.forceRecovery === true, checkpointWalRowsMax: options.tuning.checkpointWalRowsMax });
      return new Node(env, options, box, raftStore);
    } catch (error) {
      if (exitOnStorageFailure(env, error, 'cannot use the data directory')) return null;
      if (error instanceof BoxError) {
        // Recovery found nothing usable (a rotten snapshot and no older one) or a corrupt WAL
        // record it will not start past, or a write failed.
        const corrupt = error.code === ErrorCode.ER_MISSING_SNAPSHOT || error.code === ErrorCode.ER_INVALID_XLOG;
        env.log.error(corrupt ? 'data directory is corrupt, refusing to start' : 'storage failed while starting', {
          reason: error.message,
          code: error.codeName,
          ...(error.code === ErrorCode.ER_INVALID_XLOG ? { hint: 'restart with --force-recovery to start from the last good WAL record, losing what follows it' } : {}),
        });
        env.lifecycle.exit(corrupt ? EXIT_CORRUPT_DATA : EXIT_IO_ERROR);
        return null;
      }
      throw error;
    }
  }

  // --- addresses ------------------------------------------------------------------------------

  peerAddress(raftId: number): string | undefined {
    return this.announcedAddresses.get(raftId) ?? this.tables.peerAddress(raftId) ?? this.addresses.get(raftId);
  }

  /** Reach `raftId` at `address` until an entry writing its address is applied. */
  announceAddress(raftId: number, address: string): void {
    assert(raftId > 0 && address !== '', 'announced address needs a raft id and an address');
    this.announcedAddresses.set(raftId, address);
  }

  /** The instance is reachable at its recorded address again: drop what it announced. */
  private forgetAnnouncedAddress(raftId: number): void {
    this.announcedAddresses.delete(raftId);
  }

  /**
   * `raftId` says it listens at `address` (a Raft message's sender, `.proc_peer_address`): back
   * at its recorded address, what it announced before is stale; elsewhere, reach it there until
   * an entry writing its address is applied.
   */
  peerSaysItIsAt(raftId: number, address: string): void {
    if (this.tables.peerAddress(raftId) === address) this.forgetAnnouncedAddress(raftId);
    else this.announceAddress(raftId, address);
  }

  private forgetAnnouncedAddressOnWrite(op: Op | null): void {
    if (op?.kind !== 'dml' || op.dml.space !== TABLE_DEFS.peerAddress.name || this.announcedAddresses.size === 0) return;
    const raftId = op.dml.op === 'delete' || op.dml.op === 'update' ? op.dml.key[0] : op.dml.tuple[0];
    if (typeof raftId === 'number') this.announcedAddresses.delete(raftId);
    else this.announcedAddresses.clear();
  }

  leaderAddress(): string | undefined {
    const leaderId = this.raft?.leaderId ?? 0;
    return leaderId === 0 ? undefined : this.peerAddress(leaderId);
  }

  // --- raft ------------------------------------------------------------------------------------

  /** Starts the Raft node for `identity` (after boot, join or restart). */
  startRaft(identity: Identity, hooks: Omit<RaftNodeHooks, 'fatal'>): RaftNode {
    assert(this.raft === null, 'raft node already started');
    this.identity = identity;
    const transport = new RaftTransportOverRpc(this);
    const tuning = this.options.tuning;
    this.raft = new RaftNode(
      this.env,
      this.raftStore,
      this.tables,
      transport,
      { raftId: identity.raftId, tickMs: tuning.raftTickMs, raft: tuning.raft, compactEntriesMax: tuning.raftCompactEntriesMax },
      {
        ...hooks,
        applied: (entry) => {
          this.keepTopologyCurrent(entry.op);
          this.forgetAnnouncedAddressOnWrite(entry.op);
          hooks.applied?.(entry);
          this.changed();
        },
        restored: (index) => {
          this.topologyCache = null;
          this.announcedAddresses.clear();
          hooks.restored?.(index);
          this.changed();
        },
        roleChanged: (role: RaftRole, leaderId: number, term: number) => {
          hooks.roleChanged?.(role, leaderId, term);
          this.changed();
        },
        fatal: (reason) => this.fatal(`raft log write failed: ${reason}`, EXIT_IO_ERROR),
      },
    );
    this.raft.start();
    return this.raft;
  }

  /** The Raft node; RPCs that need it fail cleanly before it exists. */
  requireRaft(): RaftNode {
    if (this.raft === null) throw new ProcError('uninitialized yet');
    return this.raft;
  }

  isLeader(): boolean {
    return this.raft !== null && this.raft.role === 'Leader';
  }

  /** Fails with `not a leader` unless this instance leads. */
  requireLeader(): RaftNode {
    const raft = this.requireRaft();
    if (raft.role !== 'Leader') throw new ProcError('not a leader');
    return raft;
  }

  /**
   * The leader's topology view for this term: the committed instance table plus what this leader
   * admitted since (joins in flight), rebuilt whenever the term changes.
   */
  topology(): Topology {
    const raft = this.requireLeader();
    if (this.topologyCache === null || this.topologyCache.term !== raft.term) {
      const instances = this.tables.instances();
      const maxRaftId = Math.max(0, ...instances.map((i) => i.raftId), ...this.tables.peerAddresses().map((p) => p.raftId));
      this.topologyCache = {
        term: raft.term,
        topology: new Topology(this.clusterId(), this.tables.replicationFactor(), instances, maxRaftId),
      };
    }
    return this.topologyCache.topology;
  }

  /**
   * Applied instance records replace what the leader's view holds for them (the governor changes
   * current grades through the log). A raw DML on the instance table invalidates the view.
   */
  private keepTopologyCurrent(op: Op | null): void {
    if (op === null || this.topologyCache === null) return;
    if (op.kind === 'persist_instance') this.topologyCache.topology.remember(op.instance);
    else if (op.kind === 'update_instance') {
      // The fields the entry carried take their committed values; the view's other fields may
      // hold proposals still in flight, which keep their own. The current grade is the log's
      // alone: re-applying the entry to the view could drop a governor step the table took, when
      // the view's target is a proposal in flight (box-durability seed 10122: a wiped instance
      // was refused as "already joined" by a view still Online, its committed record Offline).
      const cached = this.topologyCache.topology.get(op.instanceId);
      const committed = this.tables.instance(op.instanceId);
      if (cached !== undefined && committed !== undefined) {
        this.topologyCache.topology.remember({
          ...cached,
          currentGrade: committed.currentGrade,
          ...(op.targetGrade === undefined ? {} : { targetGrade: committed.targetGrade }),
          ...(op.failureDomain === undefined ? {} : { failureDomain: committed.failureDomain }),
        });
      }
    } else if (op.kind === 'dml' && op.dml.space === TABLE_DEFS.instance.name) this.topologyCache = null;
  }

  /** The cluster id of the cluster this instance belongs to (its own option until it joins). */
  clusterId(): string {
    return this.identity?.clusterId ?? this.options.clusterId;
  }

  /** Governor RPCs are fenced: wait to apply the caller's index, then refuse a stale term. */
  async fence(term: number, index: number, timeoutMs: number): Promise<RaftNode> {
    const raft = this.requireRaft();
    try {
      await raft.waitApplied(index, timeoutMs);
    } catch {
      throw new ProcError('timeout', 78);
    }
    if (raft.term !== term) throw new ProcError(`raft term mismatch: requested ${term}, current ${raft.term}`);
    return raft;
  }

  self(): Instance | undefined {
    return this.identity === null ? undefined : this.tables.instance(this.identity.instanceId);
  }

  // --- change notification ----------------------------------------------------------------------

  /** Resolves at the next applied entry, role change or explicit poke, or after `timeoutMs`. */
  nextChange(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      let cancel: (() => void) | null = null;
      const listener = (): void => {
        this.changeListeners.delete(listener);
        cancel?.();
        resolve();
      };
      this.changeListeners.add(listener);
      cancel = this.env.clock.after(timeoutMs, listener);
    });
  }

  changed(): void {
    for (const listener of [...this.changeListeners]) listener();
  }

  // --- ending ------------------------------------------------------------------------------------

  /** Stops everything and exits with `code`. */
  exit(code: number, reason: string): void {
    if (this.exitRequested) return;
    this.exitRequested = true;
    this.state = 'exited';
    this.log.info('exiting', { code, reason });
    this.raft?.stop();
    this.server?.close();
    this.pool.closeAll();
    this.env.lifecycle.exit(code);
  }

  fatal(reason: string, code: number): void {
    this.log.error(reason);
    this.exit(code, reason);
  }

  /** Values for `pico.args`. */
  args(): Record<string, MpValue> {
    const o = this.options;
    return {
      cluster_id: o.clusterId,
      instance_id: o.instanceId ?? null,
      replicaset_id: o.replicasetId ?? null,
      listen: o.listen,
      advertise_address: o.advertise,
      peers: [...o.peers],
      failure_domain: { ...o.failureDomain },
      init_replication_factor: o.initReplicationFactor,
    };
  }
}
