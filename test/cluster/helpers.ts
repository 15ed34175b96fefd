import { expect } from 'vitest';
import type { MpValue } from '../../core/codec/msgpack.ts';
import { errorText, SimCluster, type InstanceSpec } from '../../scenarios/lib/cluster.ts';
import type { Result } from '../../core/iproto/client.ts';
import { World } from '../../runtime-sim/world.ts';

/** Runs `body` against a fresh simulated cluster; fails on any simulator violation. */
export async function simulate(seed: number, body: (cluster: SimCluster, world: World) => Promise<void>, defaults: InstanceSpec = {}): Promise<void> {
  const world = new World({ seed, logLevel: 'info' });
  const cluster = new SimCluster(world, defaults);
  let failure: unknown = null;
  const end = await world.run(async () => {
    try {
      await body(cluster, world);
    } catch (error) {
      failure = error;
    }
  }, { eventsMax: 20_000_000, virtualMsMax: 1_800_000 });
  if (failure !== null) {
    const tail = world.logs.recent().slice(-80).map((l) => `${(l.timeMs / 1000).toFixed(3)} ${l.host} ${l.level} ${l.message} ${JSON.stringify(l.fields, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`);
    throw new Error(`${failure instanceof Error ? failure.stack : String(failure)}\n--- last log lines ---\n${tail.join('\n')}`);
  }
  expect(end).toBe('until');
  expect(world.violations).toEqual([]);
}

export async function ok(cluster: SimCluster, name: string, fn: string, args: readonly MpValue[] = []): Promise<MpValue[]> {
  const r = await cluster.call(name, fn, args);
  if (!r.ok) throw new Error(`${fn} on ${name} failed: ${JSON.stringify(r.error)}`);
  return r.value;
}

/** Retries `raft_timeout_now` until the instance leads (Picodata's promote_or_fail). */
export async function promote(cluster: SimCluster, name: string): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    if (cluster.node(name)?.isLeader()) return;
    await cluster.call(name, 'pico.raft_timeout_now');
    await cluster.world.waitFor(() => cluster.node(name)?.isLeader() === true, 2_000, 50);
  }
  throw new Error(`${name} did not become leader`);
}

export async function startAll(cluster: SimCluster, names: readonly string[], spec: InstanceSpec = {}): Promise<void> {
  for (const n of names) cluster.start(n, spec);
  const online = await cluster.waitOnline(names, 60_000);
  if (!online) throw new Error(`not all Online: ${names.map((n) => `${n}=${cluster.node(n)?.state}/${JSON.stringify(cluster.node(n)?.self()?.currentGrade)}`).join(' ')}`);
}

/** The raft id instance `name` runs with (join order decides it, not the name). */
export function raftIdOf(cluster: SimCluster, name: string): number {
  const id = cluster.node(name)?.identity?.raftId;
  if (id === undefined) throw new Error(`${name} has no raft id yet`);
  return id;
}

/** The error text of a failed call, or `ok <json>` for a successful one. */
export function message(result: Result<MpValue[]>): string {
  return errorText(result);
}
