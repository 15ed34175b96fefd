/**
 * Real-process harness: `picodata run` as OS processes on 127.0.0.1 (the esbuild bundle, built
 * once per test file, so a start costs ~0.2 s instead of tsx's 1-2 s), free ports picked by the
 * OS, a temporary directory per cluster, and an iproto client to call `pico.*` the way the
 * acceptance scenarios do (REFERENCE section 2). Every wait is bounded; `destroy()` SIGKILLs
 * whatever still runs and removes the directory (call it in afterAll).
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MpValue } from '../../core/codec/msgpack.ts';
import { IprotoClient } from '../../core/iproto/client.ts';
import { RealClock } from '../../runtime-real/clock.ts';
import { RealNetwork } from '../../runtime-real/network.ts';
import { ensureBundle, ROOT } from '../../scripts/bundle.mjs';
import { freePort } from '../../scripts/free-port.ts';

export { freePort };

export const SCRIPT_MJS = join(ROOT, 'test', 'real', 'fixtures', 'app.mjs');
export const SCRIPT_TS = join(ROOT, 'test', 'real', 'fixtures', 'app.ts');

let bundlePromise: Promise<string> | null = null;

/** dist/picodata.mjs, rebuilt if stale (once per test file). */
export function picodataBundle(): Promise<string> {
  bundlePromise ??= ensureBundle('picodata').then((path) => {
    if (path === null) throw new Error('esbuild is not installed: run npm ci');
    return path;
  });
  return bundlePromise;
}

/** A port nothing listens on right now (the OS picks it). */

export async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs: number, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : ` (last error: ${String(last)})`}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** Runs the CLI to completion (expel, status, connect, bad usage). */
export async function runCli(args: readonly string[], options: { input?: string; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const bundle = await picodataBundle();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bundle, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`picodata ${args.join(' ')} did not finish in time\n${stdout}\n${stderr}`));
    }, options.timeoutMs ?? 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

export interface InstanceSpec {
  readonly instanceId?: string;
  readonly peers?: readonly string[];
  readonly initReplicationFactor?: number;
  readonly replicasetId?: string;
  readonly failureDomain?: string;
  readonly script?: string | null;
  readonly httpPort?: number;
  readonly walMode?: 'none' | 'write' | 'fsync';
  readonly logLevel?: string;
  readonly extraArgs?: readonly string[];
  readonly env?: Record<string, string>;
}

export class Instance {
  readonly name: string;
  /** Port it listens on (and advertises); a restart may move it (`start({}, newPort)`). */
  port: number;
  readonly dataDir: string;
  spec: InstanceSpec;
  private child: ChildProcess | null = null;
  private exited: Promise<ExitStatus> | null = null;
  /** Everything the current process wrote on stderr (the JSON log). */
  log = '';
  private client: IprotoClient | null = null;

  constructor(name: string, port: number, dataDir: string, spec: InstanceSpec) {
    this.name = name;
    this.port = port;
    this.dataDir = dataDir;
    this.spec = spec;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  args(): string[] {
    const s = this.spec;
    const args = ['run', '--listen', this.address, '--data-dir', this.dataDir, '--log-level', s.logLevel ?? 'info'];
    if (s.instanceId !== undefined) args.push('--instance-id', s.instanceId);
    if (s.peers !== undefined) args.push('--peer', s.peers.join(','));
    if (s.initReplicationFactor !== undefined) args.push('--init-replication-factor', String(s.initReplicationFactor));
    if (s.replicasetId !== undefined) args.push('--replicaset-id', s.replicasetId);
    if (s.failureDomain !== undefined) args.push('--failure-domain', s.failureDomain);
    if (s.script !== null) args.push('--script', s.script ?? SCRIPT_MJS);
    if (s.httpPort !== undefined) args.push('--http-listen', `127.0.0.1:${s.httpPort}`);
    if (s.walMode !== undefined) args.push('--wal-mode', s.walMode);
    args.push(...(s.extraArgs ?? []));
    return args;
  }

  async start(spec: Partial<InstanceSpec> = {}, port = this.port): Promise<void> {
    if (this.running) throw new Error(`${this.name} is already running`);
    this.spec = { ...this.spec, ...spec };
    this.port = port;
    const bundle = await picodataBundle();
    this.log = '';
    this.closeClient();
    const child = spawn(process.execPath, [bundle, ...this.args()], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...this.spec.env },
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.log += chunk));
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Sends `signal` and waits for the exit (bounded). */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<ExitStatus> {
    const child = this.child;
    if (child === null || this.exited === null) return { code: null, signal: null };
    if (this.running) child.kill(signal);
    return this.waitExit(timeoutMs);
  }

  async waitExit(timeoutMs: number): Promise<ExitStatus> {
    if (this.exited === null) throw new Error(`${this.name} was never started`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.name} did not exit within ${timeoutMs} ms\n${this.log.slice(-3000)}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
      this.closeClient();
    }
  }

  kill(): void {
    if (this.running) this.child!.kill('SIGKILL');
    this.closeClient();
  }

  private closeClient(): void {
    this.client?.close();
    this.client = null;
  }

  /** CALL over iproto (a connection kept per process); throws with the server's message. */
  async call(fn: string, args: readonly MpValue[] = [], timeoutMs = 5_000): Promise<MpValue[]> {
    if (this.client === null || this.client.isClosed) {
      const connected = await IprotoClient.connect({ net: new RealNetwork(), clock: new RealClock() }, this.address, { connectTimeoutMs: 1_000 });
      if (!connected.ok) throw new Error(`${this.name}: ${connected.error.kind === 'server' ? connected.error.message : connected.error.kind}`);
      this.client = connected.value;
    }
    const result = await this.client.call(fn, args, { timeoutMs });
    if (!result.ok) throw new Error(`${this.name} ${fn}: ${result.error.kind === 'server' ? result.error.message : result.error.kind}`);
    return result.value;
  }

  /** `pico.instance_info()` of this instance (or of `id`), as a plain object. */
  async info(id?: string): Promise<InstanceInfo> {
    const [info, error] = await this.call('pico.instance_info', id === undefined ? [] : [id]);
    if (info === null || info === undefined) throw new Error(`${this.name}: ${String(error)}`);
    return info as unknown as InstanceInfo;
  }

  async raftStatus(): Promise<RaftStatus> {
    const [status, error] = await this.call('pico.raft_status');
    if (status === null || status === undefined) throw new Error(`${this.name}: ${String(error)}`);
    return status as unknown as RaftStatus;
  }

  /**
   * Waits until this instance reports its own current grade Online (REFERENCE 2 `wait_online`),
   * in at least incarnation `minIncarnation` (a restarted instance replays its log first, so for
   * a moment it may still see its previous incarnation Online).
   */
  async waitOnline(timeoutMs = 20_000, minIncarnation = 1): Promise<InstanceInfo> {
    try {
      return await until(`${this.name} Online`, async () => {
        if (!this.running) throw new Error(`${this.name} exited`);
        const info = await this.info();
        return info.current_grade.variant === 'Online' && info.current_grade.incarnation >= minIncarnation ? info : undefined;
      }, timeoutMs, 100);
    } catch (error) {
      throw new Error(`${String(error)}\n${this.name}'s log:\n${this.log.slice(-4000)}`);
    }
  }

  /** Log events (JSON lines) with `msg`. */
  events(msg: string): Array<Record<string, unknown>> {
    return this.log
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => e['msg'] === msg);
  }
}

export interface InstanceInfo {
  raft_id: number;
  instance_id: string;
  replicaset_id: string;
  advertise_address: string;
  current_grade: { variant: string; incarnation: number };
  target_grade: { variant: string; incarnation: number };
}

export interface RaftStatus {
  id: number;
  term: number;
  leader_id: number | null;
  raft_state: string;
  voters: number[];
  learners: number[];
}

/** A set of instances sharing a temporary directory. */
export class Cluster {
  readonly dir: string;
  readonly instances: Instance[] = [];

  constructor(label: string) {
    this.dir = mkdtempSync(join(tmpdir(), `picodata-${label}-`));
  }

  async add(name: string, spec: InstanceSpec = {}): Promise<Instance> {
    const instance = new Instance(name, await freePort(), join(this.dir, name), spec);
    this.instances.push(instance);
    return instance;
  }

  get(name: string): Instance {
    const found = this.instances.find((i) => i.name === name);
    if (found === undefined) throw new Error(`no instance ${name}`);
    return found;
  }

  destroy(): void {
    for (const instance of this.instances) instance.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Every instance's log, for a failure message. */
  logs(): string {
    return this.instances.map((i) => `==== ${i.name}\n${i.log.slice(-4000)}`).join('\n');
  }
}
