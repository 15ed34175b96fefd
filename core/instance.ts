/**
 * An instance's life: discover -> boot | join -> postjoin -> online -> shutdown.
 *
 * A fresh data directory discovers its peers first (Picodata needs a supervisor and a restart
 * for this because of Tarantool; here discovery simply happens before anything is written). An
 * instance whose data directory holds an identity skips discovery and restarts with it.
 * The same program runs as a daemon (runtime-real) and in the simulator (runtime-sim).
 */

import type { AppliedEntry } from './cluster/raft-node.ts';
import type { Identity } from './cluster/raft-store.ts';
import type { Env, Program } from './env/env.ts';
import { NetError } from './env/network.ts';
import { exitOnStorageFailure } from './env/storage-failure.ts';
import { Governor } from './governor/executor.ts';
import type { IprotoBackend } from './iproto/backend.ts';
import { IprotoServer } from './iproto/server.ts';
import { NodeBackend } from './node/backend.ts';
import { boot, BOOT_ENTRIES } from './node/boot.ts';
import { discover } from './node/discover.ts';
import { join } from './node/join.ts';
import { Node } from './node/node.ts';
import { EXIT_FAILURE, EXIT_OK, type NodeOptions } from './node/options.ts';
import { Sentinel } from './node/sentinel.ts';
import { VshardBackground } from './vshard/storage-background.ts';
import { ReplicationApplier } from './replication/applier.ts';
import { SyncQuorum } from './replication/synchro.ts';
import { shutdown } from './node/shutdown.ts';
import { requestTargetGrade } from './node/target-grade.ts';

export interface InstanceHooks {
  /** The node exists (stores open); for tests and the simulator's observers. */
  opened?(node: Node, backend: NodeBackend): void;
  /** postjoin finished: the instance asked for Online and serves. */
  online?(node: Node): void;
  /** Runs at postjoin before the instance reports itself Online (the `--script` module). */
  postjoin?(node: Node, backend: NodeBackend): void | Promise<void>;
  /** Every applied entry (the simulator's state-machine-safety checker listens here). */
  applied?(node: Node, entry: AppliedEntry): void;
  /** Raft role changes (the election-safety checker). */
  roleChanged?(node: Node, role: string, term: number, leaderId: number): void;
  /** Wraps what the iproto server serves (the daemon counts requests and latencies here). */
  wrapBackend?(backend: IprotoBackend): IprotoBackend;
}

export function instanceProgram(options: NodeOptions, hooks: InstanceHooks = {}): Program {
  return async (env: Env) => {
    const node = await Node.open(env, options);
    if (node === null) return;
    const backend = new NodeBackend(node);
    hooks.opened?.(node, backend);
    if (!(await listen(node, hooks.wrapBackend?.(backend) ?? backend))) return;
    const governor = new Governor(node);
    const sentinel = new Sentinel(node);
    const vshard = new VshardBackground(node);
    const applier = new ReplicationApplier(node);
    const syncQuorum = new SyncQuorum(node);
    node.replicaAcks = syncQuorum;
    node.box.setSyncGate((lsn) => syncQuorum.wait(lsn));
    const stopBackground = (): void => {
      governor.stop();
      sentinel.stop();
      vshard.stop();
      applier.stop();
    };
    env.lifecycle.onStop((signal) => void shutdown(node, signal, stopBackground));
    if (node.identity?.expelled === true) {
      node.fatal('this instance has been expelled from the cluster and cannot start again', EXIT_FAILURE);
      return;
    }
    let identity: Identity | null;
    try {
      identity = await establish(node);
    } catch (error) {
      // Boot and join persist the identity and the first Raft entries: a disk that fails here
      // ends the process with the storage exit codes, as a failure while opening would.
      if (exitOnStorageFailure(env, error, 'cannot persist the instance identity')) return;
      throw error;
    }
    if (identity === null || node.state === 'exited') return;
    const restarting = node.identity !== null && node.state === 'starting';
    startRaft(node, identity, hooks);
    if (restarting && !(await checkNotExpelled(node))) return;
    void governor.run();
    void sentinel.run();
    void vshard.run();
    void applier.run();
    await postjoin(node, backend, hooks);
  };
}

async function listen(node: Node, backend: IprotoBackend): Promise<boolean> {
  const env = node.env;
  try {
    node.server = await IprotoServer.listen({ net: env.net, random: env.random, log: env.log }, { address: node.options.listen, backend });
    node.log.info('listening', { address: node.options.listen });
    return true;
  } catch (error) {
    if (!(error instanceof NetError)) throw error;
    node.fatal(`cannot listen on ${node.options.listen}: ${error.message}`, EXIT_FAILURE);
    return false;
  }
}

/** The identity to run with: the stored one (restart), or a new one from boot or join. */
async function establish(node: Node): Promise<Identity | null> {
  if (node.identity !== null) {
    node.log.info('restarting', { instance_id: node.identity.instanceId, raft_id: node.identity.raftId });
    return node.identity;
  }
  const role = await discover(node);
  node.discovery = null;
  if (role.kind === 'leader') return boot(node);
  return join(node, role.leader);
}

function startRaft(node: Node, identity: Identity, hooks: InstanceHooks): void {
  const raft = node.startRaft(identity, {
    applied: (entry) => {
      hooks.applied?.(node, entry);
      onApplied(node, entry);
    },
    roleChanged: (role, leaderId, term) => {
      node.log.info('raft role changed', { role, leader_id: leaderId, term });
      hooks.roleChanged?.(node, role, term, leaderId);
    },
  });
  // The bootstrap instance is the sole voter: it need not wait out an election timeout.
  if (identity.raftId === 1 && raft.lastIndex === BOOT_ENTRIES && raft.term === 1) {
    void raft.waitApplied(BOOT_ENTRIES, 60_000).then(() => raft.campaign(), () => undefined);
  }
}

function onApplied(node: Node, entry: AppliedEntry): void {
  const op = entry.op;
  if (op === null) return;
  if (op.kind === 'info') node.log.info('raft info', { index: entry.index, message: op.message });
  if (op.kind !== 'persist_instance' && op.kind !== 'update_instance') return;
  const instanceId = op.kind === 'persist_instance' ? op.instance.instanceId : op.instanceId;
  if (node.identity === null || instanceId !== node.identity.instanceId) return;
  const self = node.self();
  if (self?.currentGrade.variant === 'Expelled' && self.raftId === node.identity.raftId && node.state === 'online') {
    node.log.info('this instance has been expelled from the cluster');
    node.exit(EXIT_OK, 'expelled');
  }
}

/** A restarted instance replays its log first; one that was expelled refuses to run. */
async function checkNotExpelled(node: Node): Promise<boolean> {
  const raft = node.requireRaft();
  await raft.waitApplied(raft.commit, 60_000).catch(() => undefined);
  const self = node.self();
  if (self !== undefined && self.currentGrade.variant === 'Expelled' && self.raftId === node.identity?.raftId) {
    node.fatal('this instance has been expelled from the cluster and cannot start again', EXIT_FAILURE);
    return false;
  }
  return true;
}

async function postjoin(node: Node, backend: NodeBackend, hooks: InstanceHooks): Promise<void> {
  node.state = 'postjoin';
  await hooks.postjoin?.(node, backend);
  const tuning = node.options.tuning;
  for (;;) {
    if (node.state !== 'postjoin') return; // stopped meanwhile
    const outcome = await requestTargetGrade(node, 'Online', tuning.postjoinTimeoutMs);
    if (outcome.kind === 'ok') break;
    if (outcome.kind === 'refused') {
      node.fatal(`cannot become Online: ${outcome.reason}`, EXIT_FAILURE);
      return;
    }
    node.log.verbose('postjoin: retrying the Online request', { reason: outcome.reason });
    await node.nextChange(tuning.shutdownRetryMs);
  }
  node.state = 'online';
  node.log.info('postjoin finished, target grade Online requested');
  hooks.online?.(node);
}
