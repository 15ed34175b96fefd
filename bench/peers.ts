/**
 * npm run bench:peers [-- --json] [--ops N] [--runs R] [--only driver|netbox|<case>] [--cpu-prof DIR] [--noise-floor] [--pin]
 *
 * Our node against Tarantool 2.6 (Debian package) as iproto servers, side by side on
 * 127.0.0.1, driven by the same clients:
 * (a) npm tarantool-driver 3.1.0 from this process, 100 requests in flight on one connection:
 *     replace, select by key, ping;
 * (b) Tarantool's own net.box, run by the `tarantool` binary as a client (bench/netbox-client.lua),
 *     100 fibers on one connection: replace, select by key.
 * Tarantool: box.cfg{listen, memtx_memory = 1G, wal_mode = 'write', readahead = 1M,
 * net_msg_max = 4096}, space `test` with a TREE unsigned primary key, guest granted
 * read,write,execute on universe (REFERENCE 7). Ours: `picodata run --wal-mode write` with the
 * test script creating `test`. A case runs R rounds; a round runs both servers back to back (the
 * order alternates), and its ratio is ours / Tarantool of that round. ops/s figures are the medians
 * over the rounds, `ratio` is the median of the per-round ratios (`ratioMin`/`ratioMax` its range):
 * the machine's speed drifts between rounds (other tenants of the host: see `stealPct`, the share
 * of CPU time the hypervisor took during the case), and pairing the two servers within a round
 * keeps that drift out of the comparison. Rounds are short and many (10 x 100k requests by
 * default): the drift comes in epochs of seconds, so the two halves of a short round see the
 * same machine, and a round a hiccup spoiled moves the median little. An even number of rounds
 * lets each server go first equally often. The last line is the JSON report (bench/report.ts).
 * `--cpu-prof DIR` profiles our server (node --cpu-prof) for the whole run. `--noise-floor` puts
 * a second, identical Tarantool in our node's place: the ratios it prints are what this machine's
 * noise gives two equal servers.
 *
 * `--pin` binds both servers (every thread) to CPU 0 and the clients to CPU 1 (taskset), so
 * that neither competes with the other for a core and the scheduler stops moving them: on this
 * 2-core VM it cut the spread of per-round driver ratios from about +-20% to +-5%, the noise
 * floor coming out 0.99-1.01 on every line. The unpinned run stays the default: it is the
 * setup the reference figures were measured in, and a server that may use both cores is what a
 * user gets. Pinned, the driver lines show what unpinned noise hides (2026-11-23: ours 0.96-0.99
 * of Tarantool; net.box 1.02-1.07): the client waits longer for our replies (its idle share
 * 0.14-0.15 against 0.11-0.12), its kernel often holding requests it cannot send (BBR cwnd of
 * 12-20 segments all unacknowledged, `ss -tin`), which Tarantool's separate network thread
 * acknowledges as they come while our one thread is working through the previous ones.
 *
 * Besides ops/s, each server's CPU time per request (all its threads, user + system, from
 * /proc/<pid>/stat, median over the runs) is reported as `<server>CpuUsPerOp`: the client and the
 * server share the cores, so server CPU comes out of the client's throughput, and it tells a
 * client-bound run from a server-bound one. The figure covers warm-up requests too (a few %).
 */

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { IprotoClient } from '../core/iproto/client.ts';
import { RealClock } from '../runtime-real/clock.ts';
import { RealNetwork } from '../runtime-real/network.ts';
import { ensureBundle, ROOT } from '../scripts/bundle.mjs';
import { hasFlag, option, printReport, type BenchResult } from './report.ts';
import { freePort } from '../scripts/free-port.ts';

const IN_FLIGHT = 100;
const FIBERS = 100;
const WARMUP_OPS = 5_000;

interface DriverConnection {
  connect(): Promise<void>;
  disconnect(): void;
  ping(): Promise<boolean>;
  select(space: string | number, index: string | number, limit: number, offset: number, iterator: string, key: unknown[]): Promise<unknown[]>;
  replace(space: string | number, tuple: unknown[]): Promise<unknown[]>;
  on(event: 'error', listener: (error: Error) => void): void;
}
type DriverConstructor = new (options: Record<string, unknown>) => DriverConnection;
const require = createRequire(import.meta.url);
const TarantoolConnection = require('tarantool-driver') as DriverConstructor;

async function until(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Server {
  readonly name: 'ours' | 'tarantool';
  readonly port: number;
  readonly child: ChildProcess;
}

async function stop(server: Server): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  const exited = new Promise((r) => server.child.once('exit', r));
  server.child.kill('SIGTERM');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

async function startTarantool(dir: string, name: Server['name'] = 'tarantool'): Promise<Server> {
  const port = await freePort();
  const work = join(dir, `tarantool-${name}`);
  mkdirSync(work, { recursive: true });
  writeFileSync(
    join(work, 'init.lua'),
    [
      `box.cfg{listen = '127.0.0.1:${port}', memtx_memory = 1024 * 1024 * 1024, wal_mode = 'write', readahead = 1024 * 1024, net_msg_max = 4096, log_level = 2}`,
      `box.schema.space.create('test', {if_not_exists = true})`,
      `box.space.test:create_index('pk', {type = 'TREE', parts = {1, 'unsigned'}, if_not_exists = true})`,
      `box.schema.user.grant('guest', 'read,write,execute', 'universe', nil, {if_not_exists = true})`,
    ].join('\n'),
  );
  const child = spawn('tarantool', ['init.lua'], { cwd: work, stdio: ['ignore', 'ignore', 'inherit'] });
  const server: Server = { name, port, child };
  await until('tarantool to listen', () => driverPing(port), 15_000);
  return server;
}

async function startOurs(dir: string, profileDir: string | undefined): Promise<Server> {
  const bundle = await ensureBundle('picodata');
  if (bundle === null) throw new Error('esbuild is missing: npm ci');
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const nodeFlags = profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir];
  const script = join(ROOT, 'test', 'real', 'fixtures', 'app.mjs');
  const args = [...nodeFlags, bundle, 'run', '--listen', address, '--peer', address, '--data-dir', join(dir, 'ours'), '--script', script, '--wal-mode', 'write', '--log-level', 'warn'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  const server: Server = { name: 'ours', port, child };
  await until('our node to be Online', async () => {
    const connected = await IprotoClient.connect({ net: new RealNetwork(), clock: new RealClock() }, address, { connectTimeoutMs: 500 });
    if (!connected.ok) return false;
    try {
      const info = await connected.value.call('pico.instance_info', [], { timeoutMs: 1_000 });
      const grade = info.ok ? (info.value[0] as { current_grade?: { variant?: string } } | null)?.current_grade?.variant : undefined;
      const space = await connected.value.select({ spaceId: 281, indexId: 2, key: ['test'], limit: 1 });
      return grade === 'Online' && space.ok && space.value.length === 1;
    } finally {
      connected.value.close();
    }
  }, 30_000);
  return server;
}

async function driverPing(port: number): Promise<boolean> {
  const conn = new TarantoolConnection({ host: '127.0.0.1', port, lazyConnect: true, retryStrategy: null });
  // While the server starts, refused connections are expected: connect() rejects, and the
  // driver's 'error' event needs a listener or it is printed as unhandled.
  conn.on('error', () => undefined);
  try {
    await conn.connect();
    return await conn.ping();
  } finally {
    conn.disconnect();
  }
}

type DriverOp = 'replace' | 'select' | 'ping';

/** `ops` requests with IN_FLIGHT outstanding on one tarantool-driver connection; ops/s. */
async function driverRun(port: number, op: DriverOp, ops: number): Promise<number> {
  const conn = new TarantoolConnection({ host: '127.0.0.1', port, lazyConnect: true, retryStrategy: null });
  await conn.connect();
  const request = (i: number): Promise<unknown> => {
    switch (op) {
      case 'replace':
        return conn.replace('test', [i, 'x']);
      case 'select':
        return conn.select('test', 'pk', 1, 0, 'eq', [i]);
      case 'ping':
        return conn.ping();
    }
  };
  try {
    // Warm-up: names resolved (one at a time, see test/real/clients.test.ts), JIT warm.
    await request(1);
    await runInFlight(Math.min(WARMUP_OPS, ops), (i) => request(1 + (i % ops)));
    const started = performance.now();
    await runInFlight(ops, (i) => request(1 + i));
    return ops / ((performance.now() - started) / 1000);
  } finally {
    conn.disconnect();
  }
}

/** No completion for this long means the client stalled (see runInFlight). */
const STALL_MS = 15_000;

/**
 * `ops` requests, IN_FLIGHT at a time. tarantool-driver 3.1.0 can stall when a read ends inside
 * a packet (its `state` is left at AWAITING_LENGTH and new requests wait in its offline queue);
 * it happens against Tarantool too (see test/real/clients.test.ts). A run that makes no
 * progress for STALL_MS fails loudly instead of hanging.
 */
async function runInFlight(ops: number, request: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < ops) {
      await request(next++);
      done++;
    }
  };
  let lastDone = -1;
  let watchdog: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    watchdog = setInterval(() => {
      if (done === lastDone) reject(new Error(`the client stalled at ${done} of ${ops} requests (tarantool-driver state bug)`));
      lastDone = done;
    }, STALL_MS);
  });
  try {
    await Promise.race([Promise.all(Array.from({ length: IN_FLIGHT }, worker)), stalled]);
  } finally {
    clearInterval(watchdog);
  }
}

const SERVER_CPU = 0;
const CLIENT_CPU = 1;

/** Binds every thread of process `pid` to one CPU (taskset -a); children it starts later inherit it. */
function pin(pid: number, cpu: number): Promise<void> {
  return new Promise((ok, fail) => {
    execFile('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], (error) => (error === null ? ok() : fail(error)));
  });
}

const NETBOX_SCRIPT = fileURLToPath(new URL('./netbox-client.lua', import.meta.url));

function netboxRun(port: number, kind: 'replace' | 'select', ops: number): Promise<number> {
  return new Promise((ok, fail) => {
    execFile('tarantool', [NETBOX_SCRIPT, `127.0.0.1:${port}`, kind, String(ops), String(FIBERS), '1'], { timeout: 300_000 }, (error, stdout, stderr) => {
      if (error !== null) return fail(new Error(`net.box client failed: ${error.message}\n${stderr}`));
      const report = JSON.parse(stdout.trim().split('\n').pop()!) as { ops: number; seconds: number; errors: number };
      if (report.errors > 0) return fail(new Error(`net.box client: ${report.errors} errors`));
      ok(report.ops / report.seconds);
    });
  });
}

/** The median; of an even count, the mean of the two middle values (not the upper one). */
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

interface Case {
  readonly name: string;
  /** Requests the run sends in all (warm-up included), to turn server CPU into CPU per request. */
  readonly requests: number;
  run(server: Server): Promise<number>;
}

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ; 100 on Linux everywhere). */
const USER_HZ = 100;

/** CPU seconds (user + system, all threads) a process has used; NaN where /proc is missing. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
  } catch {
    return Number.NaN;
  }
}

/** Steal and total jiffies of all CPUs (/proc/stat `cpu` line); zeros where /proc is missing. */
function cpuJiffies(): { steal: number; total: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const fields = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal [guest guest_nice, already inside user/nice]
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
    return { steal: fields[7] ?? 0, total };
  } catch {
    return { steal: 0, total: 0 };
  }
}

async function main(): Promise<void> {
  const json = hasFlag('--json');
  const ops = Number(option('--ops', '100000'));
  const runs = Number(option('--runs', '10'));
  const only = option('--only', 'all');
  const profileArg = option('--cpu-prof', '');
  const profileDir = profileArg === '' ? undefined : resolve(profileArg);
  const dir = mkdtempSync(join(tmpdir(), 'bench-peers-'));
  const all: Case[] = [];
  for (const op of ['replace', 'select', 'ping'] as const) {
    all.push({ name: `driver_${op}`, requests: ops + Math.min(WARMUP_OPS, ops) + 1, run: (s) => driverRun(s.port, op, ops) });
  }
  for (const kind of ['replace', 'select'] as const) {
    all.push({ name: `netbox_${kind}`, requests: ops + 1, run: (s) => netboxRun(s.port, kind, ops) });
  }
  // `--only driver` / `--only netbox` picks a client, `--only netbox_select` one case.
  const cases = all.filter((c) => only === 'all' || c.name === only || c.name.startsWith(`${only}_`));
  if (cases.length === 0) throw new Error(`--only ${only}: no such case (${all.map((c) => c.name).join(', ')})`);
  let tarantool: Server | null = null;
  let ours: Server | null = null;
  try {
    tarantool = await startTarantool(dir);
    // --noise-floor: a second Tarantool in our place, to show what ratios identical servers get.
    ours = hasFlag('--noise-floor') ? await startTarantool(dir, 'ours') : await startOurs(dir, profileDir);
    if (hasFlag('--pin')) {
      for (const server of [tarantool, ours]) await pin(server.child.pid!, SERVER_CPU);
      await pin(process.pid, CLIENT_CPU);
    }
    const results: BenchResult[] = [];
    for (const c of cases) {
      const figures: Record<'ours' | 'tarantool', number[]> = { ours: [], tarantool: [] };
      const cpuUs: Record<'ours' | 'tarantool', number[]> = { ours: [], tarantool: [] };
      const ratios: number[] = [];
      const jiffiesBefore = cpuJiffies();
      for (let r = 0; r < runs; r++) {
        // Alternate which server goes first so that drift on a shared machine hits both.
        const order = r % 2 === 0 ? [tarantool, ours] : [ours, tarantool];
        for (const server of order) {
          const cpuBefore = cpuSeconds(server.child.pid);
          figures[server.name].push(await c.run(server));
          cpuUs[server.name].push(((cpuSeconds(server.child.pid) - cpuBefore) * 1e6) / c.requests);
        }
        ratios.push(figures.ours[r]! / figures.tarantool[r]!);
      }
      const jiffiesAfter = cpuJiffies();
      const round2 = (x: number): number => Math.round(x * 100) / 100;
      const oursOpsPerSec = Math.round(median(figures.ours));
      const tarantoolOpsPerSec = Math.round(median(figures.tarantool));
      const ratio = round2(median(ratios));
      const ratioMin = round2(Math.min(...ratios));
      const ratioMax = round2(Math.max(...ratios));
      const oursCpuUsPerOp = Math.round(median(cpuUs.ours) * 10) / 10;
      const tarantoolCpuUsPerOp = Math.round(median(cpuUs.tarantool) * 10) / 10;
      const jiffies = jiffiesAfter.total - jiffiesBefore.total;
      const stealPct = jiffies > 0 ? Math.round((1000 * (jiffiesAfter.steal - jiffiesBefore.steal)) / jiffies) / 10 : 0;
      results.push({ name: c.name, oursOpsPerSec, tarantoolOpsPerSec, ratio, ratioMin, ratioMax, oursCpuUsPerOp, tarantoolCpuUsPerOp, stealPct });
      if (!json) {
        const list = (values: number[], digits: number): string => values.map((v) => v.toFixed(digits)).join('/');
        console.error(
          `${c.name}: ours ${list(figures.ours, 0)} (${list(cpuUs.ours, 1)} µs/op) ` +
            `tarantool ${list(figures.tarantool, 0)} (${list(cpuUs.tarantool, 1)} µs/op) ratios ${list(ratios, 2)}`,
        );
      }
    }
    printReport('peers', results, true);
  } finally {
    if (ours !== null) await stop(ours);
    if (tarantool !== null) await stop(tarantool);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
