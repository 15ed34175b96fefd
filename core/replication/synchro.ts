/**
 * Synchronous replication, the master's side (Tarantool's is_sync spaces and its limbo): a
 * transaction that wrote to a synchronous space is acknowledged to its client only once a
 * quorum of its replicaset holds it, this instance included.
 *
 * Replicas say what they hold by fetching (core/replication/relay.ts): each fetch carries the
 * replica's cursor into this instance's WAL, which it sends only after everything up to there is
 * durable in its own WAL. The quorum is Tarantool's default, N / 2 + 1 of the replicaset's
 * members (every instance of it that is not expelled, running or not): with RF 2 both copies,
 * so a replicaset whose replica is down takes no synchronous writes. A master switch then loses
 * no acknowledged synchronous write, provided the successor is the member that holds the most
 * of the old master's WAL (the governor picks it: core/governor/executor.ts).
 *
 * A transaction that does not gather its quorum within `replicationSynchroTimeoutMs` fails with
 * ER_SYNC_QUORUM_TIMEOUT but stays committed here and replicates later: as with Tarantool 3's
 * txn_synchro_timeout, its outcome is unknown to the client (a failover before any replica
 * fetched it loses it, otherwise it is kept).
 */

import { boxErrors } from '../box/errors.ts';
import type { Cancel } from '../env/clock.ts';
import type { Node } from '../node/node.ts';
import { raftIdOfOrigin } from './state-spaces.ts';

interface Waiter {
  readonly lsn: number;
  readonly resolve: () => void;
  cancel: Cancel;
}

export class SyncQuorum {
  private readonly node: Node;
  /** Raft id of a replica -> its cursor into this instance's WAL (what it holds, durably). */
  private readonly acked = new Map<number, number>();
  /** Transactions waiting for their quorum, in LSN order (they pass the gate in commit order). */
  private waiters: Waiter[] = [];

  constructor(node: Node) {
    this.node = node;
  }

  /** The box's sync gate: resolves once a quorum holds the WAL up to `lsn`. */
  wait(lsn: number): Promise<void> {
    if (this.confirmed(lsn, this.members())) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { lsn, resolve, cancel: () => undefined };
      waiter.cancel = this.node.env.clock.after(this.node.options.tuning.replicationSynchroTimeoutMs, () => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(boxErrors.syncQuorumTimeout());
      });
      this.waiters.push(waiter);
    });
  }

  /** Replica `origin` holds this instance's WAL up to `lsn`. */
  ack(origin: number, lsn: number): void {
    const raftId = raftIdOfOrigin(origin);
    if (lsn <= (this.acked.get(raftId) ?? 0)) return;
    this.acked.set(raftId, lsn);
    if (this.waiters.length === 0) return;
    const members = this.members();
    const waiting: Waiter[] = [];
    for (const w of this.waiters) {
      if (!this.confirmed(w.lsn, members)) {
        waiting.push(w);
        continue;
      }
      w.cancel();
      w.resolve();
    }
    this.waiters = waiting;
  }

  /** Members of this instance's replicaset that count towards the quorum, by raft id. */
  private members(): Set<number> {
    const node = this.node;
    const self = node.self();
    const out = new Set<number>();
    if (self === undefined) return out;
    for (const i of node.tables.instances()) {
      if (i.replicasetId === self.replicasetId && i.targetGrade.variant !== 'Expelled') out.add(i.raftId);
    }
    return out;
  }

  private confirmed(lsn: number, members: ReadonlySet<number>): boolean {
    const quorum = Math.floor(members.size / 2) + 1;
    let holders = 1; // this instance: its own WAL has the transaction before the gate is asked
    for (const [origin, acked] of this.acked) if (acked >= lsn && members.has(origin) && origin !== this.node.identity?.raftId) holders++;
    return holders >= quorum;
  }
}
