/**
 * raft-safety: the Raft properties of a cluster of 3-7 instances (drawn from the seed) under
 * partitions, clogging, crashes (process and power), disk faults (EIO on writes and fsyncs, rot
 * of stored bytes) and clock drift, while clients write through CaS.
 *
 * A restart may move the instance to a new port (movedRestartPort): the others must learn its
 * new address from the Raft log, and it must find them by theirs. Before the final checks every
 * instance loses power once more, so what they check is what the disks kept.
 *
 * Safety, checked throughout and at the end: at most one leader per term; no two instances apply
 * different entries at one index; logs agree on their common committed prefix; every write a
 * client saw committed (CaS accepted and the index applied with the key in place) is in the final
 * tables of every instance. Liveness: after the faults stop, every instance is Online and a new
 * write commits within a bounded time.
 */

import type { MpValue } from '../core/codec/msgpack.ts';
import { decodeOp } from '../core/cluster/ops.ts';
import { votersNeeded } from '../core/governor/conf-change.ts';
import { NO_DISK_FAULTS } from '../runtime-sim/disk.ts';
import type { Scenario, ScenarioContext } from '../runtime-sim/scenario.ts';
import { checkSettled, clusterState, diskScenarioWorldOptions, instanceHosts, movedRestartPort, powerCutAllAndRestart, quorumKeepsData, restartUntilOnline, restartWipingCorrupt, setupCluster, startAllOnline, type ClusterScenarioState } from './lib/cluster-scenario.ts';
import { runningNodes } from './lib/cluster-checks.ts';
import { Nemesis } from './lib/nemesis.ts';
import type { SimHost } from '../runtime-sim/world.ts';

const SAFETY_PHASE_MS = 40_000;
const CLIENTS = 4;
const LIVENESS_WRITE_BUDGET_MS = 30_000;

interface Workload {
  readonly acked: Map<string, string>;
  attempted: number;
  stopped: boolean;
}

const workloads = new WeakMap<ScenarioContext, Workload>();

export const raftSafety: Scenario = {
  name: 'raft-safety',
  description: 'Raft safety and liveness on 3-7 instances under partitions, crashes, disk faults and clock drift',
  defaultNodes: 5,
  nodesFromSeed: (seed) => 3 + (seed % 5),
  eventsMax: 100_000_000,
  virtualMsMax: 1_800_000,

  worldOptions: (_seed, _nodes, random) => diskScenarioWorldOptions(random, 5),

  async setup(ctx) {
    const state = setupCluster(ctx, { initReplicationFactor: 1 });
    const drift = ctx.world.random.fork('clock-drift');
    for (const name of state.names) {
      const host = state.cluster.host(name);
      host.clock.driftRatio = (drift.float() - 0.5) * 0.1; // up to 5% fast or slow
      host.clock.offsetMs = drift.int(1_000_000);
    }
    workloads.set(ctx, { acked: new Map(), attempted: 0, stopped: false });
  },

  async run(ctx) {
    const state = clusterState(ctx);
    const workload = workloads.get(ctx)!;
    if (!(await startAllOnline(ctx, state, 120_000))) return;
    // Disk faults start once the cluster is up (a supervisor restarts what they kill: the nemesis).
    const faults = ctx.world.random.fork('disk-faults');
    const diskFaults = {
      ...ctx.world.diskFaults,
      writeErrorRate: faults.pick([0, 0, 0.001, 0.005]),
      fsyncErrorRate: faults.pick([0, 0, 0.001]),
    };
    for (const name of state.names) state.cluster.host(name).disk.faults = diskFaults;
    const clients = Array.from({ length: CLIENTS }, (_, c) => writer(ctx, state, workload, c));
    const moves = ctx.world.random.fork('moved-restarts');
    const restart = (host: SimHost): void => {
      restartWipingCorrupt(state, host, movedRestartPort(moves));
    };
    const nemesis = new Nemesis(ctx, {
      actions: ['partition_halves', 'partition_reset', 'isolate_one', 'cut_one_way', 'clog_one', 'swizzle_clog', 'crash_power', 'crash_process', 'restart', 'restart', 'heal', 'rot_disk'],
      meanIntervalMs: 2_000,
      crashedMax: Math.max(1, Math.floor((state.names.length - 1) / 2)),
      restart,
      victims: () => instanceHosts(state),
      corruptedMax: Math.floor((votersNeeded(state.names.length) - 1) / 2),
      mayDestroy: (host, destroyed) => quorumKeepsData(state, host, destroyed),
    });
    await nemesis.run(SAFETY_PHASE_MS);
    ctx.note('liveness phase');
    ctx.world.net.heal();
    for (const name of state.names) state.cluster.host(name).disk.faults = NO_DISK_FAULTS;
    workload.stopped = true;
    await Promise.all(clients);
    const online = await restartUntilOnline(ctx, state, (host) => restartWipingCorrupt(state, host), 180_000);
    if (!online) ctx.violation('not every instance came back Online after the faults stopped');
    await powerCutAllAndRestart(ctx, state, (host) => restartWipingCorrupt(state, host));
    if (!(await livenessProbe(state, workload))) ctx.violation(`no write committed within ${LIVENESS_WRITE_BUDGET_MS} ms after healing`);
  },

  async check(ctx) {
    const state = clusterState(ctx);
    const workload = workloads.get(ctx)!;
    await checkSettled(ctx, state);
    for (const node of runningNodes(state.cluster)) {
      for (const [key, value] of workload.acked) {
        if (node.tables.property(key) !== value) {
          ctx.violation(`acknowledged write ${key}=${value} is missing on ${node.options.listen} (${String(node.tables.property(key))})`);
          return;
        }
      }
    }
    checkLogMatching(ctx, state);
    if (workload.acked.size === 0) ctx.violation(`no write was acknowledged out of ${workload.attempted}: the workload did not exercise anything`);
  },
};

/** A crashed instance restarts; one that refused to start on corrupt data is wiped and rejoins. */
async function writer(ctx: ScenarioContext, state: ClusterScenarioState, workload: Workload, client: number): Promise<void> {
  for (let seq = 0; !workload.stopped; seq++) {
    await write(state, workload, `c${client}-${seq}`, `v${seq}`, 5_000);
    await ctx.world.sleep(50 + ctx.random.int(200));
  }
}

/** One CaS insert through a random running instance; records it as acknowledged once applied there. */
async function write(state: ClusterScenarioState, workload: Workload, key: string, value: string, timeoutMs: number): Promise<boolean> {
  const { cluster } = state;
  const deadlineMs = cluster.world.nowMs + timeoutMs;
  while (cluster.world.nowMs < deadlineMs) {
    const running = state.names.filter((n) => cluster.node(n)?.state === 'online');
    if (running.length === 0) {
      await cluster.world.sleep(200);
      continue;
    }
    const via = running[workload.attempted++ % running.length]!;
    const op: MpValue = { kind: 'insert', space: '_picodata_property', tuple: [key, value] };
    const accepted = await cluster.call(via, 'pico.cas', [op], 2_000);
    if (!accepted.ok) {
      if (/Duplicate key/.test(JSON.stringify(accepted.error))) return false; // an earlier attempt landed; unknown outcome
      await cluster.world.sleep(100);
      continue;
    }
    const index = accepted.value[0];
    const waited = await cluster.call(via, 'pico.raft_wait_index', [index ?? 0, 2], 3_000);
    if (waited.ok && cluster.node(via)?.tables.property(key) === value) {
      workload.acked.set(key, value);
      return true;
    }
    return false; // outcome unknown (maybe committed later): neither acknowledged nor retried
  }
  return false;
}

/** Writes the liveness probe may try after healing before it calls the cluster not live. */
const LIVENESS_ATTEMPTS_MAX = 3;

/**
 * Some write is acknowledged within the budget. An attempt whose outcome is unknown (its entry
 * lost to a leader change, a wait that timed out) proves nothing either way: the next one uses a
 * fresh key, so an earlier attempt that did land cannot make it fail as a duplicate.
 */
async function livenessProbe(state: ClusterScenarioState, workload: Workload): Promise<boolean> {
  const deadlineMs = state.cluster.world.nowMs + LIVENESS_WRITE_BUDGET_MS;
  // A few unknown outcomes are leader changes settling; more means leadership keeps flapping.
  for (let attempt = 0; attempt < LIVENESS_ATTEMPTS_MAX && state.cluster.world.nowMs < deadlineMs; attempt++) {
    if (await write(state, workload, `liveness-${attempt}`, 'probe', deadlineMs - state.cluster.world.nowMs)) return true;
  }
  return false;
}

/** Running instances agree entry by entry on the committed prefix their logs share. */
function checkLogMatching(ctx: ScenarioContext, state: ClusterScenarioState): void {
  const nodes = runningNodes(state.cluster).filter((n) => n.raft !== null);
  if (nodes.length < 2) return;
  const from = Math.max(...nodes.map((n) => n.raft!.status().firstIndex));
  const to = Math.min(...nodes.map((n) => n.raft!.commit));
  const reference = nodes[0]!.raft!.entries(from, to);
  for (const node of nodes.slice(1)) {
    const entries = node.raft!.entries(from, to);
    for (let i = 0; i < Math.min(entries.length, reference.length); i++) {
      const a = reference[i]!;
      const b = entries[i]!;
      const same = a.index === b.index && a.term === b.term && a.kind === b.kind && a.data.length === b.data.length && a.data.every((x, k) => x === b.data[k]);
      if (!same) {
        const show = (e: typeof a): string => (e.kind === 'normal' && e.data.length > 0 ? JSON.stringify(decodeOp(e.data)) : e.kind);
        ctx.violation(`log matching: at index ${a.index} ${nodes[0]!.identity?.instanceId} has term ${a.term} ${show(a)}, ${node.identity?.instanceId} has term ${b.term} ${show(b)}`);
        return;
      }
    }
  }
}
