import type { Log } from '../../core/env/log.ts';

/** A Log for benchmarks: silent but for errors, which go to stderr. */
export const quietLog: Log = {
  level: 'error',
  enabled: () => false,
  log: () => undefined,
  error: (m, f) => console.error(m, f),
  warn: () => undefined,
  info: () => undefined,
  verbose: () => undefined,
  debug: () => undefined,
  child: () => quietLog,
};
