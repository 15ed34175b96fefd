import { assert } from '../core/lib/assert.ts';
import type { Cancel, Clock } from '../core/env/clock.ts';
import type { EventOwner, Scheduler } from './scheduler.ts';
import type { Trace } from './trace.ts';

/**
 * A host's clock. Local time = virtual time * (1 + drift) + offset, so a node with drift 1e-4
 * gains 0.1 ms a second and its timers fire correspondingly early in virtual time. Wall time adds
 * an epoch and can be stepped (NTP jumps) without touching the monotonic clock.
 */
export class HostClock {
  /** Relative rate error of this host's oscillator, e.g. 1e-4 = 100 ppm fast. */
  driftRatio = 0;
  /** Monotonic offset (ms) at virtual time 0. */
  offsetMs = 0;
  /** Wall-clock correction applied on top (NTP steps, skew). */
  wallStepMs = 0;
  private readonly scheduler: Scheduler;
  private readonly trace: Trace;
  private readonly hostId: number;
  private readonly epochMs: number;

  constructor(hostId: number, scheduler: Scheduler, trace: Trace, epochMs: number) {
    this.hostId = hostId;
    this.scheduler = scheduler;
    this.trace = trace;
    this.epochMs = epochMs;
  }

  localNowMs(): number {
    return this.scheduler.nowMs * (1 + this.driftRatio) + this.offsetMs;
  }

  /** The Clock interface for one process incarnation: its timers die with it. */
  forProcess(owner: EventOwner): Clock {
    const scheduler = this.scheduler;
    const after = (delayMs: number, fn: () => void): Cancel => {
      assert(Number.isFinite(delayMs), `timer delay must be finite, got ${delayMs}`);
      const virtualDelayMs = Math.max(0, delayMs) / (1 + this.driftRatio);
      const event = scheduler.after(virtualDelayMs, () => {
        this.trace.event('timer', scheduler.nowMs, this.hostId, 0);
        fn();
      }, owner);
      return () => {
        event.cancelled = true;
      };
    };
    return {
      nowMs: () => this.localNowMs(),
      wallMs: () => this.epochMs + this.localNowMs() + this.wallStepMs,
      after,
      sleep: (delayMs) => new Promise<void>((resolve) => after(delayMs, resolve)),
    };
  }
}
