/**
 * The `picodata` command line (admin guide section 14):
 *   picodata run [options]                 start an instance (every option has a PICODATA_* variable)
 *   picodata expel --instance-id ID [--cluster-id demo] [--peer localhost:3301]
 *   picodata connect [USER@]HOST:PORT [-u USER]
 *   picodata status [--peer localhost:3301] [--json]
 * Usage errors (unknown or bad options) exit 2 before anything is touched; failures of a
 * command exit 1 with a one-line reason on stderr.
 */

import { Command, CommanderError, Option } from 'commander';
import { VERSION } from '../core/api/pico.ts';
import { AssertionError } from '../core/lib/assert.ts';
import { normalizeAddress, resolveRunOptions, RunOptionsError, WAL_MODES, type RunOptions } from './run-options.ts';

export const EXIT_USAGE = 2;

interface RunFlags {
  instanceId?: string;
  listen?: string;
  advertise?: string;
  peer?: string[];
  clusterId?: string;
  dataDir?: string;
  failureDomain?: string[];
  initReplicationFactor?: string;
  replicasetId?: string;
  logLevel?: string;
  script?: string;
  httpListen?: string;
  walMode?: string;
  checkpointInterval?: string;
  forceRecovery?: boolean;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

class UsageError extends Error {
  override readonly name = 'UsageError';
}

function usage(command: string, message: string): never {
  throw new UsageError(`picodata ${command}: error: ${message}`);
}

function buildProgram(): Command {
  const program = new Command('picodata')
    .description('Picodata-style distributed DBMS node (TypeScript)')
    .version(VERSION, '-V, --version')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');

  program
    .command('run')
    .description('run a picodata instance')
    .option('--instance-id <name>', 'name of the instance (default: i<raft_id>) [env PICODATA_INSTANCE_ID]')
    .option('-l, --listen <[host][:port]>', 'address to listen on (default: localhost:3301) [env PICODATA_LISTEN]')
    .option('--advertise <[host][:port]>', 'address other instances use to reach this one (default: --listen) [env PICODATA_ADVERTISE]')
    .option('--peer <[host][:port],...>', 'addresses of other instances, comma-separated, repeatable (default: localhost:3301) [env PICODATA_PEER]', collect)
    .option('--cluster-id <name>', 'name of the cluster (default: demo) [env PICODATA_CLUSTER_ID]')
    .option('--data-dir <path>', 'where the instance keeps its data (default: .) [env PICODATA_DATA_DIR]')
    .option('--failure-domain <key=value,...>', 'where the instance runs, comma-separated, repeatable [env PICODATA_FAILURE_DOMAIN]', collect)
    .option('--init-replication-factor <n>', 'instances per replicaset, used when the cluster is created (default: 1) [env PICODATA_INIT_REPLICATION_FACTOR]')
    .option('--replicaset-id <name>', 'replicaset to join [env PICODATA_REPLICASET_ID]')
    .option('--log-level <level>', 'fatal, system, error, crit, warn, info, verbose or debug (default: info) [env PICODATA_LOG_LEVEL]')
    .option('--script <file>', 'JS/TS module whose postjoin() runs before the instance goes Online [env PICODATA_SCRIPT]')
    .option('--http-listen <[host][:port]>', 'serve /metrics, /health and /api/v1/cluster over HTTP here [env PICODATA_HTTP_LISTEN]')
    .addOption(new Option('--wal-mode <mode>', `durability of acknowledged writes: ${WAL_MODES.join(', ')} (default: write) [env PICODATA_WAL_MODE]`))
    .option('--checkpoint-interval <seconds>', 'seconds between local snapshots that let the WAL be trimmed, 0 = never (default: 3600) [env PICODATA_CHECKPOINT_INTERVAL]')
    .option('--force-recovery', 'start from the last good WAL record when a later one is corrupt, losing what follows it (default: refuse to start) [env PICODATA_FORCE_RECOVERY]')
    .action(async (flags: RunFlags) => {
      let options: RunOptions;
      try {
        options = resolveRunOptions(flags, process.env);
      } catch (error) {
        if (error instanceof RunOptionsError) usage('run', error.message);
        throw error;
      }
      const { runDaemon } = await import('./daemon.ts');
      await runDaemon({ run: options });
    });

  program
    .command('expel')
    .description('expel an instance from the cluster')
    .requiredOption('--instance-id <name>', 'the instance to expel')
    .option('--cluster-id <name>', 'name of the cluster', 'demo')
    .option('--peer <[host][:port]>', 'any instance of the cluster', 'localhost:3301')
    .option('--timeout <seconds>', 'how long to wait for the cluster', '10')
    .action(async (flags: { instanceId: string; clusterId: string; peer: string; timeout: string }) => {
      const peer = address('expel', flags.peer, 'peer');
      const timeoutMs = seconds('expel', flags.timeout);
      if (flags.instanceId.trim() === '') usage('expel', 'invalid instance id: empty');
      const { expel } = await import('./admin.ts');
      process.exitCode = await expel({ instanceId: flags.instanceId, clusterId: flags.clusterId, peer, timeoutMs }, (line) => process.stdout.write(`${line}\n`));
    });

  program
    .command('connect')
    .description('connect to an instance and evaluate statements interactively')
    .argument('<address>', '[user@]host:port of the instance')
    .option('-u, --user <user>', 'user to authenticate as (asks for the password)')
    .option('--timeout <seconds>', 'per-request timeout', '30')
    .action(async (target: string, flags: { user?: string; timeout: string }) => {
      const at = target.lastIndexOf('@');
      const user = flags.user ?? (at > 0 ? target.slice(0, at) : undefined);
      const peer = address('connect', at > 0 ? target.slice(at + 1) : target, 'instance');
      const { runConsole } = await import('./console/repl.ts');
      process.exitCode = await runConsole({ address: peer, user, timeoutMs: seconds('connect', flags.timeout) });
    });

  program
    .command('status')
    .description('show the cluster: raft leader, voters, learners, instances and replicasets')
    .option('--peer <[host][:port]>', 'any instance of the cluster', 'localhost:3301')
    .option('-u, --user <user>', 'user to authenticate as (password from PICODATA_PASSWORD)')
    .option('--json', 'print the raw status as JSON')
    .option('--timeout <seconds>', 'how long to wait for the instance', '10')
    .action(async (flags: { peer: string; user?: string; json?: boolean; timeout: string }) => {
      const peer = address('status', flags.peer, 'peer');
      const { status } = await import('./admin.ts');
      process.exitCode = await status(
        { peer, user: flags.user, password: process.env['PICODATA_PASSWORD'], timeoutMs: seconds('status', flags.timeout), json: flags.json === true },
        (line) => process.stdout.write(`${line}\n`),
      );
    });
  return program;
}

function address(command: string, text: string, what: string): string {
  try {
    return normalizeAddress(text, what);
  } catch (error) {
    if (error instanceof RunOptionsError) usage(command, error.message);
    throw error;
  }
}

function seconds(command: string, text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) usage(command, `invalid timeout "${text}": expected a positive number of seconds`);
  return Math.round(value * 1000);
}

export async function main(argv: readonly string[]): Promise<void> {
  // `picodata status | head`: a closed pipe ends the command quietly, like any Unix tool.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
  const program = buildProgram();
  try {
    await program.parseAsync(argv as string[]);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; every other commander error is a usage error.
      process.exit(error.exitCode === 0 ? 0 : EXIT_USAGE);
    }
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(EXIT_USAGE);
    }
    const command = program.args[0] ?? '';
    process.stderr.write(`picodata${command === '' ? '' : ` ${command}`}: error: ${error instanceof Error ? error.message : String(error)}\n`);
    // A failure of ours, not of the environment: the stack is what a bug report needs.
    if (isInternalError(error)) process.stderr.write(`${error.stack ?? ''}\n`);
    process.exit(1);
  }
}

function isInternalError(error: unknown): error is Error {
  return error instanceof RangeError || error instanceof TypeError || error instanceof ReferenceError || error instanceof SyntaxError || error instanceof AssertionError;
}

await main(process.argv);
