/**
 * vshard-routing: clients call functions through `vshard.router.call` on random instances, in
 * read and write mode, while buckets move between replicasets (the rebalancer spreading the 3000
 * buckets of the bootstrap, plus `vshard.storage.bucket_send` of a few hot ones), the network
 * misbehaves and instances crash and restart. The cluster starts with all its instances, or all
 * but one or two, which join during the workload (new replicasets mid-rebalancing). The
 * replication factor is drawn per seed (WAL mode fsync):
 * - RF 1: each replicaset is one instance, and masters never change;
 * - RF 2: crashes and partitions of masters make the governor switch masters while buckets move
 *   and calls run. `_bucket` is synchronous (core/rpc/sharding.ts), and so is `ops` on these
 *   seeds, so no switch may lose an acknowledged write or a bucket's status.
 *
 * A write stores `{op_id, bucket_id}` in the sharded space `ops`; the transfer carries it along
 * with its bucket.
 *
 * Checked:
 * - where the called function runs, its bucket is readable (read) or writable on the master
 *   (write): the storage admitted it correctly;
 * - no write runs twice: the router retries only what surely did not run;
 * - once the faults stop, recovery settles every bucket: each is active on exactly one
 *   replicaset, none is left sending, receiving or sent, and the rebalancer evens them out;
 * - every member of a replicaset then holds its master's `_bucket` and `ops`;
 * - every acknowledged write's tuple is there exactly once (on one replicaset), where its bucket
 *   is active, and no tuple is left behind anywhere else;
 * - every bucket is reachable from every instance;
 * - the cluster settles (grades, one applied index) as in the other scenarios.
 */

import { mapGet, type MpValue } from '../core/codec/msgpack.ts';
import type { Node } from '../core/node/node.ts';
import { BUCKET_SPACE } from '../core/rpc/sharding.ts';
import { storedBucket } from '../core/vshard/storage.ts';
import type { Scenario, ScenarioContext } from '../runtime-sim/scenario.ts';
import type { SimHost } from '../runtime-sim/world.ts';
import { checkSettled, clusterState, clusterWorldOptions, instanceHosts, domainOf, restartUntilOnline, restartWipingCorrupt, setupCluster, type ClusterScenarioState } from './lib/cluster-scenario.ts';
import { Nemesis, NETWORK_AND_CRASH_ACTIONS } from './lib/nemesis.ts';
import { masterOf, membersOf, replicasets, weightOf, whileMaster } from './lib/replicasets.ts';

/** Buckets the workload and the mover use: few, so that calls meet moves often. */
const HOT_BUCKETS = 16;
const BUCKET_COUNT = 3000;
const CLIENTS = 4;
const WORKLOAD_MS = 30_000;
/**
 * How often the hot-bucket mover sends one, drawn per seed (swarm): often (transfers meet calls
 * all the time, and the rebalancer, which waits for a quiet moment, mostly after the faults),
 * now and then, or never (the rebalancer's own 2250 moves meet the faults).
 */
const MOVE_INTERVALS_MS = [150, 1_000, null] as const;
/** The router's own deadline (vshard's opts.timeout, seconds) and the client's, above it. */
const ROUTER_TIMEOUT_S = 1;
const CLIENT_TIMEOUT_MS = 3_000;
const PROBE = 'probe';
/** The sharded space the probe's writes go to. */
const OPS = 'ops';
/** Pause after healing for connections begun during a partition to fail or finish (connect timeout 1 s). */
const RECONNECT_SETTLE_MS = 2_000;
const REACHABLE_ATTEMPTS = 3;
/** Recovery settles transfers within seconds; the rebalancer's 2250 moves take longer. */
const BUCKETS_SETTLE_MS = 600_000;
/** vshard's default: a replicaset within 1 % of its etalon is balanced. */
const DISBALANCE_PCT_MAX = 1;
/** Replication factors drawn per seed. */
const REPLICATION_FACTORS = [1, 2] as const;

interface Probe {
  readonly executions: Map<number, number>;
  admitted: number;
}

interface Tally {
  ok: number;
  failed: number;
  nextOpId: number;
  /** Acknowledged writes: op id -> bucket id. */
  readonly acked: Map<number, number>;
  /** Failed calls by reason (the ShardingError's name, or the client's failure kind). */
  readonly failures: Map<string, number>;
}

const probes = new WeakMap<ScenarioContext, Probe>();
const tallies = new WeakMap<ScenarioContext, Tally>();

/**
 * Registers `probe(bucket_id, mode, op_id)` on every instance (it checks where it runs; a write
 * stores its op in `ops`), and creates `ops` on every instance once it is writable.
 */
function installProbe(ctx: ScenarioContext, state: ClusterScenarioState, isSync: boolean): Probe {
  const probe: Probe = { executions: new Map(), admitted: 0 };
  probes.set(ctx, probe);
  const previous = state.cluster.hooks.opened;
  state.cluster.hooks = {
    ...state.cluster.hooks,
    opened: (node, backend) => {
      previous?.(node, backend);
      backend.userFunctions.set(PROBE, (args) => runProbe(ctx, probe, node, args));
      void whileMaster(node, () => createOps(node, isSync));
    },
  };
  return probe;
}

/** Creates `ops`, or the part of it a crash between its DDL statements left missing. */
async function createOps(node: Node, isSync: boolean): Promise<void> {
  const box = node.box;
  const hasIndex = (name: string): boolean => box.space(OPS).indexes().some((i) => i.name === name);
  if (!box.hasSpace(OPS)) await box.createSpace(OPS, { isSync, format: [{ name: 'op_id', type: 'unsigned' }, { name: 'bucket_id', type: 'unsigned' }] });
  if (!hasIndex('pk')) await box.createIndex(OPS, 'pk', { parts: [['op_id', 'unsigned']] });
  if (!hasIndex('bucket_id')) await box.createIndex(OPS, 'bucket_id', { parts: [['bucket_id', 'unsigned']], unique: false });
}

async function runProbe(ctx: ScenarioContext, probe: Probe, node: Node, args: readonly MpValue[]): Promise<MpValue> {
  const [bucketId, mode, opId] = args as [number, string, number];
  const status = bucketStatus(node, bucketId);
  const isMaster = node.replication?.isMaster === true;
  const where = `${node.identity?.instanceId} (bucket ${bucketId} ${status ?? 'absent'}, ${isMaster ? 'master' : 'replica'})`;
  if (mode === 'write' && !((status === 'active' || status === 'pinned') && isMaster)) ctx.violation(`write op ${opId} ran on ${where}`);
  if (mode === 'read' && !(status === 'active' || status === 'pinned' || status === 'sending')) ctx.violation(`read op ${opId} ran on ${where}`);
  probe.admitted++;
  if (mode === 'write') {
    const count = (probe.executions.get(opId) ?? 0) + 1;
    probe.executions.set(opId, count);
    if (count > 1) ctx.violation(`write op ${opId} ran ${count} times (last on ${where})`);
    await node.box.space(OPS).insert([opId, bucketId]);
  }
  return node.identity?.instanceId ?? null;
}

function bucketStatus(node: Node, bucketId: number): string | undefined {
  return storedBucket(node, bucketId)?.status;
}

function runningMasters(state: ClusterScenarioState): string[] {
  return state.names.filter((n) => state.cluster.host(n).running && state.cluster.node(n)?.replication?.isMaster === true);
}

/** Asks the master holding one hot bucket to send it to another running master. */
async function moveOne(ctx: ScenarioContext, state: ClusterScenarioState): Promise<void> {
  const masters = runningMasters(state);
  const bucketId = 1 + ctx.random.int(HOT_BUCKETS);
  const from = masters.find((n) => bucketStatus(state.cluster.node(n)!, bucketId) === 'active');
  const targets = masters.filter((n) => n !== from);
  if (from === undefined || targets.length === 0) return;
  const to = targets[ctx.random.int(targets.length)]!;
  const destUuid = state.cluster.node(to)!.self()?.replicasetUuid;
  if (destUuid === undefined) return;
  const result = await state.cluster.call(from, 'vshard.storage.bucket_send', [bucketId, destUuid], CLIENT_TIMEOUT_MS);
  ctx.note(`move bucket ${bucketId}: ${from} -> ${to}: ${result.ok && result.value[0] === true ? 'sent' : 'not sent'}`);
}

async function client(ctx: ScenarioContext, state: ClusterScenarioState, tally: Tally, untilMs: number): Promise<void> {
  const random = ctx.random.fork(`client-${tally.nextOpId}`);
  while (ctx.world.nowMs < untilMs) {
    const running = state.names.filter((n) => state.cluster.host(n).running);
    if (running.length === 0) {
      await ctx.world.sleep(100);
      continue;
    }
    const via = running[random.int(running.length)]!;
    const bucketId = 1 + random.int(HOT_BUCKETS);
    const mode = random.chance(0.5) ? 'write' : 'read';
    const opId = tally.nextOpId++;
    const result = await state.cluster.call(via, 'vshard.router.call', [bucketId, mode, PROBE, [bucketId, mode, opId], { timeout: ROUTER_TIMEOUT_S }], CLIENT_TIMEOUT_MS);
    if (result.ok && result.value[0] !== null && result.value[0] !== undefined) {
      tally.ok++;
      if (mode === 'write') tally.acked.set(opId, bucketId);
    } else {
      tally.failed++;
      const reason = result.ok ? String(mapGet(result.value[1] ?? null, 'name') ?? mapGet(result.value[1] ?? null, 'message')) : result.error.kind;
      tally.failures.set(reason, (tally.failures.get(reason) ?? 0) + 1);
    }
  }
}

/** Per running instance: bucket id -> status of every `_bucket` row it has. */
function bucketRows(state: ClusterScenarioState): Map<string, Map<number, string>> {
  const rows = new Map<string, Map<number, string>>();
  for (const name of state.names) {
    const node = state.cluster.node(name);
    const byId = new Map<number, string>();
    // A `_bucket` still without its primary index (a crash between its DDL statements, not yet
    // finished by recovery) holds no rows.
    const hasRows = node !== undefined && node.box.hasSpace(BUCKET_SPACE) && node.box.space(BUCKET_SPACE).indexes().length > 0;
    if (hasRows) for (const row of node.box.space(BUCKET_SPACE).select([])) byId.set(row[0] as number, String(row[1]));
    rows.set(name, byId);
  }
  return rows;
}

/** Replicaset id -> its master's name, for every replicaset; or why some has none. */
function mastersByReplicaset(state: ClusterScenarioState): Map<string, string> | string {
  const masters = new Map<string, string>();
  for (const id of replicasets(state)) {
    const master = masterOf(state, id);
    if (master === undefined) return `replicaset ${id} has no master`;
    masters.set(id, master);
  }
  return masters;
}

/**
 * Why the buckets are not settled yet (in transit, missing, doubled, unbalanced, a member not
 * holding its master's rows), or null. Masters speak for their replicasets.
 */
function bucketsUnsettled(state: ClusterScenarioState): string | null {
  const masters = mastersByReplicaset(state);
  if (typeof masters === 'string') return masters;
  const rows = bucketRows(state);
  const holders = new Map<number, string[]>();
  const active = new Map<string, number>();
  for (const [id, master] of masters) {
    active.set(id, 0);
    for (const [bucketId, status] of rows.get(master)!) {
      if (status !== 'active') return `bucket ${bucketId} is ${status} on ${master}`;
      holders.set(bucketId, [...(holders.get(bucketId) ?? []), id]);
      active.set(id, active.get(id)! + 1);
    }
  }
  for (let bucketId = 1; bucketId <= BUCKET_COUNT; bucketId++) {
    const on = holders.get(bucketId) ?? [];
    if (on.length !== 1) return `bucket ${bucketId} is active on ${on.length === 0 ? 'no replicaset' : on.join(', ')}`;
  }
  const weights = new Map([...masters.keys()].map((id) => [id, weightOf(state, id)]));
  const weightSum = [...weights.values()].reduce((a, b) => a + b, 0);
  for (const [id, count] of active) {
    // A replicaset that never had RF members up (a rejoiner's old record counts as a member
    // when picking replicasets) keeps weight 0, and the rebalancer empties it.
    const etalon = (BUCKET_COUNT * weights.get(id)!) / weightSum;
    const off = etalon === 0 ? count > 0 : (Math.abs(count - etalon) / etalon) * 100 > DISBALANCE_PCT_MAX;
    if (off) return `${id} holds ${count} buckets, etalon ${etalon} (weight ${weights.get(id)} of ${weightSum})`;
  }
  return membersDiverge(state, masters, rows);
}

function opsOf(node: Node | undefined): MpValue[][] | null {
  if (node === undefined || !node.box.hasSpace(OPS) || node.box.space(OPS).indexes().length === 0) return null;
  return node.box.space(OPS).select([]) as MpValue[][];
}

/** Which member does not hold its master's `_bucket` rows or `ops` tuples, or null. */
function membersDiverge(state: ClusterScenarioState, masters: ReadonlyMap<string, string>, rows: ReadonlyMap<string, Map<number, string>>): string | null {
  for (const [id, master] of masters) {
    const expectedBuckets = JSON.stringify([...rows.get(master)!]);
    const masterOps = opsOf(state.cluster.node(master));
    const expectedOps = JSON.stringify(masterOps);
    for (const name of membersOf(state, id).filter((n) => n !== master)) {
      if (JSON.stringify([...rows.get(name)!]) !== expectedBuckets) return `${name} holds ${rows.get(name)!.size} _bucket rows, its master ${master} ${rows.get(master)!.size}`;
      const ops = opsOf(state.cluster.node(name));
      if (JSON.stringify(ops) !== expectedOps) return `${name} holds ${ops?.length ?? 'no'} tuples of ${OPS}, its master ${master} ${masterOps?.length ?? 'no'}`;
    }
  }
  return null;
}

/**
 * Every acknowledged write is stored on one replicaset, where its bucket is active; no master
 * keeps a tuple of a bucket it does not hold (its members hold what it holds: bucketsUnsettled).
 */
function checkOps(ctx: ScenarioContext, state: ClusterScenarioState, tally: Tally): void {
  const rows = bucketRows(state);
  const masters = mastersByReplicaset(state);
  if (typeof masters === 'string') {
    ctx.violation(`ops cannot be checked: ${masters}`);
    return;
  }
  const found = new Map<number, string[]>();
  for (const name of masters.values()) {
    for (const tuple of opsOf(state.cluster.node(name)) ?? []) {
      const [opId, bucketId] = tuple as [number, number];
      if (rows.get(name)?.get(bucketId) !== 'active') ctx.violation(`op ${opId} of bucket ${bucketId} left on ${name}, which holds the bucket as ${rows.get(name)?.get(bucketId) ?? 'nothing'}`);
      found.set(opId, [...(found.get(opId) ?? []), name]);
    }
  }
  let lost = 0;
  for (const [opId, bucketId] of tally.acked) {
    const on = found.get(opId) ?? [];
    if (on.length === 1) continue;
    if (on.length === 0 && lost++ < 10) ctx.violation(`acknowledged write op ${opId} (bucket ${bucketId}) is nowhere`);
    if (on.length > 1) ctx.violation(`op ${opId} (bucket ${bucketId}) is stored on ${on.join(', ')}`);
  }
  if (lost > 10) ctx.violation(`${lost} acknowledged writes are lost in all`);
  ctx.note(`ops: ${tally.acked.size} acknowledged writes, all found once: ${lost === 0}`);
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
          tally.acked.set(opId, bucketId);
          failure = '';
          break;
        }
        failure = result.ok ? JSON.stringify(mapGet(result.value[1] ?? null, 'message')) : JSON.stringify(result.error);
      }
      if (failure !== '') ctx.violation(`bucket ${bucketId} via ${via} after healing, ${REACHABLE_ATTEMPTS} attempts: ${failure}`);
    }
  }
}

function restart(state: ClusterScenarioState, host: SimHost): void {
  restartWipingCorrupt(state, host);
}

export const vshardRouting: Scenario = {
  name: 'vshard-routing',
  description: 'routed calls from every instance while buckets move, the network fails and instances crash',
  defaultNodes: 4,
  eventsMax: 150_000_000,
  virtualMsMax: 2_400_000,
  worldOptions: (_seed, _nodes, random) => clusterWorldOptions(random),

  async setup(ctx) {
    // Small chunks on some seeds: transfers of several calls meet the crashes and partitions.
    const chunkTuplesMax = ctx.random.pick([8, 1_000]);
    const replicationFactor = ctx.random.pick(REPLICATION_FACTORS);
    ctx.note(`replication factor ${replicationFactor}; transfer chunks of ${chunkTuplesMax} tuples`);
    const state = setupCluster(ctx, { initReplicationFactor: replicationFactor, walMode: 'fsync', tuning: { vshardTransferChunkTuplesMax: chunkTuplesMax } });
    installProbe(ctx, state, replicationFactor > 1);
  },

  async run(ctx) {
    const state = clusterState(ctx);
    // Swarm: the cluster starts with some of its instances and the rest join during the
    // workload, so the rebalancer replans for new replicasets while transfers are in flight.
    const initialCount = Math.max(1, state.names.length - ctx.random.int(Math.min(3, state.names.length)));
    const initial = state.names.slice(0, initialCount);
    const joiners = state.names.slice(initialCount);
    ctx.note(`starting with ${initial.join(', ')}; joining during the workload: ${joiners.join(', ') || 'none'}`);
    // Discovery waits for every --peer to answer: the first ones know only each other.
    const initialPeers = initial.map((n) => state.cluster.address(n));
    for (const name of initial) state.cluster.start(name, { failureDomain: domainOf(name), peers: initialPeers });
    if (!(await state.cluster.waitOnline(initial, 120_000))) {
      ctx.violation(`not every initial instance reached Online in 120 s: ${initial.filter((n) => !state.cluster.isOnline(n)).join(', ')}`);
      return;
    }
    const sharded = await ctx.world.waitFor(() => initial.every((n) => state.cluster.node(n)?.sharding !== null) && state.cluster.node(initial[0]!)!.tables.vshardBootstrapped(), 30_000, 100);
    // With RF > 1 the initial instances may fill no replicaset (a rejoin lands in a new one, its
    // old record still counting in the first): vshard then bootstraps once joiners fill one, and
    // the settle check after healing requires it.
    if (!sharded && state.cluster.node(initial[0]!)!.tables.replicationFactor() === 1) {
      ctx.violation('vshard was not bootstrapped within 30 s');
      return;
    }
    if (!sharded) ctx.note('vshard is not bootstrapped yet: the workload starts anyway');
    const tally: Tally = { ok: 0, failed: 0, nextOpId: 1, acked: new Map(), failures: new Map() };
    tallies.set(ctx, tally);
    const untilMs = ctx.world.nowMs + WORKLOAD_MS;
    const nemesis = new Nemesis(ctx, {
      actions: NETWORK_AND_CRASH_ACTIONS,
      meanIntervalMs: 2_000,
      crashedMax: 1,
      restart: (host) => restart(state, host),
      victims: () => instanceHosts(state),
    });
    const joining = (async () => {
      for (const name of joiners) {
        await ctx.world.sleep(ctx.random.int(WORKLOAD_MS / (joiners.length + 1)));
        // The nemesis may have started it already (a restart of a host that never ran).
        if (state.cluster.host(name).running) continue;
        ctx.note(`${name} joins`);
        state.cluster.start(name, { failureDomain: domainOf(name) });
      }
    })();
    const moveIntervalMs = ctx.random.pick(MOVE_INTERVALS_MS);
    ctx.note(`hot-bucket mover: ${moveIntervalMs === null ? 'off' : `every ${moveIntervalMs} ms`}`);
    const mover = (async () => {
      while (moveIntervalMs !== null && ctx.world.nowMs < untilMs) {
        await moveOne(ctx, state);
        await ctx.world.sleep(moveIntervalMs);
      }
    })();
    await Promise.all([...Array.from({ length: CLIENTS }, () => client(ctx, state, tally, untilMs)), mover, joining, nemesis.run(WORKLOAD_MS)]);
    ctx.world.net.heal();
    const reasons = [...tally.failures].sort((a, b) => b[1] - a[1]).map(([why, n]) => `${why} ${n}`).join(', ');
    ctx.note(`workload: ${tally.ok} calls answered, ${tally.failed} failed (${reasons || 'none'}), ${probes.get(ctx)!.admitted} function runs`);
    // No liveness demand on the workload itself: a partition can cut the client off from every
    // instance for all of it (seed 100234). Liveness is checked after healing (checkReachable).
    if (!(await restartUntilOnline(ctx, state, (host) => restart(state, host), 180_000))) ctx.violation('not every instance came back Online after the faults');
    await checkReachable(ctx, state, tally);
    let why: string | null = 'not looked yet';
    const settled = await ctx.world.waitFor(() => (why = bucketsUnsettled(state)) === null, BUCKETS_SETTLE_MS, 1_000);
    if (!settled) ctx.violation(`buckets did not settle within ${BUCKETS_SETTLE_MS / 1000} s of healing: ${why}`);
  },

  async check(ctx) {
    const state = clusterState(ctx);
    const tally = tallies.get(ctx);
    if (tally !== undefined) checkOps(ctx, state, tally);
    await checkSettled(ctx, state);
  },
};
