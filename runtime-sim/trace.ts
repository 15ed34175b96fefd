import { writeSync } from 'node:fs';

/**
 * The run's fingerprint. Every delivered message, fired timer, disk operation, fault, process
 * transition and log line is mixed into a rolling 64-bit hash (two 32-bit lanes). Two runs of the
 * same seed must end with the same hash; when they do not, the per-event lines written by
 * `--trace FILE` (each carrying the hash so far) show the first event where they diverged.
 */

export const TraceKind = {
  timer: 1,
  deliver: 2,
  connect: 3,
  close: 4,
  disk: 5,
  fault: 6,
  log: 7,
  process: 8,
  scenario: 9,
} as const;
export type TraceKind = keyof typeof TraceKind;

export type TraceDetail = Readonly<Record<string, string | number | boolean | null>>;

/**
 * One recorded event, as `--trace` writes it (one JSON line) and a sink receives it: its number
 * `i`, virtual time `t` in ms, `kind`, the details (`node`, `text`, `conn`, `to`, ...) and the
 * hash so far `h`.
 */
export interface TraceLine {
  readonly i: number;
  readonly t: number;
  readonly kind: TraceKind;
  readonly h: string;
  readonly [detail: string]: string | number | boolean | null;
}

/** Receives every event in memory (the HTML report collects what it shows this way). */
export type TraceSink = (line: TraceLine) => void;

export class Trace {
  events = 0;
  private h1 = 0x6a09e667 | 0;
  private h2 = 0xbb67ae85 | 0;
  private readonly fd: number | undefined;
  private readonly sink: TraceSink | undefined;
  private buffered: string[] = [];

  /**
   * With `fd`, every event is also written there as one JSON line; with `sink`, handed to it.
   * Neither changes the hash: details are recorded, never mixed in.
   */
  constructor(fd?: number, sink?: TraceSink) {
    this.fd = fd;
    this.sink = sink;
  }

  /** True when events are written out: callers build their (costly) details only then. */
  get recording(): boolean {
    return this.fd !== undefined || this.sink !== undefined;
  }

  mixInt(value: number): void {
    // Integers up to 2^53 and fractional times: hash the high and low parts separately.
    const hi = Math.floor(value / 4294967296);
    const lo = value - hi * 4294967296;
    this.mix32(lo >>> 0);
    this.mix32(hi | 0);
    const frac = value - Math.floor(value);
    if (frac !== 0) this.mix32(Math.round(frac * 1e6));
  }

  private mix32(k: number): void {
    let a = Math.imul(k, 0xcc9e2d51);
    a = (a << 15) | (a >>> 17);
    a = Math.imul(a, 0x1b873593);
    this.h1 ^= a;
    this.h1 = (this.h1 << 13) | (this.h1 >>> 19);
    this.h1 = (Math.imul(this.h1, 5) + 0xe6546b64) | 0;
    this.h2 = Math.imul(this.h2 ^ k ^ this.h1, 0x85ebca6b);
    this.h2 ^= this.h2 >>> 13;
  }

  mixString(text: string): void {
    this.mix32(text.length);
    for (let i = 0; i < text.length; i++) this.mix32(text.charCodeAt(i));
  }

  mixBytes(bytes: Uint8Array): void {
    this.mix32(bytes.length);
    let i = 0;
    for (; i + 4 <= bytes.length; i += 4) {
      this.mix32(bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
    }
    for (; i < bytes.length; i++) this.mix32(bytes[i]!);
  }

  /**
   * Records one event: its kind, virtual time and up to two integers that identify it (node,
   * connection, sizes). `detail` is only evaluated when recording.
   */
  event(kind: TraceKind, timeMs: number, a: number, b: number, detail?: () => TraceDetail): void {
    this.events++;
    this.mix32(TraceKind[kind]);
    this.mixInt(timeMs);
    this.mix32(a | 0);
    this.mix32(b | 0);
    if (this.recording) this.write(kind, timeMs, detail?.());
  }

  /** Records an event whose identity is text (log lines, fault descriptions). */
  eventText(kind: TraceKind, timeMs: number, a: number, text: string): void {
    this.events++;
    this.mix32(TraceKind[kind]);
    this.mixInt(timeMs);
    this.mix32(a | 0);
    this.mixString(text);
    if (this.recording) this.write(kind, timeMs, { node: a, text });
  }

  private write(kind: TraceKind, timeMs: number, detail: TraceDetail | undefined): void {
    const line: TraceLine = { i: this.events, t: Math.round(timeMs * 1000) / 1000, kind, ...detail, h: this.hashHex() };
    this.sink?.(line);
    if (this.fd === undefined) return;
    this.buffered.push(JSON.stringify(line));
    if (this.buffered.length >= 1024) this.flush();
  }

  /** Writes buffered lines; called by the scheduler outside event execution. */
  flush(): void {
    if (this.fd === undefined || this.buffered.length === 0) return;
    writeSync(this.fd, this.buffered.join('\n') + '\n');
    this.buffered = [];
  }

  hashHex(): string {
    return (this.h1 >>> 0).toString(16).padStart(8, '0') + (this.h2 >>> 0).toString(16).padStart(8, '0');
  }
}
