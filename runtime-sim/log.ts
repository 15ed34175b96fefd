import { LeveledLog, type Log, type LogFields, type LogLevel } from '../core/env/log.ts';
import type { Trace } from './trace.ts';

export interface LogLine {
  readonly timeMs: number;
  readonly host: string;
  readonly level: LogLevel;
  readonly message: string;
  readonly fields: LogFields;
}

/** Where simulated log lines go: the trace hash always, a bounded ring for post-mortems, and optionally stderr. */
export class LogSink {
  private readonly ring: LogLine[] = [];
  private ringStart = 0;
  readonly ringLinesMax: number;
  echo: ((line: LogLine) => void) | null = null;

  constructor(ringLinesMax = 2000) {
    this.ringLinesMax = ringLinesMax;
  }

  push(line: LogLine): void {
    if (this.echo !== null) this.echo(line);
    if (this.ring.length < this.ringLinesMax) this.ring.push(line);
    else {
      this.ring[this.ringStart] = line;
      this.ringStart = (this.ringStart + 1) % this.ringLinesMax;
    }
  }

  recent(): LogLine[] {
    return [...this.ring.slice(this.ringStart), ...this.ring.slice(0, this.ringStart)];
  }
}

export function formatFields(fields: LogFields): string {
  const parts: string[] = [];
  for (const key of Object.keys(fields)) parts.push(`${key}=${formatValue(fields[key])}`);
  return parts.join(' ');
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /[\s"=]/.test(value) ? JSON.stringify(value) : value;
  if (typeof value === 'bigint') return `${value}`;
  if (value instanceof Error) return JSON.stringify(value.message);
  try {
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}` : v)) ?? 'undefined';
  } catch {
    return String(value);
  }
}

export class SimLog extends LeveledLog {
  private readonly hostId: number;
  private readonly hostName: string;
  private readonly fields: LogFields;
  private readonly trace: Trace;
  private readonly sink: LogSink;
  private readonly now: () => number;

  constructor(hostId: number, hostName: string, level: LogLevel, trace: Trace, sink: LogSink, now: () => number, fields: LogFields = {}) {
    super(level);
    this.hostId = hostId;
    this.hostName = hostName;
    this.trace = trace;
    this.sink = sink;
    this.now = now;
    this.fields = fields;
  }


  log(level: LogLevel, message: string, fields?: LogFields): void {
    if (!this.enabled(level)) return;
    const all = fields === undefined ? this.fields : { ...this.fields, ...fields };
    const timeMs = this.now();
    this.trace.eventText('log', timeMs, this.hostId, `${level} ${message} ${formatFields(all)}`);
    this.sink.push({ timeMs, host: this.hostName, level, message, fields: all });
  }


  child(fields: LogFields): Log {
    return new SimLog(this.hostId, this.hostName, this.level, this.trace, this.sink, this.now, { ...this.fields, ...fields });
  }
}
