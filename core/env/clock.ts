/** Cancels a pending timer. Calling it after the timer fired, or twice, does nothing. */
export type Cancel = () => void;

/**
 * Time as the node sees it. In the simulator this is virtual time with a per-node offset and
 * drift; in the real world, runtime-real/clock.ts maps it onto the host's monotonic clock and timers.
 */
export interface Clock {
  /** Monotonic milliseconds since an arbitrary origin. Never goes backwards; use it for timeouts. */
  nowMs(): number;
  /** Wall-clock milliseconds since the Unix epoch. May jump (NTP steps, skew); use it only for display and timestamps. */
  wallMs(): number;
  /** Runs `fn` once, `delayMs` of this node's monotonic time from now. */
  after(delayMs: number, fn: () => void): Cancel;
  /** Resolves after `delayMs` of this node's monotonic time. */
  sleep(delayMs: number): Promise<void>;
}
