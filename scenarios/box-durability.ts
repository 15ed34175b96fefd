/**
 * box-durability: clients write to a user space on every instance (each its own replicaset
 * master, WAL mode `fsync`) while the nemesis cuts power, kills processes, restarts them, rots
 * stored values and makes writes and fsyncs fail. A write acknowledged to its client must be
 * found on that instance once everything is back, unless its data directory was wiped after
 * the acknowledgement (a rotted one the instance refuses to start from): Tarantool's promise for
 * `wal_mode = 'fsync'` on one instance, under the disk faults a real disk has.
 *
 * The box WAL's failure paths (a failed write rolls back its batch, a failed cleanup breaks the
 * WAL until restart) are reached here; raft-safety writes only through Raft. So are checkpoints
 * (`box.snapshot()`, taken every CHECKPOINT_INTERVAL_MS_MIN..MAX on a random instance): a crash
 * or a failed write in the middle of one, a snapshot written while clients keep writing, the
 * WAL trimmed up to it, and recovery from snapshot plus the WAL after it.
 */

import type { MpValue } from '../core/codec/msgpack.ts';
import type { Node } from '../core/node/node.ts';
import { NO_DISK_FAULTS } from '../runtime-sim/disk.ts';
import type { Scenario, ScenarioContext } from '../runtime-sim/scenario.ts';
import type { SimHost } from '../runtime-sim/world.ts';
import { checkSettled, clusterState, diskScenarioWorldOptions, instanceHosts, movedRestartPort, powerCutAllAndRestart, quorumKeepsData, restartUntilOnline, restartWipingCorrupt, setupCluster, startAllOnline, type ClusterScenarioState } from './lib/cluster-scenario.ts';
import { Nemesis } from './lib/nemesis.ts';
import type { SimRandom } from '../runtime-sim/random.ts';

const SPACE = 'kv';
const PUT = 'kv_put';
const CLIENTS = 3;
const SAFETY_PHASE_MS = 40_000;
const CALL_TIMEOUT_MS = 5_000;
const CHECKPOINT_INTERVAL_MS_MIN = 500;
const CHECKPOINT_INTERVAL_MS_MAX = 3_000;
/** A checkpoint still running this long on a live instance is stuck (a crash abandons one). */
const CHECKPOINT_TIMEOUT_MS = 60_000;

interface Acked {
  readonly instance: string;
  readonly key: string;
  readonly value: string;
  readonly atMs: number;
}

interface Workload {
  readonly acked: Acked[];
  /** When each instance's data directory was last wiped (virtual ms). */
  readonly wipedAtMs: Map<string, number>;
  stopped: boolean;
  failed: number;
  checkpoints: number;
  checkpointsFailed: number;
  /** Draws which restarts move to a new port. */
  readonly moves: SimRandom;
}

const workloads = new WeakMap<ScenarioContext, Workload>();

/** `kv_put(key, value)`: a replace into the local `kv` space, created on first use. */
async function put(node: Node, args: readonly MpValue[]): Promise<MpValue> {
  const [key, value] = args as [string, string];
  const box = node.box;
  if (!box.hasSpace(SPACE)) {
    await box.createSpace(SPACE, { format: [{ name: 'key', type: 'string' }, { name: 'value', type: 'string' }] });
    await box.createIndex(SPACE, 'pk', { parts: [['key', 'string']] });
  }
  await box.space(SPACE).replace([key, value]);
  return true;
}

/** The supervisor's restart, remembering when a corrupt data directory was wiped. */
function restart(state: ClusterScenarioState, workload: Workload, ctx: ScenarioContext, host: SimHost): void {
  if (restartWipingCorrupt(state, host, movedRestartPort(workload.moves))) workload.wipedAtMs.set(host.name, ctx.world.nowMs);
}

async function client(ctx: ScenarioContext, state: ClusterScenarioState, workload: Workload, id: number): Promise<void> {
  for (let seq = 0; !workload.stopped; seq++) {
    const running = state.names.filter((n) => state.cluster.node(n)?.state === 'online');
    if (running.length === 0) {
      await ctx.world.sleep(200);
      continue;
    }
    const instance = running[ctx.random.int(running.length)]!;
    const key = `${instance}-c${id}-${seq}`;
    const value = `v${seq}`;
    const result = await state.cluster.call(instance, PUT, [key, value], CALL_TIMEOUT_MS);
    if (result.ok && result.value[0] === true) workload.acked.push({ instance, key, value, atMs: ctx.world.nowMs });
    else workload.failed++;
    await ctx.world.sleep(20 + ctx.random.int(100));
  }
}

/** An operator's `box.snapshot()` now and then; it may fail (disk faults, one already running). */
async function checkpointer(ctx: ScenarioContext, state: ClusterScenarioState, workload: Workload): Promise<void> {
  const random = ctx.random.fork('checkpoints');
  while (!workload.stopped) {
    await ctx.world.sleep(CHECKPOINT_INTERVAL_MS_MIN + random.int(CHECKPOINT_INTERVAL_MS_MAX - CHECKPOINT_INTERVAL_MS_MIN));
    const online = state.names.filter((n) => state.cluster.node(n)?.state === 'online');
    if (online.length === 0) continue;
    const name = online[random.int(online.length)]!;
    const node = state.cluster.node(name);
    if (node === undefined) continue;
    const outcome = await Promise.race([
      node.box.checkpoint().then(
        () => 'done' as const,
        () => 'failed' as const,
      ),
      ctx.world.sleep(CHECKPOINT_TIMEOUT_MS).then(() => 'timeout' as const),
    ]);
    if (outcome === 'done') workload.checkpoints++;
    else workload.checkpointsFailed++;
    // A crash abandons the checkpoint (its promise never settles); on the same process it is stuck.
    if (outcome === 'timeout' && state.cluster.node(name) === node && state.cluster.host(name).running) {
      ctx.violation(`a checkpoint on ${name} did not finish in ${CHECKPOINT_TIMEOUT_MS} ms`);
    }
  }
}

export const boxDurability: Scenario = {
  name: 'box-durability',
  description: 'acknowledged box writes (wal_mode fsync) survive crashes, restarts and disk faults',
  defaultNodes: 3,
  eventsMax: 100_000_000,
  virtualMsMax: 1_800_000,

  worldOptions: (_seed, _nodes, random) => diskScenarioWorldOptions(random, 3),

  async setup(ctx) {
    const state = setupCluster(ctx, { initReplicationFactor: 1, walMode: 'fsync' });
    const previous = state.cluster.hooks.opened;
    state.cluster.hooks = {
      ...state.cluster.hooks,
      opened: (node, backend) => {
        previous?.(node, backend);
        backend.userFunctions.set(PUT, (args) => put(node, args));
      },
    };
    workloads.set(ctx, { acked: [], wipedAtMs: new Map(), stopped: false, failed: 0, checkpoints: 0, checkpointsFailed: 0, moves: ctx.world.random.fork('moved-restarts') });
  },

  async run(ctx) {
    const state = clusterState(ctx);
    const workload = workloads.get(ctx)!;
    if (!(await startAllOnline(ctx, state, 120_000))) return;
    const faults = ctx.world.random.fork('disk-faults');
    const diskFaults = { ...ctx.world.diskFaults, writeErrorRate: faults.pick([0.001, 0.005, 0.02]), fsyncErrorRate: faults.pick([0, 0.001, 0.01]) };
    for (const name of state.names) state.cluster.host(name).disk.faults = diskFaults;
    const tasks = [...Array.from({ length: CLIENTS }, (_, id) => client(ctx, state, workload, id)), checkpointer(ctx, state, workload)];
    const nemesis = new Nemesis(ctx, {
      actions: ['crash_power', 'crash_process', 'restart', 'restart', 'rot_disk', 'clog_one', 'heal'],
      meanIntervalMs: 2_000,
      crashedMax: 1,
      restart: (host) => restart(state, workload, ctx, host),
      victims: () => instanceHosts(state),
      corruptedMax: 1,
      mayDestroy: (host, destroyed) => quorumKeepsData(state, host, destroyed),
    });
    await nemesis.run(SAFETY_PHASE_MS);
    ctx.world.net.heal();
    for (const name of state.names) state.cluster.host(name).disk.faults = NO_DISK_FAULTS;
    workload.stopped = true;
    await Promise.all(tasks);
    const online = await restartUntilOnline(ctx, state, (host) => restart(state, workload, ctx, host), 180_000);
    if (!online) ctx.violation('not every instance came back Online after the faults stopped');
    await powerCutAllAndRestart(ctx, state, (host) => restart(state, workload, ctx, host));
    ctx.note(`workload: ${workload.acked.length} writes acknowledged, ${workload.failed} failed or timed out; ${workload.checkpoints} checkpoints, ${workload.checkpointsFailed} failed`);
    if (workload.acked.length === 0) ctx.violation('no write was acknowledged during the faults');
  },

  async check(ctx) {
    const state = clusterState(ctx);
    const workload = workloads.get(ctx)!;
    await checkSettled(ctx, state);
    let lost = 0;
    for (const write of workload.acked) {
      const wipedAtMs = workload.wipedAtMs.get(write.instance);
      if (wipedAtMs !== undefined && wipedAtMs >= write.atMs) continue; // the operator threw it away
      const node = state.cluster.node(write.instance);
      const box = node?.box;
      const tuple = box !== undefined && box.hasSpace(SPACE) ? box.space(SPACE).get([write.key]) : null;
      if (tuple?.[1] !== write.value && lost++ < 5) {
        ctx.violation(`acknowledged write ${write.key}=${write.value} on ${write.instance} is missing after restarts (found ${JSON.stringify(tuple?.[1] ?? null)})`);
      }
    }
    if (lost > 5) ctx.violation(`... and ${lost - 5} more acknowledged writes missing`);
  },
};
