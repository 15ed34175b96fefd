/**
 * `npm run bench:sim [-- --json]`: the simulator's own speed.
 * - scheduler: trivial events (a timer that re-arms itself), events per second of wall time;
 * - network: small frames ping-ponged over many connections, delivered messages per second;
 * - smoke_K: the smoke scenario (gossip failure detector under faults) at 5, 100 and 500
 *   instances: events/s, virtual time per wall time, peak memory.
 */

import { utf8 } from '../core/lib/bytes.ts';
import { runScenario } from '../runtime-sim/runner.ts';
import { World } from '../runtime-sim/world.ts';
import { SimCluster } from '../scenarios/lib/cluster.ts';
import { smoke } from '../scenarios/smoke.ts';
import { hasFlag, peakRssMb, printReport, type BenchResult } from './report.ts';

// Captured before any simulation installs its determinism guard.
const wallNowMs = performance.now.bind(performance);

async function benchScheduler(eventsTotal: number): Promise<BenchResult> {
  const world = new World({ seed: 1 });
  const host = world.addHost('h');
  let fired = 0;
  const started = wallNowMs();
  await world.run(async () => {
    let done = false;
    host.start((env) => {
      // 100 independent timer chains, like many nodes' tickers interleaving.
      for (let chain = 0; chain < 100; chain++) {
        const tick = (): void => {
          if (++fired >= eventsTotal) done = true;
          else env.clock.after(1 + (chain % 7), tick);
        };
        env.clock.after(1, tick);
      }
    });
    await world.waitFor(() => done, 1e12, 1e6);
  }, { eventsMax: eventsTotal * 2, virtualMsMax: 1e15 });
  const wallMs = wallNowMs() - started;
  return { name: 'scheduler', events: world.scheduler.eventsRun, wallMs: Math.round(wallMs), eventsPerSec: Math.round(world.scheduler.eventsRun / (wallMs / 1000)) };
}

async function benchNetwork(messagesTotal: number, pairs: number): Promise<BenchResult> {
  const world = new World({ seed: 2 });
  const servers = Array.from({ length: pairs }, (_, i) => world.addHost(`s${i}`));
  const clients = Array.from({ length: pairs }, (_, i) => world.addHost(`c${i}`));
  const frame = utf8('ping-pong-frame-of-about-40-bytes-long...');
  for (const s of servers) {
    s.start(async (env) => {
      await env.net.listen(`${s.name}:1`, (conn) => conn.onFrame((f) => conn.send(f)));
    });
  }
  let started = 0;
  await world.run(async () => {
    let connected = 0;
    for (let i = 0; i < pairs; i++) {
      clients[i]!.start(async (env) => {
        const conn = await env.net.connect(`s${i}:1`);
        connected++;
        // 10 frames in flight per connection; each echo triggers the next send.
        conn.onFrame((f) => {
          if (world.net.framesDelivered < messagesTotal) conn.send(f);
        });
        for (let k = 0; k < 10; k++) conn.send(frame);
      });
    }
    await world.waitFor(() => connected === pairs, 1e9, 1);
    started = wallNowMs();
    await world.waitFor(() => world.net.framesDelivered >= messagesTotal, 1e12, 10);
  }, { eventsMax: messagesTotal * 3, virtualMsMax: 1e15 });
  const wallMs = wallNowMs() - started;
  return { name: 'network', messages: world.net.framesDelivered, connections: pairs, wallMs: Math.round(wallMs), messagesPerSec: Math.round(world.net.framesDelivered / (wallMs / 1000)) };
}

async function benchSmoke(nodes: number): Promise<BenchResult> {
  const summary = await runScenario(smoke, { seed: 1, nodes });
  return {
    name: `smoke_${nodes}`,
    ok: summary.ok,
    events: summary.events,
    virtualMs: summary.virtualMs,
    wallMs: summary.wallMs,
    eventsPerSec: Math.round(summary.events / (summary.wallMs / 1000)),
    acceleration: Math.round((summary.virtualMs / summary.wallMs) * 10) / 10,
    peakRssMb: peakRssMb(),
  };
}

/** Issue 5's figure: instances (RF 2, three domains) started at once, until all are Online. */
async function benchJoin(nodes: number): Promise<BenchResult> {
  const world = new World({ seed: 1, logLevel: 'warn' });
  const cluster = new SimCluster(world, { initReplicationFactor: 2, peers: ['i1:3301', 'i2:3301', 'i3:3301'] });
  const names = Array.from({ length: nodes }, (_, i) => `i${i + 1}`);
  let online = false;
  const started = wallNowMs();
  await world.run(async () => {
    for (const [i, name] of names.entries()) cluster.start(name, { failureDomain: { DC: ['A', 'B', 'C'][i % 3]! } });
    online = await cluster.waitOnline(names, 600_000);
  }, { eventsMax: 500_000_000, virtualMsMax: 3_600_000 });
  const wallMs = Math.round(wallNowMs() - started);
  return { name: `join_${nodes}`, ok: online, events: world.scheduler.eventsRun, virtualMs: Math.round(world.nowMs), wallMs, peakRssMb: peakRssMb() };
}

const results: BenchResult[] = [];
results.push(await benchScheduler(2_000_000));
results.push(await benchNetwork(2_000_000, 100));
for (const nodes of hasFlag('--quick') ? [5, 100] : [5, 100, 500]) results.push(await benchSmoke(nodes));
results.push(await benchJoin(hasFlag('--quick') ? 50 : 200));
printReport('sim', results, hasFlag('--json'));
