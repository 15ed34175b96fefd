/**
 * Shared setup for cluster scenarios: a SimCluster with checkers attached, instance names
 * `i1..iN`, failure domains spread over three DCs, and helpers that wait with a budget and report
 * a violation instead of hanging.
 */

import { planConfChange } from '../../core/governor/conf-change.ts';
import { EXIT_CORRUPT_DATA } from '../../core/node/options.ts';
import { NO_DISK_FAULTS } from '../../runtime-sim/disk.ts';
import { DEFAULT_NET_FAULTS } from '../../runtime-sim/network.ts';
import type { ScenarioContext } from '../../runtime-sim/scenario.ts';
import type { SimRandom } from '../../runtime-sim/random.ts';
import type { SimHost, WorldOptions } from '../../runtime-sim/world.ts';
import { PORT, SimCluster, type InstanceSpec } from './cluster.ts';
import { ClusterChecker, runningNodes } from './cluster-checks.ts';

export const DOMAINS = ['A', 'B', 'C'] as const;

export interface ClusterScenarioState {
  readonly cluster: SimCluster;
  readonly checker: ClusterChecker;
  readonly names: string[];
}

const states = new WeakMap<ScenarioContext, ClusterScenarioState>();

export function setupCluster(ctx: ScenarioContext, defaults: InstanceSpec): ClusterScenarioState {
  const cluster = new SimCluster(ctx.world, { peers: ['i1:3301', 'i2:3301', 'i3:3301'], ...defaults });
  const checker = new ClusterChecker(ctx);
  cluster.hooks = checker.hooks();
  const names = Array.from({ length: ctx.nodes }, (_, i) => `i${i + 1}`);
  const state = { cluster, checker, names };
  states.set(ctx, state);
  return state;
}

export function clusterState(ctx: ScenarioContext): ClusterScenarioState {
  const state = states.get(ctx);
  if (state === undefined) throw new Error('cluster scenario: setup did not run');
  return state;
}

export function domainOf(name: string): { DC: string } {
  return { DC: DOMAINS[(Number(name.slice(1)) - 1) % DOMAINS.length]! };
}

/**
 * Network and fsync latency drawn per seed, for scenarios whose nemesis also hits the disk (the
 * draws keep one order, so a seed's run does not depend on who calls this).
 */
export function diskScenarioWorldOptions(random: SimRandom, latencyMeanSpreadMs: number): Partial<WorldOptions> {
  return {
    net: { ...DEFAULT_NET_FAULTS, latencyMsMin: 0.05 + random.float(), latencyMsMean: 0.1 + random.float() * latencyMeanSpreadMs },
    disk: { ...NO_DISK_FAULTS, fsyncLatencyMsMin: 0.1 + random.float(), fsyncLatencyMsMean: 0.5 + random.float() * 5 },
    buggify: random.chance(0.8),
  };
}

/**
 * A supervisor's restart: a data directory the instance refused as corrupt (exit 78) is wiped
 * first, as an operator would, and the instance rejoins. Returns whether it was wiped.
 * With `port`, the instance comes back listening at and advertising a new address (a container
 * rescheduled elsewhere), given the current addresses of the others as its peers; so does a
 * wiped one once any instance moved.
 */
export function restartWipingCorrupt(state: ClusterScenarioState, host: SimHost, port?: number): boolean {
  const last = host.history.at(-1);
  const wipe = last?.kind === 'exited' && last.code === EXIT_CORRUPT_DATA;
  if (wipe) host.disk.wipe();
  // Once anything moved, the default peers may all be stale: a supervisor passes current ones.
  const someMoved = state.names.some((n) => state.cluster.specOf(n)?.port !== undefined);
  const peers = port !== undefined || (wipe && someMoved) ? { peers: state.names.filter((n) => n !== host.name).map((n) => state.cluster.address(n)) } : {};
  state.cluster.start(host.name, { ...state.cluster.specOf(host.name), failureDomain: domainOf(host.name), ...(port === undefined ? {} : { port }), ...peers });
  return wipe;
}

/** Share of restarts that come back on a new port (PORT + 1..MOVED_PORTS). */
const MOVED_RESTART_CHANCE = 0.25;
const MOVED_PORTS = 3;

/** The port a restart moves to, drawn from `random`; undefined (it stays) most of the time. */
export function movedRestartPort(random: SimRandom): number | undefined {
  return random.chance(MOVED_RESTART_CHANCE) ? PORT + 1 + random.int(MOVED_PORTS) : undefined;
}

/**
 * Every instance loses power once more (the faults are off by now) and restarts: the checks
 * that follow see what the disks kept, not what stayed in memory on an instance that had not
 * restarted since a write.
 */
export async function powerCutAllAndRestart(ctx: ScenarioContext, state: ClusterScenarioState, restart: (host: SimHost) => void): Promise<void> {
  for (const name of state.names) state.cluster.host(name).crash('power');
  if (!(await restartUntilOnline(ctx, state, restart, 180_000))) ctx.violation('not every instance came back Online after the final power cut');
}

/**
 * Whether a quorum of voters keeps its stored data if `host`'s is destroyed, in every running
 * instance's view of the configuration that has voters, and in both halves of a joint one. Lost
 * are: `host`, the hosts in `destroyed` that have not rejoined (down, or wiped and not yet
 * admitted under the raft id the view gives them), and voters no instance owns any more (a wiped
 * instance rejoined under a new raft id). With no such view to ask, no.
 *
 * This is the nemesis's budget for destroying data: a cluster that loses a quorum of its durable
 * copies cannot recover by itself (seed 8076: the bootstrap leader was the only voter of the old
 * half of `AddNode(4), AddNode(5)`; seed 8098: one of two voters), and no configuration promises
 * to survive that.
 */
export function quorumKeepsData(state: ClusterScenarioState, host: SimHost, destroyed: ReadonlySet<string>): boolean {
  const views = runningNodes(state.cluster).flatMap((view) => {
    const status = view.raft?.status();
    return status !== undefined && status.voters.length > 0 ? [{ view, status }] : [];
  });
  if (views.length === 0) return false;
  return views.every(({ view, status }) => {
    const rejoined = (name: string): boolean => {
      const raftId = state.cluster.host(name).running ? state.cluster.node(name)?.identity?.raftId : undefined;
      return raftId !== undefined && raftId === view.tables.instance(name)?.raftId;
    };
    const lostNames = [host.name, ...[...destroyed].filter((name) => !rejoined(name))];
    const lostIds = new Set(lostNames.map((name) => view.tables.instance(name)?.raftId));
    const lost = (id: number): boolean => lostIds.has(id) || view.tables.instanceByRaftId(id) === undefined;
    return [status.voters, status.votersOutgoing].every((half) => {
      const intact = half.filter((id) => !lost(id)).length;
      return half.length === 0 || intact > half.length / 2;
    });
  });
}

/**
 * After the faults, like systemd's Restart=on-failure: every instance that exited (e.g. a rejoin
 * refused while its old record was still Online) is started again until all are Online.
 */
export function restartUntilOnline(ctx: ScenarioContext, state: ClusterScenarioState, restart: (host: SimHost) => void, timeoutMs: number): Promise<boolean> {
  return ctx.world.waitFor(() => {
    for (const name of state.names) if (!state.cluster.host(name).running) restart(state.cluster.host(name));
    return state.names.every((n) => state.cluster.isOnline(n));
  }, timeoutMs, 2_000);
}

/** Network latency drawn per seed (swarm); no loss: the nemesis injects the faults. */
export function clusterWorldOptions(random: SimRandom): Partial<WorldOptions> {
  return {
    net: { ...DEFAULT_NET_FAULTS, latencyMsMin: 0.05 + random.float(), latencyMsMean: 0.1 + random.float() * 3 },
    buggify: random.chance(0.8),
  };
}

/** Starts every instance and waits until all are Online; a violation if they are not in time. */
export async function startAllOnline(ctx: ScenarioContext, state: ClusterScenarioState, timeoutMs: number): Promise<boolean> {
  for (const name of state.names) state.cluster.start(name, { failureDomain: domainOf(name) });
  const online = await state.cluster.waitOnline(state.names, timeoutMs);
  if (!online) ctx.violation(`not every instance reached Online in ${timeoutMs} ms: ${state.names.filter((n) => !state.cluster.isOnline(n)).join(', ')}`);
  return online;
}

/**
 * End-state checks after healing: grades settle (running instances Online, stopped ones marked
 * Offline by the sentinel) and the governor has no voter change left to make, logs converge,
 * then the checker's invariants.
 */
export async function checkSettled(ctx: ScenarioContext, state: ClusterScenarioState): Promise<void> {
  const settleBudgetMs = 120_000;
  const deadlineMs = ctx.world.nowMs + settleBudgetMs;
  let converged: boolean;
  for (;;) {
    const settled = await ctx.world.waitFor(() => gradesSettled(state), Math.max(0, deadlineMs - ctx.world.nowMs), 100);
    if (!settled) ctx.violation('grades did not settle within 120 s after the faults stopped');
    converged = await state.checker.waitConverged(state.cluster, 60_000);
    // Settled grades can still move while the logs converge: a sentinel that lost sight of an
    // instance during the faults may mark it Offline just after healing, and the instance asks
    // to be Online again (raft-safety seed 11002). Check the state the cluster settles in.
    if (!settled || gradesSettled(state) || ctx.world.nowMs >= deadlineMs) break;
  }
  if (!converged) ctx.violation('instances did not converge on one applied index');
  state.checker.checkEndState(state.cluster);
}

/** Whether the leader's governor has no voter change left to make (false without a leader). */
export function votersSettled(state: ClusterScenarioState): boolean {
  const leaderName = state.cluster.leaderName();
  if (leaderName === undefined) return false;
  const leader = state.cluster.node(leaderName)!;
  const raft = leader.raft!.status();
  return planConfChange(leader.tables.instances(), raft.voters, raft.learners, leader.identity?.raftId ?? 0).length === 0;
}

function gradesSettled(state: ClusterScenarioState): boolean {
  const { cluster } = state;
  const leaderName = cluster.leaderName();
  if (leaderName === undefined) return false;
  const leader = cluster.node(leaderName)!;
  // The governor acts on grades one step later: voters follow an instance coming back Online.
  if (!votersSettled(state)) return false;
  for (const instance of leader.tables.instances()) {
    const running = cluster.host(instance.instanceId).running;
    if (running && !cluster.isOnline(instance.instanceId)) return false;
    if (!running && instance.currentGrade.variant !== 'Offline' && instance.currentGrade.variant !== 'Expelled') return false;
  }
  return true;
}

/** Instances the nemesis may crash or rot: never the client host that drives the scenario. */
export function instanceHosts(state: ClusterScenarioState): SimHost[] {
  return state.names.map((n) => state.cluster.host(n));
}
