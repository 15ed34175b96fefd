/**
 * replication: clients write to the master of each replicaset (RF 2 or 3, drawn per seed) while
 * the network misbehaves and instances crash and restart; masters that stay down long enough
 * are replaced by the governor, and come back as replicas. Some seeds checkpoint every few
 * hundred rows, so replicas that fall behind must copy their master whole.
 *
 * A write inserts `{op_id, client}` into `data`; a delete removes one of the client's own
 * earlier inserts. On half the seeds `data` is asynchronous (core/replication/applier.ts): an
 * acknowledged write can be lost when its master fails over before a replica fetched it, and
 * only then; on the others it is synchronous (core/replication/synchro.ts): a write is
 * acknowledged once a quorum of its replicaset holds it, and no failover may lose it.
 *
 * Checked:
 * - once the faults stop, every member of a replicaset holds exactly its master's `data`;
 * - no tuple that no client wrote appears anywhere, and no deleted one is back unless its
 *   replicaset changed masters (a lost delete);
 * - every acknowledged insert is there and every acknowledged delete stuck: always for a
 *   synchronous space, for an asynchronous one where the master never changed (elsewhere the
 *   losses are counted in the trace);
 * - the cluster settles (grades, one applied index) as in the other scenarios.
 */

import type { MpValue } from '../core/codec/msgpack.ts';
import type { Node } from '../core/node/node.ts';
import type { Scenario, ScenarioContext } from '../runtime-sim/scenario.ts';
import { checkSettled, clusterState, clusterWorldOptions, domainOf, instanceHosts, restartUntilOnline, restartWipingCorrupt, setupCluster, type ClusterScenarioState } from './lib/cluster-scenario.ts';
import { Nemesis, NETWORK_AND_CRASH_ACTIONS } from './lib/nemesis.ts';
import { masterOf, membersOf, replicasets, whileMaster } from './lib/replicasets.ts';

const DATA = 'data';
const PUT = 'repl_put';
const DEL = 'repl_del';
const CLIENTS = 4;
const WORKLOAD_MS = 30_000;
const CLIENT_TIMEOUT_MS = 2_000;
/** After healing: members must hold their master's data within this (copies included). */
const CONVERGE_MS = 120_000;
/** Rows between checkpoints on the seeds that checkpoint often (others: the default). */
const CHECKPOINT_ROWS_OFTEN = 300;

interface Tally {
  nextOpId: number;
  /** Inserts a client attempted: op id -> replicaset. */
  readonly attempted: Map<number, string>;
  /** Acknowledged inserts no delete was attempted of: op id -> replicaset. */
  readonly present: Map<number, string>;
  /** Acknowledged deletes: op id -> replicaset. */
  readonly deleted: Map<number, string>;
  /** Masters seen per replicaset over the run. */
  readonly masters: Map<string, Set<string>>;
  acks: number;
  failures: number;
}

const tallies = new WeakMap<ScenarioContext, Tally>();
/** Whether `data` is a synchronous space (drawn per seed). */
const syncRuns = new WeakMap<ScenarioContext, boolean>();

/** Registers the write functions and creates `data` on every instance once it is writable. */
function installFunctions(state: ClusterScenarioState, isSync: boolean): void {
  const previous = state.cluster.hooks.opened;
  state.cluster.hooks = {
    ...state.cluster.hooks,
    opened: (node, backend) => {
      previous?.(node, backend);
      backend.userFunctions.set(PUT, async (args) => {
        await node.box.space(DATA).insert([args[0] as number, args[1] as number]);
        return true;
      });
      backend.userFunctions.set(DEL, async (args) => (await node.box.space(DATA).delete([args[0] as number])) !== null);
      void whileMaster(node, () => createData(node, isSync));
    },
  };
}

/** Creates `data`, or the part a crash between its DDL statements left missing. */
async function createData(node: Node, isSync: boolean): Promise<void> {
  const box = node.box;
  if (!box.hasSpace(DATA)) await box.createSpace(DATA, { isSync, format: [{ name: 'op_id', type: 'unsigned' }, { name: 'client', type: 'unsigned' }] });
  if (box.space(DATA).indexes().length === 0) await box.createIndex(DATA, 'pk', { parts: [['op_id', 'unsigned']] });
  if (box.space(DATA).indexes().length === 1) await box.createIndex(DATA, 'client', { parts: [['client', 'unsigned']], unique: false });
}

async function client(ctx: ScenarioContext, state: ClusterScenarioState, tally: Tally, clientId: number, untilMs: number): Promise<void> {
  const random = ctx.random.fork(`client-${clientId}`);
  const mine: Array<{ opId: number; replicasetId: string }> = [];
  while (ctx.world.nowMs < untilMs) {
    const sets = replicasets(state);
    const replicasetId = sets[random.int(Math.max(1, sets.length))];
    const master = replicasetId === undefined ? undefined : masterOf(state, replicasetId);
    if (replicasetId === undefined || master === undefined || !state.cluster.host(master).running) {
      await ctx.world.sleep(50);
      continue;
    }
    if (mine.length > 0 && random.chance(0.2)) {
      const victim = mine.splice(random.int(mine.length), 1)[0]!;
      const target = masterOf(state, victim.replicasetId);
      if (target === undefined) continue;
      // From here the insert's fate is unknown until the delete is acknowledged: a delete whose
      // reply is lost may have run.
      tally.present.delete(victim.opId);
      const result = await state.cluster.call(target, DEL, [victim.opId], CLIENT_TIMEOUT_MS);
      if (result.ok && result.value[0] === true) {
        tally.acks++;
        tally.deleted.set(victim.opId, victim.replicasetId);
      } else {
        tally.failures++;
      }
      continue;
    }
    const opId = tally.nextOpId++;
    tally.attempted.set(opId, replicasetId);
    const result = await state.cluster.call(master, PUT, [opId, clientId], CLIENT_TIMEOUT_MS);
    if (result.ok && result.value[0] === true) {
      tally.acks++;
      tally.present.set(opId, replicasetId);
      mine.push({ opId, replicasetId });
    } else {
      tally.failures++;
    }
  }
}

/** Records every replicaset's master as it changes (a master switch excuses losses there). */
async function watchMasters(ctx: ScenarioContext, state: ClusterScenarioState, tally: Tally, untilMs: number): Promise<void> {
  while (ctx.world.nowMs < untilMs) {
    for (const id of replicasets(state)) {
      const master = masterOf(state, id);
      if (master === undefined) continue;
      const seen = tally.masters.get(id) ?? new Set<string>();
      seen.add(master);
      tally.masters.set(id, seen);
    }
    await ctx.world.sleep(20);
  }
}

function dataOf(node: Node | undefined): MpValue[][] | null {
  if (node === undefined || !node.box.hasSpace(DATA) || node.box.space(DATA).indexes().length === 0) return null;
  return node.box.space(DATA).select([], { iterator: 'ALL' }) as MpValue[][];
}

/** Why some member does not hold its master's `data` yet, or null. */
function divergence(state: ClusterScenarioState): string | null {
  for (const id of replicasets(state)) {
    const master = masterOf(state, id);
    if (master === undefined) return `replicaset ${id} has no master`;
    const expected = JSON.stringify(dataOf(state.cluster.node(master)));
    for (const name of membersOf(state, id).filter((n) => n !== master)) {
      const held = JSON.stringify(dataOf(state.cluster.node(name)));
      if (held !== expected) return `${name} holds ${dataOf(state.cluster.node(name))?.length ?? 'no'} tuples of ${DATA}, its master ${master} ${dataOf(state.cluster.node(master))?.length ?? 'no'}`;
    }
  }
  return null;
}

function checkData(ctx: ScenarioContext, state: ClusterScenarioState, tally: Tally): void {
  // A synchronous write is acknowledged once a quorum holds it: no failover excuses its loss.
  const isSync = syncRuns.get(ctx) === true;
  const switched = (id: string): boolean => !isSync && (tally.masters.get(id)?.size ?? 0) > 1;
  const found = new Map<number, string>();
  for (const id of replicasets(state)) {
    const master = masterOf(state, id);
    for (const tuple of dataOf(master === undefined ? undefined : state.cluster.node(master)) ?? []) found.set(tuple[0] as number, id);
  }
  let lostInserts = 0;
  let lostDeletes = 0;
  for (const [opId, id] of found) {
    const wrote = tally.attempted.get(opId);
    if (wrote === undefined) ctx.violation(`op ${opId} is in ${DATA} of ${id}, and no client wrote it`);
    else if (wrote !== id) ctx.violation(`op ${opId} was written to replicaset ${wrote} and is in ${id}`);
    if (tally.deleted.has(opId)) {
      lostDeletes++;
      if (!switched(id)) ctx.violation(`op ${opId} was deleted (acknowledged) in ${id} and is back (${isSync ? 'synchronous space' : 'its master never changed'})`);
    }
  }
  for (const [opId, id] of tally.present) {
    if (found.has(opId)) continue;
    lostInserts++;
    if (!switched(id)) ctx.violation(`acknowledged insert op ${opId} is missing from ${id} (${isSync ? 'synchronous space' : 'its master never changed'})`);
  }
  const switches = [...tally.masters].filter(([, m]) => m.size > 1).map(([id, m]) => `${id}: ${[...m].join(' -> ')}`);
  ctx.note(`data: ${tally.acks} acknowledged, ${tally.failures} failed; ${found.size} tuples; lost to failover: ${lostInserts} inserts, ${lostDeletes} deletes; masters changed: ${switches.join('; ') || 'none'}`);
}

export const replication: Scenario = {
  name: 'replication',
  description: 'writes to replicaset masters while the network fails, instances crash and masters fail over',
  defaultNodes: 4,
  eventsMax: 150_000_000,
  virtualMsMax: 1_200_000,
  worldOptions: (_seed, _nodes, random) => clusterWorldOptions(random),

  async setup(ctx) {
    const replicationFactor = ctx.nodes >= 6 ? ctx.random.pick([2, 3]) : 2;
    const checkpointWalRowsMax = ctx.random.chance(0.5) ? CHECKPOINT_ROWS_OFTEN : undefined;
    const isSync = ctx.random.chance(0.5);
    syncRuns.set(ctx, isSync);
    ctx.note(`replication factor ${replicationFactor}; checkpoints ${checkpointWalRowsMax === undefined ? 'rarely' : `every ${checkpointWalRowsMax} rows`}; ${DATA} is ${isSync ? 'synchronous' : 'asynchronous'}`);
    const state = setupCluster(ctx, {
      initReplicationFactor: replicationFactor,
      walMode: 'fsync',
      // Sharding stays out of the way: this scenario is about one replicaset's data.
      tuning: { rebalancerIntervalMs: 0, vshardRecoveryIntervalMs: 0, ...(checkpointWalRowsMax === undefined ? {} : { checkpointWalRowsMax }) },
    });
    installFunctions(state, isSync);
  },

  async run(ctx) {
    const state = clusterState(ctx);
    for (const name of state.names) state.cluster.start(name, { failureDomain: domainOf(name) });
    if (!(await state.cluster.waitOnline(state.names, 120_000))) {
      ctx.violation(`not every instance reached Online in 120 s: ${state.names.filter((n) => !state.cluster.isOnline(n)).join(', ')}`);
      return;
    }
    const tally: Tally = { nextOpId: 1, attempted: new Map(), present: new Map(), deleted: new Map(), masters: new Map(), acks: 0, failures: 0 };
    tallies.set(ctx, tally);
    const untilMs = ctx.world.nowMs + WORKLOAD_MS;
    const nemesis = new Nemesis(ctx, {
      actions: NETWORK_AND_CRASH_ACTIONS,
      meanIntervalMs: 2_000,
      crashedMax: 1,
      restart: (host) => restartWipingCorrupt(state, host),
      victims: () => instanceHosts(state),
    });
    await Promise.all([
      ...Array.from({ length: CLIENTS }, (_, i) => client(ctx, state, tally, i + 1, untilMs)),
      watchMasters(ctx, state, tally, untilMs),
      nemesis.run(WORKLOAD_MS),
    ]);
    ctx.world.net.heal();
    if (!(await restartUntilOnline(ctx, state, (host) => restartWipingCorrupt(state, host), 180_000))) ctx.violation('not every instance came back Online after the faults');
    // Masters can still move while the grades settle: keep watching until the data agrees.
    const watching = watchMasters(ctx, state, tally, ctx.world.nowMs + CONVERGE_MS);
    let why: string | null = 'not looked yet';
    const converged = await ctx.world.waitFor(() => (why = divergence(state)) === null, CONVERGE_MS, 500);
    if (!converged) ctx.violation(`replicas did not converge on their masters within ${CONVERGE_MS / 1000} s of healing: ${why}`);
    void watching;
  },

  async check(ctx) {
    const state = clusterState(ctx);
    const tally = tallies.get(ctx);
    if (tally !== undefined) checkData(ctx, state, tally);
    await checkSettled(ctx, state);
  },
};
