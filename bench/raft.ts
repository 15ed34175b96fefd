/**
 * `npm run bench:raft [-- --json]`: committed Raft proposals per second.
 * - sim_3, sim_5: a cluster of 3 or 5 instances in the simulator, 200 proposals in flight from a
 *   client (CALL pico.raft_propose_nop, which returns once the entry is applied); figures per
 *   wall second of simulation and per virtual second.
 * - real_3_durable_200: 3 real processes on loopback (TCP, LMDB, every Raft write fsynced), the
 *   same client load over real iproto. Reference: etcd 3.4, 3 members, 200 puts in flight from a
 *   Node client: about 6,000 puts/s on this machine.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IprotoClient } from '../core/iproto/client.ts';
import { RealClock } from '../runtime-real/clock.ts';
import { RealNetwork } from '../runtime-real/network.ts';
import { World } from '../runtime-sim/world.ts';
import { SimCluster } from '../scenarios/lib/cluster.ts';
import { hasFlag, printReport, type BenchResult } from './report.ts';

const wallNowMs = performance.now.bind(performance);
const IN_FLIGHT = 200;
const ETCD_PUTS_PER_SEC = 6_000;

async function benchSim(voters: number, proposals: number): Promise<BenchResult> {
  const world = new World({ seed: 1, logLevel: 'warn' });
  const cluster = new SimCluster(world, { initReplicationFactor: 1 });
  const names = Array.from({ length: voters }, (_, i) => `i${i + 1}`);
  let wallMs = 0;
  let virtualMs = 0;
  let committed = 0;
  await world.run(async () => {
    for (const n of names) cluster.start(n);
    await cluster.waitOnline(names, 60_000);
    const leader = cluster.leaderName()!;
    await cluster.call(leader, 'pico.raft_propose_nop'); // connect before timing
    const startWall = wallNowMs();
    const startVirtual = world.nowMs;
    let issued = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (issued < proposals) {
          issued++;
          const r = await cluster.call(leader, 'pico.raft_propose_nop', [], 10_000);
          if (r.ok) committed++;
        }
      }),
    );
    wallMs = wallNowMs() - startWall;
    virtualMs = world.nowMs - startVirtual;
  }, { eventsMax: 100_000_000, virtualMsMax: 3_600_000 });
  return {
    name: `sim_${voters}`,
    committed,
    wallMs: Math.round(wallMs),
    opsPerSec: Math.round(committed / (wallMs / 1000)),
    virtualOpsPerSec: Math.round(committed / (virtualMs / 1000)),
  };
}

async function waitFor(predicate: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await predicate()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

async function benchReal(durationMs: number): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-raft-'));
  const base = 23000 + (process.pid % 1000) * 3;
  const addresses = [0, 1, 2].map((i) => `127.0.0.1:${base + i}`);
  const children: ChildProcess[] = addresses.map((address, i) =>
    spawn(process.execPath, ['--import', 'tsx', 'bench/lib/instance-main.ts', address, addresses[0]!, join(dir, `i${i + 1}`), `i${i + 1}`, 'fsync'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    }),
  );
  const env = { net: new RealNetwork(), clock: new RealClock() };
  try {
    const clients: IprotoClient[] = [];
    for (const address of addresses) {
      const c = await IprotoClient.connect(env, address, { connectTimeoutMs: 500 });
      for (let attempt = 0; !c.ok && attempt < 100; attempt++) await new Promise((r) => setTimeout(r, 100));
      clients.push(c.ok ? c.value : (await waitConnect(env, address)));
    }
    const online = await waitFor(async () => {
      for (const c of clients) {
        const r = await c.call('pico.instance_info', []);
        const info = r.ok ? (r.value[0] as { current_grade?: { variant?: string } } | null) : null;
        if (info?.current_grade?.variant !== 'Online') return false;
      }
      return true;
    }, 60_000);
    if (!online) throw new Error('the 3-instance cluster did not come Online');
    let leader: IprotoClient | undefined;
    for (const c of clients) {
      const r = await c.call('pico.raft_status', []);
      if (r.ok && (r.value[0] as { raft_state?: string }).raft_state === 'Leader') leader = c;
    }
    if (leader === undefined) throw new Error('no leader');
    const target = leader;
    const start = Date.now();
    let committed = 0;
    let failed = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (Date.now() - start < durationMs) {
          const r = await target.call('pico.raft_propose_nop', [], { timeoutMs: 10_000 });
          if (r.ok) committed++;
          else failed++;
        }
      }),
    );
    const wallMs = Date.now() - start;
    for (const c of clients) c.close();
    const opsPerSec = Math.round(committed / (wallMs / 1000));
    return { name: 'real_3_durable_200', committed, failed, wallMs, opsPerSec, etcdOpsPerSec: ETCD_PUTS_PER_SEC, ratio: Math.round((opsPerSec / ETCD_PUTS_PER_SEC) * 100) / 100 };
  } finally {
    for (const child of children) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

async function waitConnect(env: { net: RealNetwork; clock: RealClock }, address: string): Promise<IprotoClient> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const c = await IprotoClient.connect(env, address, { connectTimeoutMs: 500 });
    if (c.ok) return c.value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`cannot connect to ${address}`);
}

const results: BenchResult[] = [];
results.push(await benchSim(3, 20_000));
results.push(await benchSim(5, 20_000));
results.push(await benchReal(hasFlag('--quick') ? 3_000 : 10_000));
printReport('raft', results, hasFlag('--json'));
