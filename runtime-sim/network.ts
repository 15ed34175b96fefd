import { assert } from '../core/lib/assert.ts';
import {
  CONNECT_TIMEOUT_MS_DEFAULT,
  NetError,
  type Address,
  type CloseReason,
  type Connection,
  type ConnectOptions,
  type Listener,
  type ListenOptions,
  type Network,
} from '../core/env/network.ts';
import type { SimRandom } from './random.ts';
import type { EventOwner, Scheduler } from './scheduler.ts';
import type { Trace } from './trace.ts';

/**
 * The virtual network: connections with TCP's guarantees and TCP's failure modes.
 *
 * - A frame takes `latencyMsMin + Exp(latencyMsMean)` one way, but never overtakes an earlier
 *   frame of the same connection and direction (FIFO); frames of different connections reorder.
 * - A partition is checked when a frame is sent. `blackhole`: the frame vanishes and the
 *   connection is dead from then on (TCP cannot deliver later bytes without the lost ones); both
 *   ends hear a reset only after `brokenDetectMs` (retransmission gives up / keepalive). `reset`:
 *   both ends get a reset after one latency.
 * - `frameLossRate` is TCP loss that the connection does not survive: it breaks like a blackhole.
 * - Clogging delays every frame from, to or between hosts until a virtual time.
 * - A process crash closes its connections (peers see `remote` close after a latency); a power
 *   loss leaves them dangling (peers see a reset after `brokenDetectMs`).
 * There is no duplication: TCP never delivers a segment twice to the application.
 */

export interface NetFaults {
  readonly latencyMsMin: number;
  readonly latencyMsMean: number;
  /** Per frame: the connection silently breaks (blackhole). */
  readonly frameLossRate: number;
  /** Per frame: the connection is reset. */
  readonly frameResetRate: number;
  /** How long a broken connection takes to be noticed, min..max uniform. */
  readonly brokenDetectMsMin: number;
  readonly brokenDetectMsMax: number;
}

export const DEFAULT_NET_FAULTS: NetFaults = {
  latencyMsMin: 0.05,
  latencyMsMean: 0.1,
  frameLossRate: 0,
  frameResetRate: 0,
  brokenDetectMsMin: 1_000,
  brokenDetectMsMax: 5_000,
};

export type PartitionMode = 'blackhole' | 'reset';

interface HostState {
  readonly id: number;
  readonly name: string;
  /** Power is on (a process may or may not run). */
  up: boolean;
  isolated: boolean;
  clogUntilMs: number;
  readonly listeners: Map<number, SimListener>;
  readonly endpoints: Set<Endpoint>;
}

interface SimListener {
  readonly owner: EventOwner;
  readonly address: Address;
  readonly onConnection: (conn: Connection) => void;
  readonly greeting: (() => Uint8Array) | undefined;
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '0.0.0.0']);

export class SimNetwork {
  private readonly scheduler: Scheduler;
  private readonly random: SimRandom;
  private readonly trace: Trace;
  private readonly hostsByName = new Map<string, HostState>();
  private readonly hostsById: HostState[] = [];
  faults: NetFaults;
  /** Host id -> partition group; hosts in different groups cannot talk. */
  private groupOf: Map<number, number> | null = null;
  private partitionMode: PartitionMode = 'blackhole';
  /** One-way cuts `from * 2^20 + to`. */
  private readonly cuts = new Set<number>();
  private readonly pairClogUntilMs = new Map<number, number>();
  private nextConnectionId = 1;
  framesDelivered = 0;

  constructor(scheduler: Scheduler, random: SimRandom, trace: Trace, faults: NetFaults = DEFAULT_NET_FAULTS) {
    this.scheduler = scheduler;
    this.random = random;
    this.trace = trace;
    this.faults = faults;
  }

  addHost(id: number, name: string): void {
    assert(!this.hostsByName.has(name), `host ${name} exists`);
    assert(this.hostsById[id] === undefined, `host id ${id} taken`);
    const host: HostState = { id, name, up: true, isolated: false, clogUntilMs: 0, listeners: new Map(), endpoints: new Set() };
    this.hostsByName.set(name, host);
    this.hostsById[id] = host;
  }

  // --- faults -------------------------------------------------------------------------------

  /** Splits hosts into groups that cannot reach each other. Hosts not listed reach everyone. */
  partition(groups: ReadonlyArray<readonly number[]>, mode: PartitionMode = 'blackhole'): void {
    this.groupOf = new Map();
    groups.forEach((group, g) => group.forEach((hostId) => this.groupOf!.set(hostId, g)));
    this.partitionMode = mode;
    this.trace.eventText('fault', this.scheduler.nowMs, 0, `partition ${mode} ${groups.map((g) => g.join(',')).join(' | ')}`);
  }

  /** Frames from `fromId` to `toId` vanish (the other direction still works). */
  cutOneWay(fromId: number, toId: number): void {
    this.cuts.add(fromId * 1048576 + toId);
    this.trace.eventText('fault', this.scheduler.nowMs, fromId, `cut ${fromId}->${toId}`);
  }

  isolate(hostId: number): void {
    this.host(hostId).isolated = true;
    this.trace.eventText('fault', this.scheduler.nowMs, hostId, 'isolate');
  }

  /** Delays all traffic from and to the host until `untilMs` (virtual). */
  clogHost(hostId: number, untilMs: number): void {
    const host = this.host(hostId);
    host.clogUntilMs = Math.max(host.clogUntilMs, untilMs);
    this.trace.eventText('fault', this.scheduler.nowMs, hostId, `clog until ${untilMs}`);
  }

  clogPair(fromId: number, toId: number, untilMs: number): void {
    const key = fromId * 1048576 + toId;
    this.pairClogUntilMs.set(key, Math.max(this.pairClogUntilMs.get(key) ?? 0, untilMs));
    this.trace.eventText('fault', this.scheduler.nowMs, fromId, `clog ${fromId}->${toId} until ${untilMs}`);
  }

  /** Removes partitions, cuts, isolation and clogs. */
  heal(): void {
    this.groupOf = null;
    this.cuts.clear();
    this.pairClogUntilMs.clear();
    for (const host of this.hostsById) {
      if (host === undefined) continue;
      host.isolated = false;
      host.clogUntilMs = 0;
    }
    this.trace.eventText('fault', this.scheduler.nowMs, 0, 'heal');
  }

  canReach(fromId: number, toId: number): boolean {
    if (fromId === toId) return true;
    const from = this.hostsById[fromId]!;
    const to = this.hostsById[toId]!;
    if (!from.up || !to.up || from.isolated || to.isolated) return false;
    if (this.cuts.has(fromId * 1048576 + toId)) return false;
    if (this.groupOf !== null) {
      const a = this.groupOf.get(fromId);
      const b = this.groupOf.get(toId);
      if (a !== undefined && b !== undefined && a !== b) return false;
    }
    return true;
  }

  // --- process lifecycle ----------------------------------------------------------------------

  /** Called when a host's process dies: its listeners vanish, its connections close or dangle. */
  processDied(hostId: number, powerLoss: boolean): void {
    const host = this.host(hostId);
    host.listeners.clear();
    for (const endpoint of [...host.endpoints]) {
      endpoint.markDead(); // first: none of the dead process's handlers may run
      if (powerLoss) endpoint.connection.breakSilently(this);
      else endpoint.connection.closeFrom(this, endpoint, { kind: 'remote' });
    }
    host.endpoints.clear();
    if (powerLoss) host.up = false;
  }

  powerOn(hostId: number): void {
    this.host(hostId).up = true;
  }

  // --- the Network interface -----------------------------------------------------------------

  forProcess(hostId: number, owner: EventOwner): Network {
    return {
      listen: async (address, onConnection, options) => this.listen(hostId, owner, address, onConnection, options),
      connect: (address, options) => this.connect(hostId, owner, address, options),
    };
  }

  private listen(
    hostId: number,
    owner: EventOwner,
    address: Address,
    onConnection: (conn: Connection) => void,
    options: ListenOptions | undefined,
  ): Listener {
    const host = this.host(hostId);
    const { hostName, port } = parseAddress(address);
    if (!LOCAL_HOSTS.has(hostName) && hostName !== host.name) {
      throw new NetError('EADDRNOTAVAIL', `${address} is not an address of host ${host.name}`);
    }
    if (host.listeners.has(port)) throw new NetError('EADDRINUSE', `${address} is already in use`);
    const listener: SimListener = { owner, address, onConnection, greeting: options?.greeting };
    host.listeners.set(port, listener);
    return {
      address,
      close: () => {
        if (host.listeners.get(port) === listener) host.listeners.delete(port);
      },
    };
  }

  private resolve(fromId: number, address: Address): { target: HostState; port: number } | null {
    const { hostName, port } = parseAddress(address);
    const target = LOCAL_HOSTS.has(hostName) ? this.hostsById[fromId] : this.hostsByName.get(hostName);
    return target === undefined ? null : { target, port };
  }

  private connect(fromId: number, owner: EventOwner, address: Address, options: ConnectOptions | undefined): Promise<Connection> {
    const timeoutMs = options?.timeoutMs ?? CONNECT_TIMEOUT_MS_DEFAULT;
    const greetingBytes = options?.greetingBytes ?? 0;
    return new Promise<Connection>((resolve, reject) => {
      let settled = false;
      const fail = (error: NetError): void => {
        if (settled) return;
        settled = true;
        reject(error);
      };
      const timer = this.scheduler.after(timeoutMs, () => fail(new NetError('ETIMEDOUT', `connect to ${address} timed out`)), owner);
      const resolved = this.resolve(fromId, address);
      if (resolved === null) {
        this.scheduler.after(this.latencyMs(), () => fail(new NetError('EHOSTUNREACH', `unknown host in ${address}`)), owner);
        return;
      }
      const { target, port } = resolved;
      // The SYN travels only if both directions work (the handshake needs them).
      if (!this.canReach(fromId, target.id) || !this.canReach(target.id, fromId)) return; // times out
      this.scheduler.after(this.latencyMs(), () => {
        const listener = target.listeners.get(port);
        if (listener === undefined || !listener.owner.alive) {
          this.scheduler.after(this.latencyMs(), () => fail(new NetError('ECONNREFUSED', `nothing listens on ${address}`)), owner);
          return;
        }
        const connection = this.establish(fromId, owner, address, target, listener);
        const greeting = listener.greeting?.() ?? new Uint8Array(0);
        assert(greetingBytes === 0 || greeting.length === greetingBytes, `greeting of ${greeting.length} bytes, expected ${greetingBytes}`);
        connection.client.greetingBytes = greeting;
        // SYN-ACK and greeting arrive together one latency later.
        connection.schedule(this, connection.server, () => {
          if (connection.client.isClosed) return;
          if (settled) return connection.client.close(); // the caller gave up meanwhile
          settled = true;
          timer.cancelled = true;
          resolve(connection.client);
        });
        // The accept callback is the server process's code: run it as that process's event.
        this.scheduler.schedule(this.scheduler.nowMs, () => listener.onConnection(connection.server), listener.owner);
      }, owner);
    });
  }

  private establish(fromId: number, clientOwner: EventOwner, address: Address, target: HostState, listener: SimListener): SimConnection {
    const id = this.nextConnectionId++;
    const from = this.host(fromId);
    const connection = new SimConnection(this, id, from, clientOwner, address, target, listener.owner);
    from.endpoints.add(connection.client);
    target.endpoints.add(connection.server);
    this.trace.event('connect', this.scheduler.nowMs, id, target.id * 65536 + fromId, () => ({ conn: id, from: from.name, to: address }));
    return connection;
  }

  // --- helpers used by connections -----------------------------------------------------------

  latencyMs(): number {
    const f = this.faults;
    return f.latencyMsMin + (f.latencyMsMean > 0 ? this.random.exponential(f.latencyMsMean) : 0);
  }

  clogUntilMs(fromId: number, toId: number): number {
    const pair = this.pairClogUntilMs.get(fromId * 1048576 + toId) ?? 0;
    return Math.max(pair, this.hostsById[fromId]!.clogUntilMs, this.hostsById[toId]!.clogUntilMs);
  }

  brokenDetectMs(): number {
    return this.random.range(this.faults.brokenDetectMsMin, this.faults.brokenDetectMsMax);
  }

  get mode(): PartitionMode {
    return this.partitionMode;
  }

  chance(p: number): boolean {
    return this.random.chance(p);
  }

  get now(): number {
    return this.scheduler.nowMs;
  }

  get sched(): Scheduler {
    return this.scheduler;
  }

  get tracer(): Trace {
    return this.trace;
  }

  forget(endpoint: Endpoint): void {
    endpoint.host.endpoints.delete(endpoint);
  }

  private host(id: number): HostState {
    return must(this.hostsById[id], `unknown host id ${id}`);
  }
}

function must<T>(value: T | undefined, message: string): T {
  assert(value !== undefined, message);
  return value;
}

export function parseAddress(address: Address): { hostName: string; port: number } {
  const colon = address.lastIndexOf(':');
  if (colon <= 0) throw new NetError('EHOSTUNREACH', `bad address ${address}`);
  const port = Number(address.slice(colon + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new NetError('EHOSTUNREACH', `bad port in ${address}`);
  return { hostName: address.slice(0, colon), port };
}

/** One TCP connection: two endpoints and the state they share. */
class SimConnection {
  readonly id: number;
  readonly client: Endpoint;
  readonly server: Endpoint;
  /** Blackholed: frames vanish; both ends will be reset later. */
  broken = false;

  constructor(
    net: SimNetwork,
    id: number,
    from: HostState,
    clientOwner: EventOwner,
    address: Address,
    target: HostState,
    serverOwner: EventOwner,
  ) {
    this.id = id;
    this.client = new Endpoint(net, this, from, clientOwner, address);
    // Ephemeral client ports are derived from the connection id: deterministic and unique enough.
    this.server = new Endpoint(net, this, target, serverOwner, `${from.name}:${32768 + (id % 28000)}`);
  }

  peerOf(endpoint: Endpoint): Endpoint {
    return endpoint === this.client ? this.server : this.client;
  }

  /** Runs `fn` on the peer of `from` after a latency, after every earlier frame in that direction. */
  schedule(net: SimNetwork, from: Endpoint, fn: () => void): void {
    const to = this.peerOf(from);
    const latency = net.latencyMs();
    const clog = net.clogUntilMs(from.host.id, to.host.id);
    const atMs = Math.max(net.now + latency, clog + latency, to.lastArrivalMs);
    to.lastArrivalMs = atMs;
    net.sched.schedule(atMs, fn, to.owner);
  }

  send(net: SimNetwork, from: Endpoint, frame: Uint8Array): void {
    if (this.broken) return;
    const to = this.peerOf(from);
    if (!net.canReach(from.host.id, to.host.id)) {
      if (net.mode === 'reset' && net.canReach(to.host.id, from.host.id)) return this.reset(net, 'partition reset');
      return this.breakSilently(net);
    }
    if (net.chance(net.faults.frameLossRate)) return this.breakSilently(net);
    if (net.chance(net.faults.frameResetRate)) return this.reset(net, 'connection reset by peer');
    this.schedule(net, from, () => {
      if (to.isClosed) return;
      net.framesDelivered++;
      net.tracer.event('deliver', net.now, this.id, frame.length, () => ({ conn: this.id, to: to.host.name, bytes: frame.length }));
      to.receive(frame);
    });
  }

  /** The connection dies without a word; each end notices after its own detection delay. */
  breakSilently(net: SimNetwork): void {
    if (this.broken) return;
    this.broken = true;
    net.tracer.event('close', net.now, this.id, 1, () => ({ conn: this.id, why: 'broken' }));
    for (const end of [this.client, this.server]) {
      if (end.isClosed || !end.owner.alive) continue;
      net.sched.after(net.brokenDetectMs(), () => end.closeNow(net, { kind: 'reset', message: 'connection timed out' }), end.owner);
    }
  }

  reset(net: SimNetwork, message: string): void {
    if (this.broken) return;
    this.broken = true;
    net.tracer.event('close', net.now, this.id, 2, () => ({ conn: this.id, why: 'reset' }));
    for (const end of [this.client, this.server]) {
      if (end.isClosed || !end.owner.alive) continue;
      net.sched.after(net.latencyMs(), () => end.closeNow(net, { kind: 'reset', message }), end.owner);
    }
  }

  /** `from` closed (or its process exited): the peer hears it after the frames already sent. */
  closeFrom(net: SimNetwork, from: Endpoint, reasonForPeer: CloseReason): void {
    const to = this.peerOf(from);
    from.closeNow(net, { kind: 'local' }, false);
    if (this.broken || to.isClosed) return;
    if (!net.canReach(from.host.id, to.host.id)) return this.breakSilently(net);
    this.schedule(net, from, () => to.closeNow(net, reasonForPeer));
  }
}

class Endpoint implements Connection {
  readonly connection: SimConnection;
  readonly host: HostState;
  readonly owner: EventOwner;
  readonly remoteAddress: Address;
  greetingBytes: Uint8Array = new Uint8Array(0);
  lastArrivalMs = 0;
  private closed = false;
  private dead = false;
  private frameHandler: ((frame: Uint8Array) => void) | null = null;
  private closeHandler: ((reason: CloseReason) => void) | null = null;
  private backlog: Uint8Array[] = [];
  private pendingClose: CloseReason | null = null;
  private readonly net: SimNetwork;

  constructor(net: SimNetwork, connection: SimConnection, host: HostState, owner: EventOwner, remoteAddress: Address) {
    this.net = net;
    this.connection = connection;
    this.host = host;
    this.owner = owner;
    this.remoteAddress = remoteAddress;
  }

  get greeting(): Uint8Array {
    return this.greetingBytes;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  send(frame: Uint8Array): boolean {
    if (this.closed || this.dead) return false;
    this.connection.send(this.net, this, frame);
    return true;
  }

  onFrame(handler: (frame: Uint8Array) => void): void {
    this.frameHandler = handler;
    const backlog = this.backlog;
    this.backlog = [];
    for (const frame of backlog) handler(frame);
  }

  onClose(handler: (reason: CloseReason) => void): void {
    this.closeHandler = handler;
    if (this.pendingClose !== null) {
      const reason = this.pendingClose;
      this.pendingClose = null;
      handler(reason);
    }
  }

  close(): void {
    if (this.closed || this.dead) return;
    this.connection.closeFrom(this.net, this, { kind: 'remote' });
  }

  receive(frame: Uint8Array): void {
    if (this.frameHandler !== null) this.frameHandler(frame);
    else this.backlog.push(frame);
  }

  closeNow(net: SimNetwork, reason: CloseReason, notifyNet = true): void {
    if (this.closed) return;
    this.closed = true;
    net.forget(this);
    if (notifyNet) net.tracer.event('close', net.now, this.connection.id, 3, () => ({ conn: this.connection.id, host: this.host.name, reason: reason.kind }));
    if (this.dead) return;
    if (this.closeHandler !== null) this.closeHandler(reason);
    else this.pendingClose = reason;
  }

  /** Its process is gone: no handler of it may ever run again. */
  markDead(): void {
    this.dead = true;
    this.closed = true;
  }
}

export { Endpoint as SimEndpoint };
