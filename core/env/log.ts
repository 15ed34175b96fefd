/** Picodata's log levels, most to least severe. */
export const LOG_LEVELS = ['fatal', 'system', 'error', 'crit', 'warn', 'info', 'verbose', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type LogFields = Readonly<Record<string, unknown>>;

/**
 * Structured logging. `message` is a short fixed phrase (`joined the cluster`); variable parts go
 * into `fields` so logs can be grepped and the simulator can hash them deterministically.
 */
export interface Log {
  readonly level: LogLevel;
  enabled(level: LogLevel): boolean;
  log(level: LogLevel, message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  verbose(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Log;
}

export function logLevelRank(level: LogLevel): number {
  return LOG_LEVELS.indexOf(level);
}

/**
 * The level plumbing every Log shares: subclasses write a line (`log`) and derive children;
 * the named-level methods and the level filter live here once.
 */
export abstract class LeveledLog implements Log {
  readonly level: LogLevel;
  private readonly rank: number;

  constructor(level: LogLevel) {
    this.level = level;
    this.rank = logLevelRank(level);
  }

  enabled(level: LogLevel): boolean {
    return logLevelRank(level) <= this.rank;
  }

  abstract log(level: LogLevel, message: string, fields?: LogFields): void;
  abstract child(fields: LogFields): Log;

  error(message: string, fields?: LogFields): void {
    this.log('error', message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.log('warn', message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.log('info', message, fields);
  }
  verbose(message: string, fields?: LogFields): void {
    this.log('verbose', message, fields);
  }
  debug(message: string, fields?: LogFields): void {
    this.log('debug', message, fields);
  }
}
