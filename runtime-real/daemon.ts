/**
 * `picodata run`: one instance as a production daemon. The order matters for operators:
 * 1. options were validated by the caller (bad ones exit 2 before anything here runs);
 * 2. the `--script` module is imported, the HTTP port bound and the iproto address tried, so a
 *    broken script, a busy port or an unknown host stops the start before the data directory is
 *    touched;
 * 3. the real env opens the data directory (LMDB) and the core's instance program runs:
 *    discover -> boot | join -> postjoin (the script) -> Online; SIGTERM/SIGINT stop it
 *    gracefully; it exits through env.lifecycle.exit, which closes HTTP and the disk first.
 */

import { createServer } from 'node:net';
import type { NodeBackend } from '../core/node/backend.ts';
import type { IprotoBackend } from '../core/iproto/backend.ts';
import { instanceProgram } from '../core/instance.ts';
import type { Log } from '../core/env/log.ts';
import type { Node } from '../core/node/node.ts';
import { DEFAULT_TUNING, EXIT_FAILURE, type NodeOptions } from '../core/node/options.ts';
import { VERSION } from '../core/api/pico.ts';
import { clusterStatus, registerClusterStatus } from './cluster-info.ts';
import { createRealEnv } from './env.ts';
import { parseHostPort } from './network.ts';
import { watchOperatorEvents } from './events.ts';
import { HttpListenError, startHttp, type HttpEndpoint } from './http.ts';
import { createRealLog } from './log.ts';
import { DaemonMetrics, isOnline } from './metrics.ts';
import type { RunOptions } from './run-options.ts';
import { loadScript, scriptContext, ScriptError, type PostjoinFunction } from './script.ts';

/** Exit code for a failure of our own code (sysexits EX_SOFTWARE). */
export const EXIT_INTERNAL_ERROR = 70;

export interface DaemonOptions {
  readonly run: RunOptions;
  /** Readable log lines instead of JSON (default: when stderr is a terminal). */
  readonly pretty?: boolean;
}

/** Starts the instance; resolves once the program runs (the process lives on its own after). */
export async function runDaemon(options: DaemonOptions): Promise<void> {
  const run = options.run;
  const log = createRealLog({ level: run.logLevel, ...(options.pretty !== undefined ? { pretty: options.pretty } : {}) });
  // Until the environment takes SIGTERM/SIGINT over (createRealEnv), a stop signal must still
  // end the process cleanly: nothing is written yet, so there is nothing to hand over. Installed
  // before the first log line, which is what a supervisor sees as started: a signal sent on it
  // found no handler yet and killed the process (a flaky daemon test).
  const stopEarly = (signal: NodeJS.Signals): void => {
    log.info('stopped during start-up, before the data directory was opened', { signal });
    process.exit(0);
  };
  process.on('SIGTERM', stopEarly);
  process.on('SIGINT', stopEarly);
  log.info('picodata starting', { version: VERSION, listen: run.listen, data_dir: run.dataDir, cluster_id: run.clusterId, wal_mode: run.walMode });
  installCrashHandlers(log);
  let script: PostjoinFunction | null = null;
  if (run.script !== undefined) script = await loadScriptOrExit(run.script, log);
  const state: { node: Node | null } = { node: null };
  const metrics = new DaemonMetrics();
  let http: HttpEndpoint | null = null;
  if (run.httpListen !== undefined) http = await startHttpOrExit(run.httpListen, state, metrics, log);
  await checkListenOrExit(run.listen, log);
  process.off('SIGTERM', stopEarly);
  process.off('SIGINT', stopEarly);
  const env = createRealEnv({
    dataDir: run.dataDir,
    logLevel: run.logLevel,
    log,
    beforeExit: async () => {
      metrics.stop();
      await http?.close();
    },
  });
  const program = instanceProgram(nodeOptions(run), {
    opened: (node, backend) => {
      state.node = node;
      registerClusterStatus(node, backend);
      void watchOperatorEvents(node);
    },
    // Request metrics are only readable over HTTP: without --http-listen, serve unwrapped
    // (the wrapper costs ~0.2-0.35 µs per request).
    ...(http === null ? {} : { wrapBackend: (backend: IprotoBackend) => metrics.iproto.wrap(backend) }),
    postjoin: (node, backend) => postjoin(node, backend, script),
    online: (node) => {
      node.log.info('instance is serving', { instance_id: node.identity?.instanceId, raft_id: node.identity?.raftId });
      scheduleCheckpoints(node, run.checkpointIntervalSeconds);
    },
  });
  await program(env);
}

export function nodeOptions(run: RunOptions): NodeOptions {
  return {
    clusterId: run.clusterId,
    instanceId: run.instanceId,
    replicasetId: run.replicasetId,
    listen: run.listen,
    advertise: run.advertise,
    peers: run.peers,
    failureDomain: run.failureDomain,
    initReplicationFactor: run.initReplicationFactor,
    walMode: run.walMode,
    forceRecovery: run.forceRecovery,
    tuning: DEFAULT_TUNING,
  };
}

async function postjoin(node: Node, backend: NodeBackend, script: PostjoinFunction | null): Promise<void> {
  if (script === null) return;
  node.log.info('running the postjoin script');
  try {
    await script(scriptContext(node, backend));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    node.fatal(`postjoin script failed: ${reason}`, EXIT_FAILURE);
    return;
  }
  node.log.info('postjoin script finished', { functions: [...backend.userFunctions.keys()].filter((n) => !n.startsWith('daemon.')).join(',') });
}

/**
 * Local snapshots every `intervalSeconds` (Tarantool's checkpoint daemon), besides the one box
 * takes by itself every DEFAULT_CHECKPOINT_WAL_ROWS_MAX rows: a quiet instance's WAL is trimmed
 * too, and a restart replays less. A checkpoint runs from a timer, never inside a transaction;
 * with nothing written since the last one it writes nothing.
 */
function scheduleCheckpoints(node: Node, intervalSeconds: number): void {
  if (intervalSeconds <= 0) return;
  const timer = setInterval(() => {
    if (node.state === 'exited' || node.state === 'stopping') {
      clearInterval(timer);
      return;
    }
    node.box.checkpoint().catch((error: unknown) => node.log.warn('checkpoint failed', { reason: error instanceof Error ? error.message : String(error) }));
  }, intervalSeconds * 1000);
  timer.unref();
}

async function loadScriptOrExit(path: string, log: Log): Promise<PostjoinFunction> {
  try {
    return await loadScript(path);
  } catch (error) {
    log.error(error instanceof ScriptError ? error.message : `script ${path}: ${String(error)}`);
    return exitNow(EXIT_FAILURE);
  }
}

async function startHttpOrExit(address: string, state: { node: Node | null }, metrics: DaemonMetrics, log: Log): Promise<HttpEndpoint> {
  try {
    const endpoint = await startHttp(address, {
      metrics: () => metrics.render(state.node, state.node?.server?.sessionCount ?? null),
      health: () => health(state.node),
      cluster: () => (state.node === null || state.node.raft === null ? null : { ...clusterStatus(state.node) }),
    });
    log.info('http listening', { address: endpoint.address });
    return endpoint;
  } catch (error) {
    log.error(error instanceof HttpListenError ? error.message : `http: ${String(error)}`);
    return exitNow(EXIT_FAILURE);
  }
}

/**
 * Binds the iproto address and lets it go: the instance binds it for real only once its data
 * directory is open, and a new directory must not be left behind by a start that cannot serve.
 * (Another process may still take the port in between; then the start fails as before, exit 1.)
 */
async function checkListenOrExit(address: string, log: Log): Promise<void> {
  const { host, port } = parseHostPort(address);
  const probe = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen(port, host, () => resolve());
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    log.error(`cannot listen on ${address}: ${code ?? String(error)}`);
    return exitNow(EXIT_FAILURE);
  }
  await new Promise<void>((resolve) => probe.close(() => resolve()));
}

function health(node: Node | null): { healthy: boolean; body: Record<string, unknown> } {
  if (node === null) return { healthy: false, body: { status: 'starting', reason: 'opening the data directory' } };
  const self = node.self();
  const healthy = isOnline(node);
  const body: Record<string, unknown> = {
    status: healthy ? 'Online' : self?.currentGrade.variant ?? node.state,
    state: node.state,
    instance_id: node.identity?.instanceId ?? null,
    raft_id: node.identity?.raftId ?? null,
    cluster_id: node.clusterId(),
    current_grade: self === undefined ? null : { variant: self.currentGrade.variant, incarnation: self.currentGrade.incarnation },
    target_grade: self === undefined ? null : { variant: self.targetGrade.variant, incarnation: self.targetGrade.incarnation },
    raft_state: node.raft?.role ?? null,
    leader_id: node.raft === null || node.raft.leaderId === 0 ? null : node.raft.leaderId,
  };
  if (!healthy) body['reason'] = self === undefined ? `instance is ${node.state}` : `current grade is ${self.currentGrade.variant}, target ${self.targetGrade.variant}`;
  return { healthy, body };
}

/** A bug must not leave a half-dead daemon: log it and exit (the disk is crash-safe). */
function installCrashHandlers(log: Log): void {
  const die = (what: string) => (error: unknown) => {
    log.error(`internal error: ${what}`, { error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    process.exit(EXIT_INTERNAL_ERROR);
  };
  process.on('uncaughtException', die('uncaught exception'));
  process.on('unhandledRejection', die('unhandled promise rejection'));
}

function exitNow(code: number): never {
  process.exit(code);
}
