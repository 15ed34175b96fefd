import pino from 'pino';
import { LeveledLog, LOG_LEVELS, type Log, type LogFields, type LogLevel } from '../core/env/log.ts';

/**
 * Logging for the daemon: pino JSON lines on stderr, or one readable line per event when stderr is
 * a terminal. Picodata's levels map onto pino custom levels, so `--log-level verbose` means the
 * same thing in both worlds.
 */

const PINO_LEVELS: Record<LogLevel, number> = { fatal: 60, system: 55, error: 50, crit: 45, warn: 40, info: 30, verbose: 25, debug: 20 };

export interface RealLogOptions {
  readonly level: LogLevel;
  /** Readable lines instead of JSON (default: when stderr is a TTY). */
  readonly pretty?: boolean;
  readonly fields?: LogFields;
}

export function createRealLog(options: RealLogOptions): Log {
  const pretty = options.pretty ?? process.stderr.isTTY === true;
  if (pretty) return new PrettyLog(options.level, options.fields ?? {});
  const logger = pino(
    {
      level: options.level,
      customLevels: PINO_LEVELS,
      useOnlyCustomLevels: true,
      base: { pid: process.pid, ...options.fields },
      // Picodata's level names ("info", "verbose"), not pino's numbers: operators grep for them.
      formatters: { level: (label: string) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination({ dest: 2, sync: true }),
  );
  return new PinoLog(logger, options.level);
}

type PinoLogger = pino.Logger<LogLevel>;

class PinoLog extends LeveledLog {
  private readonly logger: PinoLogger;

  constructor(logger: PinoLogger, level: LogLevel) {
    super(level);
    this.logger = logger;
  }

  log(level: LogLevel, message: string, fields?: LogFields): void {
    if (!this.enabled(level)) return;
    this.logger[level](jsonSafe(fields ?? {}), message);
  }

  child(fields: LogFields): Log {
    return new PinoLog(this.logger.child(jsonSafe(fields)), this.level);
  }
}

class PrettyLog extends LeveledLog {
  private readonly fields: LogFields;

  constructor(level: LogLevel, fields: LogFields) {
    super(level);
    this.fields = fields;
  }

  log(level: LogLevel, message: string, fields?: LogFields): void {
    if (!this.enabled(level)) return;
    const all = { ...this.fields, ...fields };
    const extra = Object.entries(all).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(jsonSafe(v))}`);
    const time = new Date().toISOString().replace('T', ' ').replace('Z', '');
    process.stderr.write(`${time} ${level.toUpperCase().padEnd(7)} ${message}${extra.length > 0 ? ' ' + extra.join(' ') : ''}\n`);
  }

  child(fields: LogFields): Log {
    return new PrettyLog(this.level, { ...this.fields, ...fields });
  }
}

/** bigint and Uint8Array fields must not break JSON serialization. */
function jsonSafe<T>(value: T): T {
  return JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}` : v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v))) as T;
}

export function parseLogLevel(text: string): LogLevel | undefined {
  return (LOG_LEVELS as readonly string[]).includes(text) ? (text as LogLevel) : undefined;
}
