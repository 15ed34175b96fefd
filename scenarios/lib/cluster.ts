/**
 * A simulated Picodata cluster for scenarios and tests: hosts `i1..iN` at `iN:3301` running the
 * real instance program, and a `client` host that talks to them over iproto exactly as an
 * operator's tool would (CALL `pico.*`, `.proc_*`). Checkers may also read each node's state
 * directly (read-only) through the handles the program exposes.
 */

import type { WalMode } from '../../core/box/wal.ts';
import type { MpValue } from '../../core/codec/msgpack.ts';
import type { Clock } from '../../core/env/clock.ts';
import type { Program } from '../../core/env/env.ts';
import type { Network } from '../../core/env/network.ts';
import { instanceProgram, type InstanceHooks } from '../../core/instance.ts';
import { IprotoClient, type ClientError, type Result } from '../../core/iproto/client.ts';
import type { Node } from '../../core/node/node.ts';
import { DEFAULT_TUNING, type NodeOptions, type NodeTuning } from '../../core/node/options.ts';
import type { FailureDomain } from '../../core/cluster/failure-domain.ts';
import type { SimHost, World } from '../../runtime-sim/world.ts';

export const PORT = 3301;

export interface InstanceSpec {
  /** Defaults to the host name, as Picodata's test harness passes `--instance-id`. */
  readonly instanceId?: string;
  /** Let the cluster name the instance (`i<raft_id>`) instead. */
  readonly autoInstanceId?: boolean;
  readonly replicasetId?: string;
  readonly peers?: readonly string[];
  readonly failureDomain?: FailureDomain;
  readonly initReplicationFactor?: number;
  readonly clusterId?: string;
  /** Port to listen on and advertise (default PORT); a restart may move it. */
  readonly port?: number;
  readonly tuning?: Partial<NodeTuning>;
  /** The box WAL's durability (default `write`, as the daemon's benchmarks run). */
  readonly walMode?: WalMode;
  /** Start past a corrupt WAL record (the daemon's --force-recovery). */
  readonly forceRecovery?: boolean;
}

export class SimCluster {
  readonly world: World;
  /** The latest Node handle per host name (replaced at each start). */
  readonly nodes = new Map<string, Node>();
  readonly specs = new Map<string, InstanceSpec>();
  private clientHost: SimHost;
  private client: IprotoClient | null = null;
  private readonly clients = new Map<string, IprotoClient>();
  defaults: InstanceSpec;
  /** Hooks given to every instance started from now on (checkers). */
  hooks: InstanceHooks = {};

  constructor(world: World, defaults: InstanceSpec = {}) {
    this.world = world;
    this.defaults = defaults;
    this.clientHost = world.addHost('client');
  }

  /** Where instance `name` listens: its host name and the port of its latest start. */
  /** The spec `name` last started with (undefined before its first start). */
  specOf(name: string): InstanceSpec | undefined {
    return this.specs.get(name);
  }

  address(name: string): string {
    return `${name}:${this.specs.get(name)?.port ?? this.defaults.port ?? PORT}`;
  }

  host(name: string): SimHost {
    return this.world.hosts.find((h) => h.name === name) ?? this.world.addHost(name);
  }

  options(name: string, spec: InstanceSpec): NodeOptions {
    const address = `${name}:${spec.port ?? PORT}`;
    return {
      clusterId: spec.clusterId ?? 'demo',
      instanceId: spec.autoInstanceId === true ? undefined : (spec.instanceId ?? name),
      replicasetId: spec.replicasetId,
      listen: address,
      advertise: address,
      peers: spec.peers ?? [this.address('i1')],
      failureDomain: spec.failureDomain ?? {},
      initReplicationFactor: spec.initReplicationFactor ?? 1,
      walMode: spec.walMode ?? 'write',
      forceRecovery: spec.forceRecovery === true,
      tuning: { ...DEFAULT_TUNING, ...spec.tuning },
    };
  }

  program(name: string, spec: InstanceSpec, hooks: InstanceHooks = {}): Program {
    return instanceProgram(this.options(name, spec), {
      ...hooks,
      opened: (node, backend) => {
        this.nodes.set(name, node);
        hooks.opened?.(node, backend);
      },
    });
  }

  /** Starts (or restarts) instance `name`; the spec is remembered for restarts. */
  start(name: string, spec: InstanceSpec = this.specs.get(name) ?? {}): SimHost {
    const merged = { ...this.defaults, ...spec };
    this.specs.set(name, merged);
    const host = this.host(name);
    this.nodes.delete(name);
    host.start(this.program(name, merged, this.hooks));
    return host;
  }

  node(name: string): Node | undefined {
    const host = this.world.hosts.find((h) => h.name === name);
    if (host === undefined || !host.running) return undefined;
    return this.nodes.get(name);
  }

  /** CALLs `fn(...args)` on instance `name` over iproto from the client host. */
  async call(name: string, fn: string, args: readonly MpValue[] = [], timeoutMs = 5_000): Promise<Result<MpValue[]>> {
    const client = await this.connect(name);
    if (!client.ok) return client;
    return client.value.call(fn, args, { timeoutMs });
  }

  private async connect(name: string): Promise<Result<IprotoClient>> {
    // Keyed by address: an instance restarted on another port is a new connection.
    const address = this.address(name);
    const cached = this.clients.get(address);
    if (cached !== undefined && !cached.isClosed) return { ok: true, value: cached };
    const env = await this.clientEnv();
    const result = await IprotoClient.connect(env, address, { connectTimeoutMs: 1_000 });
    if (result.ok) this.clients.set(address, result.value);
    return result;
  }

  private clientEnvPromise: Promise<{ net: Network; clock: Clock }> | null = null;

  private clientEnv(): Promise<{ net: Network; clock: Clock }> {
    if (this.clientEnvPromise === null) {
      this.clientEnvPromise = new Promise((resolve) => {
        this.clientHost.start((env) => {
          resolve({ net: env.net, clock: env.clock });
          return new Promise<void>(() => undefined); // the client process lives for the whole run
        });
      });
    }
    return this.clientEnvPromise;
  }

  // --- observations ---------------------------------------------------------------------------

  grades(name: string, of = name): { current: string; target: string } | undefined {
    const node = this.node(name);
    const instance = node?.tables.instance(node.identity?.instanceId === undefined ? of : this.instanceIdOf(of) ?? of);
    if (instance === undefined) return undefined;
    return { current: `${instance.currentGrade.variant}(${instance.currentGrade.incarnation})`, target: `${instance.targetGrade.variant}(${instance.targetGrade.incarnation})` };
  }

  instanceIdOf(name: string): string | undefined {
    return this.nodes.get(name)?.identity?.instanceId;
  }

  /**
   * Whether instance `name` runs and is Online (current = target = Online, same incarnation) in
   * the leader's tables, which are authoritative (an instance cut off from the cluster may still
   * believe it is Online), and its process finished postjoin.
   */
  isOnline(name: string): boolean {
    const node = this.node(name);
    const instanceId = node?.identity?.instanceId;
    const leaderName = this.leaderName();
    // Until its postjoin request is committed, a restarted instance's record is its previous life's.
    if (instanceId === undefined || leaderName === undefined || node!.state !== 'online') return false;
    const record = this.nodes.get(leaderName)!.tables.instance(instanceId);
    return (
      record !== undefined &&
      record.raftId === node!.identity!.raftId &&
      record.currentGrade.variant === 'Online' &&
      record.targetGrade.variant === 'Online' &&
      record.currentGrade.incarnation === record.targetGrade.incarnation
    );
  }

  leaderName(): string | undefined {
    for (const [name, node] of this.nodes) {
      if (this.node(name) !== undefined && node.isLeader()) return name;
    }
    return undefined;
  }

  async waitOnline(names: readonly string[], timeoutMs = 30_000): Promise<boolean> {
    return this.world.waitFor(() => names.every((n) => this.isOnline(n)), timeoutMs, 50);
  }
}

export function errorText(result: Result<MpValue[]>): string {
  return result.ok ? `ok ${JSON.stringify(result.value)}` : describe(result.error);
}

function describe(error: ClientError): string {
  return error.kind === 'server' ? error.message : error.kind === 'timeout' ? 'timeout' : error.message;
}
