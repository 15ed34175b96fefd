/**
 * `picodata run` options: every flag of the admin guide (section 14.1) plus the 2023 additions,
 * each with its `PICODATA_*` environment variable. Parsing is pure so it can be tested; the CLI
 * turns a `RunOptionsError` into exit code 2 before anything is touched.
 */

import { FailureDomainError, parseFailureDomain, type FailureDomain } from '../core/cluster/failure-domain.ts';
import type { LogLevel } from '../core/env/log.ts';
import { LOG_LEVELS } from '../core/env/log.ts';
import type { WalMode } from '../core/box/wal.ts';

export const WAL_MODES: readonly WalMode[] = ['none', 'write', 'fsync'];

export const DEFAULT_PORT = 3301;
/** Tarantool's checkpoint_interval default. */
export const DEFAULT_CHECKPOINT_INTERVAL_SECONDS = 3600;

export interface RunOptions {
  readonly clusterId: string;
  readonly dataDir: string;
  readonly instanceId: string | undefined;
  readonly listen: string;
  readonly advertise: string;
  readonly peers: readonly string[];
  readonly failureDomain: FailureDomain;
  readonly replicasetId: string | undefined;
  readonly logLevel: LogLevel;
  readonly initReplicationFactor: number;
  readonly script: string | undefined;
  readonly httpListen: string | undefined;
  /** Not in the admin guide: how durable an acknowledged write is (Tarantool's wal_mode). */
  readonly walMode: WalMode;
  /** Not in the admin guide: seconds between local snapshots (Tarantool's checkpoint_interval); 0 = never. */
  readonly checkpointIntervalSeconds: number;
  /** Not in the admin guide: start past a corrupt WAL record, losing what follows (Tarantool's force_recovery). */
  readonly forceRecovery: boolean;
}

export class RunOptionsError extends Error {
  override readonly name = 'RunOptionsError';
}

/**
 * Address forms: `host:port`; `:port` and a bare `port` mean localhost; a bare `host` gets port
 * 3301. A port above 65535 or a second colon is an error.
 *
 * Picodata 22.11 reads a bare number as a host (`1234` -> `1234:3301`); we read it as a port, as
 * our CLI promises (`--listen 3302`): a host name of digits only resolves as a 32-bit IPv4
 * number (3302 is 0.0.12.230), which nobody means.
 */
export function normalizeAddress(text: string, what: string): string {
  const value = text.trim();
  const colons = value.split(':').length - 1;
  if (colons > 1) throw new RunOptionsError(`invalid ${what} address "${text}": too many colons`);
  if (colons === 0) {
    if (value === '') throw new RunOptionsError(`invalid ${what} address: empty`);
    if (/^\d+$/.test(value)) return normalizeAddress(`:${value}`, what);
    return `${value}:${DEFAULT_PORT}`;
  }
  const [host, port] = value.split(':') as [string, string];
  if (!/^\d+$/.test(port) || Number(port) > 65535) throw new RunOptionsError(`invalid ${what} address "${text}": bad port "${port}"`);
  return `${host === '' ? 'localhost' : host}:${Number(port)}`;
}

/** Raw values as the CLI library hands them over (flags win over environment variables). */
export interface RawRunOptions {
  readonly clusterId?: string | undefined;
  readonly dataDir?: string | undefined;
  readonly instanceId?: string | undefined;
  readonly listen?: string | undefined;
  readonly advertise?: string | undefined;
  readonly peer?: readonly string[] | string | undefined;
  readonly failureDomain?: readonly string[] | string | undefined;
  readonly replicasetId?: string | undefined;
  readonly logLevel?: string | undefined;
  readonly initReplicationFactor?: string | number | undefined;
  readonly script?: string | undefined;
  readonly httpListen?: string | undefined;
  readonly walMode?: string | undefined;
  readonly checkpointInterval?: string | number | undefined;
  readonly forceRecovery?: boolean | undefined;
}

/** A boolean `PICODATA_<NAME>`: true, 1 or yes (any case) turn it on; unset or anything else, off. */
function flag(env: Readonly<Record<string, string | undefined>>, name: string): boolean {
  return /^(true|1|yes)$/i.test(fromEnv(env, name) ?? '');
}

function fromEnv(env: Readonly<Record<string, string | undefined>>, name: string): string | undefined {
  const value = env[`PICODATA_${name}`];
  return value === undefined || value === '' ? undefined : value;
}

function list(value: readonly string[] | string | undefined): string[] {
  if (value === undefined) return [];
  const items = typeof value === 'string' ? [value] : [...value];
  return items.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
}

/** An explicitly given name or path must not be blank. */
function nonBlank(value: string | undefined, what: string): string | undefined {
  if (value !== undefined && value.trim() === '') throw new RunOptionsError(`invalid ${what}: empty`);
  return value;
}

export function resolveRunOptions(raw: RawRunOptions, env: Readonly<Record<string, string | undefined>>): RunOptions {
  const listen = normalizeAddress(raw.listen ?? fromEnv(env, 'LISTEN') ?? `localhost:${DEFAULT_PORT}`, 'listen');
  const advertiseText = raw.advertise ?? fromEnv(env, 'ADVERTISE');
  const peerTexts = list(raw.peer).length > 0 ? list(raw.peer) : list(fromEnv(env, 'PEER'));
  const peers = (peerTexts.length > 0 ? peerTexts : [`localhost:${DEFAULT_PORT}`]).map((p) => normalizeAddress(p, 'peer'));
  const logLevel = raw.logLevel ?? fromEnv(env, 'LOG_LEVEL') ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new RunOptionsError(`invalid log level "${logLevel}": expected one of ${LOG_LEVELS.join(', ')}`);
  }
  const rfText = String(raw.initReplicationFactor ?? fromEnv(env, 'INIT_REPLICATION_FACTOR') ?? '1');
  if (!/^\d+$/.test(rfText) || Number(rfText) < 1 || Number(rfText) > 255) {
    throw new RunOptionsError(`invalid init replication factor "${rfText}": expected an integer from 1 to 255`);
  }
  let failureDomain: FailureDomain;
  try {
    const domainTexts = list(raw.failureDomain).length > 0 ? list(raw.failureDomain) : list(fromEnv(env, 'FAILURE_DOMAIN'));
    failureDomain = parseFailureDomain(domainTexts.join(','));
  } catch (error) {
    if (error instanceof FailureDomainError) throw new RunOptionsError(error.message);
    throw error;
  }
  const httpListen = raw.httpListen ?? fromEnv(env, 'HTTP_LISTEN');
  const walMode = raw.walMode ?? fromEnv(env, 'WAL_MODE') ?? 'write';
  if (!(WAL_MODES as readonly string[]).includes(walMode)) {
    throw new RunOptionsError(`invalid wal mode "${walMode}": expected one of ${WAL_MODES.join(', ')}`);
  }
  const intervalText = String(raw.checkpointInterval ?? fromEnv(env, 'CHECKPOINT_INTERVAL') ?? DEFAULT_CHECKPOINT_INTERVAL_SECONDS);
  if (!/^\d+(\.\d+)?$/.test(intervalText)) {
    throw new RunOptionsError(`invalid checkpoint interval "${intervalText}": expected a number of seconds (0 = never)`);
  }
  const script = raw.script ?? fromEnv(env, 'SCRIPT');
  if (script !== undefined && script.trim() === '') throw new RunOptionsError('invalid script: empty path');
  return {
    clusterId: nonBlank(raw.clusterId ?? fromEnv(env, 'CLUSTER_ID'), 'cluster id') ?? 'demo',
    dataDir: nonBlank(raw.dataDir ?? fromEnv(env, 'DATA_DIR'), 'data dir') ?? '.',
    instanceId: nonBlank(raw.instanceId ?? fromEnv(env, 'INSTANCE_ID'), 'instance id'),
    listen,
    advertise: advertiseText === undefined ? listen : normalizeAddress(advertiseText, 'advertise'),
    peers,
    failureDomain,
    replicasetId: nonBlank(raw.replicasetId ?? fromEnv(env, 'REPLICASET_ID'), 'replicaset id'),
    logLevel: logLevel as LogLevel,
    initReplicationFactor: Number(rfText),
    script,
    httpListen: httpListen === undefined ? undefined : normalizeAddress(httpListen, 'http-listen'),
    walMode: walMode as WalMode,
    checkpointIntervalSeconds: Number(intervalText),
    forceRecovery: raw.forceRecovery === true || flag(env, 'FORCE_RECOVERY'),
  };
}
