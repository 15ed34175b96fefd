/**
 * A soak of a real cluster: four `picodata run` processes (replication factor 2, --wal-mode
 * fsync, a checkpoint every second) lose instances again and again while a writer keeps
 * proposing clusterwide rows.
 *
 * A writer sends `pico.cas` inserts into `_picodata_property` through random running members
 * all along, and records every acknowledged one with its Raft index and term (see Writer).
 * Each cycle, picked by a seeded PRNG, either
 * - stops one instance, or two at once (then the Raft voters may lose their quorum until the
 *   restart), each by SIGKILL or SIGTERM, and restarts them from their data directories:
 *   sometimes on another port (a new --advertise address), sometimes killing the restart again
 *   (SIGKILL 50-800 ms in: during recovery or the rejoin) and starting it once more; or
 * - (REPLACE_CHANCE) expels a random member with `picodata expel` (its process exits 0 and it
 *   leaves the Raft configuration) and joins a new instance in its place.
 * After every cycle:
 * - every instance is Online, a stopped one in a higher incarnation;
 * - exactly one leader, and every instance agrees on it and on the term;
 * - every acknowledged proposal is in every instance's Raft log at its index and term (unless
 *   compacted away there), and every instance has applied past it;
 * - every instance's vshard router routes a few random buckets the same way, to where the
 *   buckets are (see checkBucketsRouted for what no data replication yet means there);
 * - a SIGTERM exited with code 0, and no process exited unless it was stopped.
 *
 * The simulator covers these faults over many seeds on virtual time; this runs the real daemon:
 * LMDB and append-log recovery, TCP reconnects, signals. Longer hunts:
 *   SOAK_SEED=$RANDOM SOAK_CYCLES=100 npx vitest run test/real/cluster-soak.test.ts
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sfc32Random } from '../../core/lib/sfc32-random.ts';
import { CLUSTER_STATUS_FUNCTION, type ClusterStatus } from '../../runtime-real/cluster-info.ts';
import { Cluster, freePort, picodataBundle, runCli, until, type Instance } from './harness.ts';

/** The suite's seed: its 5 cycles have each kind (two victims, SIGKILL and SIGTERM, a move, a killed restart, expel and join). */
const SEED = Number(process.env.SOAK_SEED ?? 23);
const CYCLES = Number(process.env.SOAK_CYCLES ?? 5);
/** Each instance's --checkpoint-interval. */
const CHECKPOINT_INTERVAL_S = 1;
const INSTANCES = 4;
/** Share of cycles that expel a member and join a new instance instead of stopping some. */
const REPLACE_CHANCE = 0.15;
/** How long the writer runs while instances are down, before the restart (ms). */
const DOWN_MS_MIN = 300;
const DOWN_MS_MAX = 1_500;
/** A cycle's recovery: restart, Online, log applied everywhere. */
const RECOVERY_TIMEOUT_MS = 40_000;
const CAS_TIMEOUT_MS = 3_000;
const PROPOSALS_PER_BATCH = 10;
/** Buckets whose routing is checked after each cycle. */
const BUCKETS_PROBED = 3;
const KEY_PREFIX = 'soak-';

interface Acknowledged {
  readonly key: string;
  readonly index: number;
  readonly term: number;
}

interface LogEntry {
  readonly index: number;
  readonly term: number;
  readonly contents: string;
}

/** The Raft log an instance holds (from its first uncompacted entry), by index. */
async function raftLog(instance: Instance): Promise<Map<number, LogEntry>> {
  const [rows] = await instance.call('pico.raft_log', [], 10_000);
  const entries = new Map<number, LogEntry>();
  for (const row of rows as unknown as LogEntry[]) entries.set(row.index, row);
  return entries;
}

/** Whether `entry` is the insert of `key` proposed at `index` in `term`. */
function holds(entry: LogEntry | undefined, written: Acknowledged): boolean {
  return entry !== undefined && entry.term === written.term && entry.contents.includes(`["${written.key}",`);
}

/**
 * Proposes rows through random running instances until stopped. `pico.cas` only says where the
 * proposal went ({index, term}); a row is acknowledged once the instance it went through has
 * applied that index and holds the proposal there in that term (then it is committed: a
 * committed index never holds two entries). Proposals are confirmed a batch at a time.
 */
class Writer {
  readonly acknowledged: Acknowledged[] = [];
  batchesFailed = 0;
  proposalsLost = 0;
  private next = 0;
  private running = false;
  private loop: Promise<void> = Promise.resolve();

  private readonly instances: readonly Instance[];
  private readonly random: Sfc32Random;

  constructor(instances: readonly Instance[], random: Sfc32Random) {
    this.instances = instances;
    this.random = random;
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running) {
      const live = this.instances.filter((i) => i.running);
      if (live.length === 0) {
        await sleep(50);
        continue;
      }
      const via = this.random.pick(live);
      try {
        await this.batch(via);
      } catch {
        // The instance went away or timed out: what it did not confirm is not acknowledged.
        this.batchesFailed++;
        await sleep(20);
      }
    }
  }

  private async batch(via: Instance): Promise<void> {
    const proposed: Acknowledged[] = [];
    for (let n = 0; n < PROPOSALS_PER_BATCH && this.running; n++) {
      const key = `${KEY_PREFIX}${this.next++}`;
      const [index, term] = await via.call('pico.cas', [{ kind: 'insert', space: '_picodata_property', tuple: [key, this.next] }], CAS_TIMEOUT_MS);
      if (typeof index !== 'number' || typeof term !== 'number') throw new Error(`pico.cas returned ${JSON.stringify([index, term])}`);
      proposed.push({ key, index, term });
    }
    if (proposed.length === 0) return;
    const lastIndex = Math.max(...proposed.map((p) => p.index));
    const [applied] = await via.call('pico.raft_wait_index', [lastIndex, CAS_TIMEOUT_MS / 1000], CAS_TIMEOUT_MS + 1_000);
    if (typeof applied !== 'number' || applied < lastIndex) throw new Error(`raft_wait_index(${lastIndex}) returned ${String(applied)}`);
    const log = await raftLog(via);
    for (const p of proposed) {
      if (holds(log.get(p.index), p)) this.acknowledged.push(p);
      // Another leader's entry took the index (never committed), or compaction got there first.
      else this.proposalsLost++;
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe(`a real 4-instance cluster survives ${CYCLES} cycles of SIGKILL/SIGTERM and restart or expel and join (seed ${SEED})`, () => {
  const cluster = new Cluster('soak');
  const random = Sfc32Random.fromSeed(SEED);
  /** The cluster's current members (an expelled instance leaves, its replacement joins). */
  const members: Instance[] = [];
  let instancesAdded = 0;
  /** Each instance's incarnation as last seen Online. */
  const incarnations = new Map<Instance, number>();
  /** The instance the sharding bootstrap put every bucket on. */
  /** Acknowledged entries found in an instance's log, over all checks. */
  let entriesChecked = 0;

  beforeAll(async () => {
    await picodataBundle();
    for (let n = 0; n < INSTANCES; n++) members.push(await addInstance());
    const first = members[0]!;
    for (const instance of members) instance.spec = { ...instance.spec, peers: [first.address] };
    await Promise.all(members.map((i) => i.start()));
    try {
      for (const info of await Promise.all(members.map((i) => i.waitOnline(30_000)))) {
        incarnations.set(cluster.get(info.instance_id), info.current_grade.incarnation);
      }
      await until('the buckets to be served', async () => {
        const answer = await first.call('vshard.router.callrw', [1, 'whereami', [], { timeout: 2 }], 5_000);
        return typeof answer[0] === 'string' ? answer : undefined;
      }, 30_000);
    } catch (error) {
      throw new Error(`${String(error)}\n${cluster.logs()}`);
    }
  }, 60_000);
  afterAll(() => cluster.destroy());

  function addInstance(peers?: string[]): Promise<Instance> {
    const name = `i${++instancesAdded}`;
    // Checkpoints every second: SIGKILLs land in the middle of snapshots and WAL trims too.
    return cluster.add(name, { instanceId: name, initReplicationFactor: 2, walMode: 'fsync', extraArgs: ['--checkpoint-interval', String(CHECKPOINT_INTERVAL_S)], ...(peers === undefined ? {} : { peers }) });
  }

  /**
   * `picodata expel` of a random member through another one (its process must exit 0 and it must
   * leave the Raft configuration), then a new instance joins through a random member.
   */
  async function replaceCycle(): Promise<string> {
    const target = random.pick(members);
    const peer = random.pick(members.filter((m) => m !== target));
    const { raft_id: raftId } = await peer.info(target.name);
    const { code, stdout, stderr } = await runCli(['expel', '--instance-id', target.name, '--peer', peer.address], { timeoutMs: 30_000 });
    expect(code, `${stdout}${stderr}`).toBe(0);
    expect(await target.waitExit(20_000), target.log.slice(-3000)).toEqual({ code: 0, signal: null });
    members.splice(members.indexOf(target), 1);
    await until(`${target.name} out of the raft configuration`, async () => {
      const status = await peer.raftStatus();
      return [...status.voters, ...status.learners].includes(raftId) ? undefined : true;
    }, RECOVERY_TIMEOUT_MS);
    const fresh = await addInstance([random.pick(members).address]);
    await fresh.start();
    members.push(fresh);
    return `expelled ${target.name}, ${fresh.name} joined`;
  }

  /** Stops `victims` (SIGKILL or SIGTERM each, by the PRNG) while the writer runs, then restarts them. */
  async function cycle(victims: readonly Instance[]): Promise<string> {
    const signals = victims.map(() => (random.chance(0.5) ? 'SIGKILL' : 'SIGTERM') as NodeJS.Signals);
    const downMs = random.range(DOWN_MS_MIN, DOWN_MS_MAX);
    await sleep(random.range(0, 500));
    const exits = await Promise.all(victims.map((v, n) => v.stop(signals[n]!, 20_000)));
    for (const [n, exit] of exits.entries()) {
      const expected = signals[n] === 'SIGKILL' ? { code: null, signal: 'SIGKILL' } : { code: 0, signal: null };
      expect(exit, `${victims[n]!.name} after ${signals[n]}\n${victims[n]!.log.slice(-3000)}`).toEqual(expected);
    }
    await sleep(downMs);
    // Sometimes they come back on another port: the cluster learns the new --advertise address.
    const moved = random.chance(0.15);
    const ports = await Promise.all(victims.map((v) => (moved ? freePort() : v.port)));
    await Promise.all(victims.map((v, n) => v.start({}, ports[n])));
    // Sometimes a restart is killed again before it is back (its recovery or its rejoin cut short).
    const killedAtStartMs = random.chance(0.2) ? random.range(50, 800) : null;
    if (killedAtStartMs !== null) {
      await sleep(killedAtStartMs);
      for (const v of victims) v.kill();
      await Promise.all(victims.map((v) => v.waitExit(10_000)));
      await Promise.all(victims.map((v) => v.start()));
    }
    const restart = `${moved ? ', moved to a new port' : ''}${killedAtStartMs === null ? '' : `, killed ${killedAtStartMs} ms into the restart`}`;
    return `${victims.map((v, n) => `${v.name}:${signals[n]}`).join('+')} down ${downMs} ms${restart}`;
  }

  /** Everything is Online again, with one leader, and every acknowledged entry is in every log. */
  async function checkRecovered(victims: readonly Instance[], acknowledgedSoFar: readonly Acknowledged[]): Promise<void> {
    // The writer goes on meanwhile: rows acknowledged after this point may not be applied yet.
    const acknowledged = acknowledgedSoFar.slice();
    for (const instance of members) {
      expect(instance.running, `${instance.name} exited on its own\n${instance.log.slice(-3000)}`).toBe(true);
      const minIncarnation = (incarnations.get(instance) ?? 1) + (victims.includes(instance) ? 1 : 0);
      const info = await instance.waitOnline(RECOVERY_TIMEOUT_MS, minIncarnation);
      incarnations.set(instance, info.current_grade.incarnation);
    }
    const agreed = await until('one leader that every instance knows', async () => {
      const statuses = await Promise.all(members.map((i) => i.raftStatus()));
      const leaders = new Set(statuses.map((s) => s.leader_id));
      const terms = new Set(statuses.map((s) => s.term));
      const leading = statuses.filter((s) => s.raft_state === 'Leader');
      return leaders.size === 1 && terms.size === 1 && leading.length === 1 && !leaders.has(null) ? statuses : undefined;
    }, RECOVERY_TIMEOUT_MS);
    expect(agreed[0]!.leader_id).toBe(agreed.find((s) => s.raft_state === 'Leader')!.id);
    // Tens of thousands of entries in a long hunt: no spread into Math.max (call argument limit).
    const lastIndex = acknowledged.reduce((max, a) => Math.max(max, a.index), 0);
    for (const instance of members) {
      const [applied] = await instance.call('pico.raft_wait_index', [lastIndex, RECOVERY_TIMEOUT_MS / 1000], RECOVERY_TIMEOUT_MS + 5_000);
      expect(applied as number).toBeGreaterThanOrEqual(lastIndex);
      const log = await raftLog(instance);
      let firstIndex = Infinity;
      for (const index of log.keys()) firstIndex = Math.min(firstIndex, index);
      // Entries before the first one were compacted into the snapshot the instance applied.
      const checkable = acknowledged.filter((a) => a.index >= firstIndex);
      const lost = checkable.filter((a) => !holds(log.get(a.index), a));
      expect(lost.slice(0, 5), `${instance.name} lost ${lost.length} of ${checkable.length} acknowledged entries (log from ${firstIndex})`).toEqual([]);
      entriesChecked += checkable.length;
    }
  }

  /**
   * vshard after the cycle. The rebalancer spreads the buckets over the replicasets, and data
   * replication copies a replicaset's `_bucket` to all its members. So every router must give
   * the same answer for a bucket: the master of the replicaset that holds it, or
   * NO_ROUTE_TO_BUCKET (9) when no master has it (replication is asynchronous: a master that
   * crashed before its replica fetched a transfer's last step takes that step with it); never a
   * stale route, disagreeing routers or a hang; and the bucket is stored within one replicaset.
   * Routers, the sharding configuration, replicas and transfers in flight catch up with the
   * cycle's master switches, so this waits for them.
   */
  async function checkBucketsRouted(): Promise<void> {
    for (let n = 0; n < BUCKETS_PROBED; n++) {
      const bucket = random.range(1, 3000);
      let last: string[] = [];
      try {
        await until(`bucket ${bucket} routed alike through every router`, async () => {
          // A bucket no one has takes the router its whole timeout (it retries NO_ROUTE_TO_BUCKET).
          const answers = await Promise.all(members.map((i) => i.call('vshard.router.callrw', [bucket, 'whereami', [], { timeout: 1 }], 5_000)));
          const where = answers.map((a) => (typeof a[0] === 'string' ? a[0] : `error ${String((a[1] as { code?: unknown } | null)?.code)}`));
          last = answers.map((a, k) => `via ${members[k]!.name}: ${typeof a[0] === 'string' ? a[0] : JSON.stringify(a[1] ?? null)}`);
          if (!where.every((w) => w === where[0])) return undefined;
          // And the bucket is stored (readable) within one replicaset: the routed master's.
          const stats = await Promise.all(members.map((i) => i.call('vshard.storage.bucket_stat', [bucket], 5_000)));
          const storedOn = members.filter((_, k) => stats[k]![0] !== null && typeof stats[k]![0] === 'object').map((i) => i.name);
          last.push(`stored on ${storedOn.join(', ') || 'none'}`);
          const holders = new Set(await Promise.all(storedOn.map((name) => replicasetOf(name))));
          if (holders.size > 1) return undefined;
          if (where[0] === 'error 9') return true;
          return storedOn.includes(where[0]!) && holders.has(await replicasetOf(where[0]!)) && (await isMaster(where[0]!)) ? true : undefined;
        }, RECOVERY_TIMEOUT_MS, 250);
      } catch (error) {
        throw new Error(`${String(error)}; last answers: ${last.join('; ')}`);
      }
    }
  }

  /** The replicaset of `instanceId` (in a member's clusterwide tables). */
  async function replicasetOf(instanceId: string): Promise<string | undefined> {
    const [status] = await members[0]!.call(CLUSTER_STATUS_FUNCTION);
    return (status as unknown as ClusterStatus).instances.find((i) => i.instance_id === instanceId)?.replicaset_id;
  }

  /** Whether `instanceId` is a member and its replicaset's master (in a member's clusterwide tables). */
  async function isMaster(instanceId: string): Promise<boolean> {
    const [status] = await members[0]!.call(CLUSTER_STATUS_FUNCTION);
    const { instances, replicasets } = status as unknown as ClusterStatus;
    const instance = instances.find((i) => i.instance_id === instanceId);
    if (instance === undefined || instance.current_grade.variant === 'Expelled') return false;
    return replicasets.some((r) => r.replicaset_id === instance.replicaset_id && r.master_id === instanceId);
  }

  it('every cycle ends with all instances Online, one leader and no acknowledged row lost', async () => {
    const writer = new Writer(members, random.fork('writer'));
    const history: string[] = [];
    writer.start();
    try {
      for (let c = 0; c < CYCLES; c++) {
        let victims: Instance[] = [];
        if (random.chance(REPLACE_CHANCE)) {
          history.push(await replaceCycle());
        } else {
          victims = random.shuffle([...members]).slice(0, random.chance(0.25) ? 2 : 1);
          history.push(await cycle(victims));
        }
        try {
          await checkRecovered(victims, writer.acknowledged);
          await checkBucketsRouted();
        } catch (error) {
          throw new Error(`cycle ${c + 1} (${history.join('; ')}): ${String(error)}\n${cluster.logs()}`);
        }
      }
    } finally {
      await writer.stop();
    }
    // The writer got through: a cluster that never committed would pass the checks above vacuously.
    const progress = `acknowledged ${writer.acknowledged.length}, lost proposals ${writer.proposalsLost}, failed batches ${writer.batchesFailed}`;
    expect(writer.acknowledged.length, progress).toBeGreaterThan(CYCLES * 5);
    await checkRecovered([], writer.acknowledged);
    expect(entriesChecked, progress).toBeGreaterThan(CYCLES * 5);
    const replaced = history.filter((h) => h.startsWith('expelled')).length;
    console.info(`soak seed ${SEED}, ${CYCLES} cycles (${replaced} expel and join): ${progress}, entries checked ${entriesChecked}; members now ${members.map((m) => m.name).join(', ')}`);
  }, 60_000 + CYCLES * 60_000);
});
