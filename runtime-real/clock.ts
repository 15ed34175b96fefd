import type { Cancel, Clock } from '../core/env/clock.ts';

/** Real time: `performance.now()` for the monotonic clock, Node timers, `Date.now()` for wall time. */
export class RealClock implements Clock {
  nowMs(): number {
    return performance.now();
  }

  wallMs(): number {
    return Date.now();
  }

  after(delayMs: number, fn: () => void): Cancel {
    const timer = setTimeout(fn, Math.max(0, delayMs));
    return () => clearTimeout(timer);
  }

  sleep(delayMs: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, Math.max(0, delayMs)));
  }
}
