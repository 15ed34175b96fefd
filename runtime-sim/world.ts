import { assert } from '../core/lib/assert.ts';
import type { Env, Program, Lifecycle, StopSignal } from '../core/env/env.ts';
import type { LogLevel } from '../core/env/log.ts';
import { HostClock } from './clock.ts';
import { NO_DISK_FAULTS, SimDisk, type CrashKind, type DiskFaults } from './disk.ts';
import { DeterminismGuard } from './guard.ts';
import { LogSink, SimLog } from './log.ts';
import { DEFAULT_NET_FAULTS, SimNetwork, type NetFaults } from './network.ts';
import { SimRandom } from './random.ts';
import { Scheduler, type EventOwner, type RunEnd, type SimEvent } from './scheduler.ts';
import { Trace, type TraceSink } from './trace.ts';

/**
 * The simulated world: hosts with disks and clocks on one virtual network, processes running the
 * node's code on them, and the faults a scenario injects. Everything is derived from one seed;
 * each subsystem draws from its own fork so that removing one fault does not reshuffle others.
 */

export interface WorldOptions {
  readonly seed: number;
  /** Write every trace event as a JSON line to this file descriptor. */
  readonly traceFd?: number;
  /** Hand every trace event to this function too (in memory, e.g. for `sim run --report`). */
  readonly traceSink?: TraceSink;
  readonly logLevel?: LogLevel;
  readonly net?: NetFaults;
  readonly disk?: DiskFaults;
  /** Enables BUGGIFY sites (each site on with p 0.25 per run, firing with p 0.25). */
  readonly buggify?: boolean;
  /** Virtual epoch for wall clocks. */
  readonly epochMs?: number;
}

export type ExitStatus = { readonly kind: 'exited'; readonly code: number } | { readonly kind: 'crashed'; readonly how: CrashKind };

export class SimProcess implements EventOwner {
  readonly host: SimHost;
  readonly incarnation: number;
  private isAlive = true;
  status: ExitStatus | null = null;
  stopHandler: ((signal: StopSignal) => void) | null = null;
  private readonly exitWaiters: Array<(status: ExitStatus) => void> = [];
  /** SIGSTOP: nothing of this process runs until SIGCONT; its events wait in `held`. */
  paused = false;
  private held: SimEvent[] = [];

  hold(event: SimEvent): void {
    this.held.push(event);
  }

  /** SIGCONT: the held events run now, in their original order. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    const held = this.held;
    this.held = [];
    this.host.world.scheduler.release(held);
  }

  constructor(host: SimHost, incarnation: number) {
    this.host = host;
    this.incarnation = incarnation;
  }

  get alive(): boolean {
    return this.isAlive;
  }

  /** An event of this process threw: like an uncaught exception, it kills the process. */
  fail(error: unknown): void {
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    this.host.world.violation(`uncaught exception in ${this.host.name} (incarnation ${this.incarnation}): ${text}`);
    this.end({ kind: 'exited', code: 70 }, false);
  }

  /** Marks the process dead and tells everyone waiting. Idempotent. */
  end(status: ExitStatus, powerLoss: boolean): void {
    if (!this.isAlive) return;
    this.isAlive = false;
    this.status = status;
    this.host.processEnded(this, status, powerLoss);
    for (const waiter of this.exitWaiters.splice(0)) waiter(status);
  }

  /** Resolves when the process ends (immediately if it has). */
  exited(): Promise<ExitStatus> {
    if (this.status !== null) return Promise.resolve(this.status);
    return new Promise((resolve) => this.exitWaiters.push(resolve));
  }
}

export class SimHost {
  readonly world: World;
  readonly id: number;
  readonly name: string;
  readonly disk: SimDisk;
  readonly clock: HostClock;
  process: SimProcess | null = null;
  private incarnations = 0;
  /** Exit statuses of past processes, oldest first. */
  readonly history: ExitStatus[] = [];

  constructor(world: World, id: number, name: string) {
    this.world = world;
    this.id = id;
    this.name = name;
    this.disk = new SimDisk(id, world.scheduler, world.random.fork(`disk/${name}`), world.trace, world.diskFaults);
    this.clock = new HostClock(id, world.scheduler, world.trace, world.epochMs);
  }

  get running(): boolean {
    return this.process !== null && this.process.alive;
  }

  /** Starts `program` as a new process incarnation; the previous one must have ended. */
  start(program: Program): SimProcess {
    assert(!this.running, `${this.name} is already running`);
    const process = new SimProcess(this, ++this.incarnations);
    this.process = process;
    this.world.net.powerOn(this.id);
    this.world.trace.eventText('process', this.world.scheduler.nowMs, this.id, `start ${process.incarnation}`);
    const env = this.envFor(process);
    this.world.scheduler.schedule(this.world.scheduler.nowMs, () => {
      const started = program(env);
      if (started instanceof Promise) started.catch((error: unknown) => process.fail(error));
    }, process);
    return process;
  }

  /** kill -9 (`process`) or power loss (`power`): nothing of the process runs again. */
  crash(how: CrashKind = 'power'): void {
    const process = this.process;
    if (process === null || !process.alive) return;
    this.world.trace.eventText('process', this.world.scheduler.nowMs, this.id, `crash ${how}`);
    process.end({ kind: 'crashed', how }, how === 'power');
  }

  /** SIGSTOP: the process freezes (its timers, deliveries and continuations wait). */
  pause(): void {
    const process = this.process;
    if (process === null || !process.alive || process.paused) return;
    this.world.trace.eventText('process', this.world.scheduler.nowMs, this.id, 'pause');
    process.paused = true;
  }

  /** SIGCONT. */
  resume(): void {
    const process = this.process;
    if (process === null || !process.alive) return;
    this.world.trace.eventText('process', this.world.scheduler.nowMs, this.id, 'resume');
    process.resume();
  }

  /** Delivers SIGTERM/SIGINT: the process runs its stop handler, or exits 0 at once without one. */
  stop(signal: StopSignal = 'SIGTERM'): void {
    const process = this.process;
    if (process === null || !process.alive) return;
    this.world.trace.eventText('process', this.world.scheduler.nowMs, this.id, `signal ${signal}`);
    this.world.scheduler.schedule(this.world.scheduler.nowMs, () => {
      if (process.stopHandler === null) process.end({ kind: 'exited', code: 0 }, false);
      else process.stopHandler(signal);
    }, process);
  }

  processEnded(process: SimProcess, status: ExitStatus, powerLoss: boolean): void {
    assert(process === this.process, 'a stale process ended');
    this.history.push(status);
    this.world.net.processDied(this.id, powerLoss);
    if (status.kind === 'crashed') this.disk.crash(status.how);
    else this.disk.crash('process'); // an exit loses what the process kept in memory, nothing more
    const text = status.kind === 'exited' ? `exit ${status.code}` : `crashed ${status.how}`;
    this.world.trace.eventText('process', this.world.scheduler.nowMs, this.id, text);
  }

  private envFor(process: SimProcess): Env {
    const world = this.world;
    const control: Lifecycle = {
      onStop: (handler) => {
        process.stopHandler = handler;
      },
      exit: (code) => process.end({ kind: 'exited', code }, false),
    };
    const log = new SimLog(this.id, this.name, world.logLevel, world.trace, world.logs, () => world.scheduler.nowMs, { host: this.name });
    return {
      clock: this.clock.forProcess(process),
      random: world.random.fork(`process/${this.name}/${process.incarnation}`),
      net: world.net.forProcess(this.id, process),
      disk: this.disk.forProcess(process),
      log,
      lifecycle: control,
      buggify: (site) => world.buggify(site),
    };
  }
}

export class World {
  readonly seed: number;
  readonly scheduler = new Scheduler();
  readonly trace: Trace;
  readonly random: SimRandom;
  readonly net: SimNetwork;
  readonly logs = new LogSink();
  readonly logLevel: LogLevel;
  readonly diskFaults: DiskFaults;
  readonly epochMs: number;
  readonly hosts: SimHost[] = [];
  readonly violations: string[] = [];
  private readonly hostsByName = new Map<string, SimHost>();
  private readonly buggifyEnabled: boolean;
  private readonly buggifyRandom: SimRandom;
  private readonly buggifySites = new Map<string, boolean>();
  private readonly guard = new DeterminismGuard();

  constructor(options: WorldOptions) {
    this.seed = options.seed;
    this.trace = new Trace(options.traceFd, options.traceSink);
    this.random = SimRandom.fromSeed(options.seed);
    this.net = new SimNetwork(this.scheduler, this.random.fork('network'), this.trace, options.net ?? DEFAULT_NET_FAULTS);
    this.logLevel = options.logLevel ?? 'info';
    this.diskFaults = options.disk ?? NO_DISK_FAULTS;
    this.epochMs = options.epochMs ?? 1_700_000_000_000;
    this.buggifyEnabled = options.buggify ?? false;
    this.buggifyRandom = this.random.fork('buggify');
    this.scheduler.onYield = {
      before: () => {
        this.guard.uninstall();
        this.trace.flush();
      },
      after: () => this.guard.install(),
    };
  }

  get nowMs(): number {
    return this.scheduler.nowMs;
  }

  addHost(name: string): SimHost {
    assert(!this.hostsByName.has(name), `host ${name} exists`);
    const host = new SimHost(this, this.hosts.length, name);
    this.hosts.push(host);
    this.hostsByName.set(name, host);
    this.net.addHost(host.id, name);
    return host;
  }

  host(name: string): SimHost {
    const host = this.hostsByName.get(name);
    assert(host !== undefined, `unknown host ${name}`);
    return host;
  }

  violation(message: string): void {
    this.violations.push(message);
    this.trace.eventText('scenario', this.scheduler.nowMs, 0, `violation ${message.split('\n')[0]}`);
  }

  buggify(site: string): boolean {
    if (!this.buggifyEnabled) return false;
    let on = this.buggifySites.get(site);
    if (on === undefined) {
      on = this.random.fork(`buggify-site/${site}`).chance(0.25);
      this.buggifySites.set(site, on);
    }
    return on && this.buggifyRandom.chance(0.25);
  }

  /** Sleeps in virtual time (for scenario drivers). */
  sleep(delayMs: number): Promise<void> {
    return new Promise((resolve) => this.scheduler.after(delayMs, resolve, null));
  }

  /**
   * Runs the simulation until `driver` settles (or the limits hit). The driver is scenario code:
   * it runs in virtual time too, so its awaits interleave deterministically with the hosts.
   */
  async run(driver: () => Promise<void>, limits: { eventsMax: number; virtualMsMax: number }): Promise<RunEnd> {
    let settled = false;
    let driverError: unknown = null;
    this.guard.install();
    try {
      this.scheduler.schedule(this.scheduler.nowMs, () => {
        driver().then(
          () => (settled = true),
          (error: unknown) => {
            settled = true;
            driverError = error;
          },
        );
      }, null);
      const end = await this.scheduler.run({ until: () => settled, ...limits });
      if (driverError !== null) throw driverError;
      return end;
    } finally {
      this.guard.uninstall();
      this.trace.flush();
    }
  }

  /** Polls `predicate` every `intervalMs` of virtual time until it holds or `timeoutMs` passes. */
  async waitFor(predicate: () => boolean, timeoutMs: number, intervalMs = 100): Promise<boolean> {
    const deadlineMs = this.nowMs + timeoutMs;
    while (!predicate()) {
      if (this.nowMs >= deadlineMs) return false;
      await this.sleep(intervalMs);
    }
    return true;
  }
}
