/**
 * vshard-routing: clients call functions through `vshard.router.call` on random instances, in
 * read and write mode, while buckets move between replicasets and the network misbehaves.
 *
 * The moves are made the way vshard's rebalancer leaves `_bucket` rows (receiver RECEIVING,
 * sender SENT with the destination, receiver ACTIVE), written straight into the masters' boxes:
 * the rebalancer itself does not exist yet, the router and the storage checks are what is tested.
 * Each replicaset has one instance (RF 1), so masters never change; data replication, which a
 * master switch would need, is a later capability.
 *
 * Checked:
 * - where the called function runs, its bucket is readable (read) or writable on the master
 *   (write): the storage admitted it correctly;
 * - no write runs twice: the router retries only what surely did not run;
 * - once the faults and moves stop, every bucket is reachable from every instance;
 * - the cluster settles (grades, one applied index) as in the other scenarios.
 */

import { mapGet, type MpValue } from '../core/codec/msgpack.ts';
import type { Node } from '../core/node/node.ts';
import { BUCKET_SPACE, ensureBucketSpace } from '../core/rpc/sharding.ts';
import { storedBucket } from '../core/vshard/storage.ts';
import type { Scenario, ScenarioContext } from '../runtime-sim/scenario.ts';
import { checkSettled, clusterState, clusterWorldOptions, instanceHosts, setupCluster, startAllOnline, type ClusterScenarioState } from './lib/cluster-scenario.ts';
import { Nemesis } from './lib/nemesis.ts';

/** Buckets the workload and the mover use: few, so that calls meet moves often. */
const HOT_BUCKETS = 16;
const CLIENTS = 4;
const WORKLOAD_MS = 30_000;
const MOVE_INTERVAL_MS = 150;
/** The router's own deadline (vshard's opts.timeout, seconds) and the client's, above it. */
const ROUTER_TIMEOUT_S = 1;
const CLIENT_TIMEOUT_MS = 3_000;
const PROBE = 'probe';
/** Pause after healing for connections begun during a partition to fail or finish (connect timeout 1 s). */
const RECONNECT_SETTLE_MS = 2_000;
const REACHABLE_ATTEMPTS = 3;

interface Probe {
  readonly executions: Map<number, number>;
  admitted: number;
}

const probes = new WeakMap<ScenarioContext, Probe>();

/** Registers `probe(bucket_id, mode, op_id)` on every instance: it checks where it runs. */
function installProbe(ctx: ScenarioContext, state: ClusterScenarioState): Probe {
  const probe: Probe = { executions: new Map(), admitted: 0 };
  probes.set(ctx, probe);
  const previous = state.cluster.hooks.opened;
  state.cluster.hooks = {
    ...state.cluster.hooks,
    opened: (node, backend) => {
      previous?.(node, backend);
      backend.userFunctions.set(PROBE, (args) => runProbe(ctx, probe, node, args));
    },
  };
  return probe;
}

function runProbe(ctx: ScenarioContext, probe: Probe, node: Node, args: readonly MpValue[]): MpValue {
  const [bucketId, mode, opId] = args as [number, string, number];
  const status = bucketStatus(node, bucketId);
  const isMaster = node.replication?.isMaster === true;
  const where = `${node.identity?.instanceId} (bucket ${bucketId} ${status ?? 'absent'}, ${isMaster ? 'master' : 'replica'})`;
  if (mode === 'write' && !((status === 'active' || status === 'pinned') && isMaster)) ctx.violation(`write op ${opId} ran on ${where}`);
  if (mode === 'read' && !(status === 'active' || status === 'pinned' || status === 'sending')) ctx.violation(`read op ${opId} ran on ${where}`);
  if (mode === 'write') {
    const count = (probe.executions.get(opId) ?? 0) + 1;
    probe.executions.set(opId, count);
    if (count > 1) ctx.violation(`write op ${opId} ran ${count} times (last on ${where})`);
  }
  probe.admitted++;
  return node.identity?.instanceId ?? null;
}

function bucketStatus(node: Node, bucketId: number): string | undefined {
  return storedBucket(node, bucketId)?.status;
}

/** A `_bucket` row written directly on a master, as the rebalancer writes it. */
async function writeBucket(node: Node, row: MpValue[]): Promise<void> {
  await ensureBucketSpace(node.box);
  await node.box.space(BUCKET_SPACE).replace(row);
}

/** Moves one hot bucket from the master holding it to another running master. */
async function moveOne(ctx: ScenarioContext, state: ClusterScenarioState): Promise<void> {
  const masters = state.names.filter((n) => state.cluster.host(n).running && state.cluster.node(n)?.replication?.isMaster === true);
  const bucketId = 1 + ctx.random.int(HOT_BUCKETS);
  const from = masters.find((n) => bucketStatus(state.cluster.node(n)!, bucketId) === 'active');
  const targets = masters.filter((n) => n !== from);
  if (from === undefined || targets.length === 0) return;
  const to = targets[ctx.random.int(targets.length)]!;
  const source = state.cluster.node(from)!;
  const target = state.cluster.node(to)!;
  ctx.note(`move bucket ${bucketId}: ${from} -> ${to}`);
  await writeBucket(target, [bucketId, 'receiving', source.self()!.replicasetUuid]);
  await writeBucket(source, [bucketId, 'sent', target.self()!.replicasetUuid]);
  await ctx.world.sleep(ctx.random.int(20));
  await writeBucket(target, [bucketId, 'active', null]);
}

interface Tally {
  ok: number;
  failed: number;
  nextOpId: number;
}

async function client(ctx: ScenarioContext, state: ClusterScenarioState, tally: Tally, untilMs: number): Promise<void> {
  const random = ctx.random.fork(`client-${tally.nextOpId}`);
  while (ctx.world.nowMs < untilMs) {
    const running = state.names.filter((n) => state.cluster.host(n).running);
    const via = running[random.int(running.length)]!;
    const bucketId = 1 + random.int(HOT_BUCKETS);
    const mode = random.chance(0.5) ? 'write' : 'read';
    const opId = tally.nextOpId++;
    const result = await state.cluster.call(via, 'vshard.router.call', [bucketId, mode, PROBE, [bucketId, mode, opId], { timeout: ROUTER_TIMEOUT_S }], CLIENT_TIMEOUT_MS);
    if (result.ok && result.value[0] !== null && result.value[0] !== undefined) tally.ok++;
    else tally.failed++;
  }
}

/**
 * After the faults: every hot bucket answers a write routed from every running instance. A write
 * whose connection failed is not retried by the router (it may have run), so a client may have to
 * retry it: connections opened during a partition can still be timing out just after healing.
 */
async function checkReachable(ctx: ScenarioContext, state: ClusterScenarioState, tally: Tally): Promise<void> {
  await ctx.world.sleep(RECONNECT_SETTLE_MS);
  for (const via of state.names.filter((n) => state.cluster.host(n).running)) {
    for (let bucketId = 1; bucketId <= HOT_BUCKETS; bucketId++) {
      let failure = '';
      for (let attempt = 0; attempt < REACHABLE_ATTEMPTS; attempt++) {
        const opId = tally.nextOpId++;
        const result = await state.cluster.call(via, 'vshard.router.callrw', [bucketId, PROBE, [bucketId, 'write', opId], { timeout: 5 }], 10_000);
        if (result.ok && result.value[0] !== null) {
          failure = '';
          break;
        }
        failure = result.ok ? JSON.stringify(mapGet(result.value[1] ?? null, 'message')) : JSON.stringify(result.error);
      }
      if (failure !== '') ctx.violation(`bucket ${bucketId} via ${via} after healing, ${REACHABLE_ATTEMPTS} attempts: ${failure}`);
    }
  }
}

export const vshardRouting: Scenario = {
  name: 'vshard-routing',
  description: 'routed calls from every instance while buckets move and the network fails',
  defaultNodes: 4,
  eventsMax: 100_000_000,
  virtualMsMax: 1_800_000,
  worldOptions: (_seed, _nodes, random) => clusterWorldOptions(random),

  async setup(ctx) {
    const state = setupCluster(ctx, { initReplicationFactor: 1 });
    installProbe(ctx, state);
  },

  async run(ctx) {
    const state = clusterState(ctx);
    if (!(await startAllOnline(ctx, state, 120_000))) return;
    const sharded = await ctx.world.waitFor(() => state.names.every((n) => state.cluster.node(n)?.sharding !== null) && state.cluster.node(state.names[0]!)!.tables.vshardBootstrapped(), 30_000, 100);
    if (!sharded) {
      ctx.violation('vshard was not bootstrapped within 30 s');
      return;
    }
    const tally: Tally = { ok: 0, failed: 0, nextOpId: 1 };
    const untilMs = ctx.world.nowMs + WORKLOAD_MS;
    const nemesis = new Nemesis(ctx, { actions: ['clog_one', 'isolate_one', 'partition_halves', 'heal'], meanIntervalMs: 2_000, crashedMax: 0, restart: () => undefined, victims: () => instanceHosts(state) });
    const mover = (async () => {
      while (ctx.world.nowMs < untilMs) {
        await moveOne(ctx, state);
        await ctx.world.sleep(MOVE_INTERVAL_MS);
      }
    })();
    await Promise.all([...Array.from({ length: CLIENTS }, () => client(ctx, state, tally, untilMs)), mover, nemesis.run(WORKLOAD_MS)]);
    ctx.world.net.heal();
    ctx.note(`workload: ${tally.ok} calls answered, ${tally.failed} failed (faults, moves), ${probes.get(ctx)!.admitted} function runs`);
    if (tally.ok === 0) ctx.violation('no routed call succeeded during the workload');
    await checkReachable(ctx, state, tally);
  },

  async check(ctx) {
    await checkSettled(ctx, clusterState(ctx));
  },
};
