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
