/**
 * The operator commands that talk to a running cluster over iproto, like Picodata's own:
 * - `picodata expel --instance-id ID [--cluster-id demo] [--peer localhost:3301]`: calls
 *   `.proc_expel_redirect(cluster_id, instance_id)` on the peer, which forwards to the leader;
 * - `picodata status [--peer localhost:3301]`: the cluster at a glance (admin guide 15.2): this
 *   instance, the Raft leader, voters and learners, and the instance and replicaset tables.
 * Both print a clear error and exit 1 when the peer cannot be reached or refuses.
 */

import { IprotoClient, type ClientError } from '../core/iproto/client.ts';
import { ErrorCode } from '../core/iproto/constants.ts';
import { RealClock } from './clock.ts';
import { CLUSTER_STATUS_FUNCTION, type ClusterStatus } from './cluster-info.ts';
import { renderTable } from './console/yaml.ts';
import { RealNetwork } from './network.ts';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;

export interface ConnectOptions {
  readonly user?: string | undefined;
  readonly password?: string | undefined;
  readonly timeoutMs: number;
}

export function describeError(error: ClientError): string {
  switch (error.kind) {
    case 'server':
      return error.message;
    case 'timeout':
      return `no answer within ${error.timeoutMs} ms`;
    case 'closed':
      return error.message;
  }
}

/** Connects (and authenticates when a password is given); throws an Error with a clear message. */
export async function connectTo(address: string, options: ConnectOptions): Promise<IprotoClient> {
  const env = { net: new RealNetwork(), clock: new RealClock() };
  const auth = options.user !== undefined && options.user !== 'guest' ? { user: options.user, password: options.password ?? '' } : {};
  const result = await IprotoClient.connect(env, address, { connectTimeoutMs: Math.min(options.timeoutMs, 5_000), requestTimeoutMs: options.timeoutMs, ...auth });
  if (!result.ok) throw new Error(`cannot connect to ${address}: ${describeError(result.error)}`);
  return result.value;
}

export interface ExpelOptions {
  readonly instanceId: string;
  readonly clusterId: string;
  readonly peer: string;
  readonly timeoutMs: number;
}

export async function expel(options: ExpelOptions, out: (line: string) => void): Promise<number> {
  const client = await connectTo(options.peer, { timeoutMs: options.timeoutMs });
  try {
    const result = await client.call('.proc_expel_redirect', [options.clusterId, options.instanceId], { timeoutMs: options.timeoutMs });
    if (!result.ok) throw new Error(`expel of "${options.instanceId}" failed: ${describeError(result.error)}`);
    out(`Instance "${options.instanceId}" successfully expelled`);
    return EXIT_OK;
  } finally {
    client.close();
  }
}

export interface StatusOptions {
  readonly peer: string;
  readonly user?: string | undefined;
  readonly password?: string | undefined;
  readonly timeoutMs: number;
  readonly json: boolean;
}

export async function status(options: StatusOptions, out: (line: string) => void): Promise<number> {
  const client = await connectTo(options.peer, options);
  try {
    const result = await client.call(CLUSTER_STATUS_FUNCTION, [], { timeoutMs: options.timeoutMs });
    if (!result.ok) {
      const hint = result.error.kind === 'server' && result.error.code === ErrorCode.NO_SUCH_PROC ? ' (is the peer a picodata-ts daemon?)' : '';
      throw new Error(`status of ${options.peer} failed: ${describeError(result.error)}${hint}`);
    }
    const cluster = result.value[0] as unknown as ClusterStatus;
    if (options.json) out(JSON.stringify(cluster, null, 2));
    else for (const line of formatStatus(options.peer, cluster)) out(line);
    return EXIT_OK;
  } finally {
    client.close();
  }
}

/**
 * The admin guide's `picodata-list.sh` view (15.2), with full-width cells. The instance table has
 * the guide's columns in the guide's order (grades as `["Online",1]`; the guide's `commit_index`
 * is not kept per instance here, so it is absent), then our own `raft_role`.
 */
export function formatStatus(peer: string, c: ClusterStatus): string[] {
  const raft = c.raft;
  const lines = [`connected to ${peer}`, '---'];
  lines.push(`- cluster_id: ${c.cluster_id}`);
  lines.push(`- instance_id: ${c.instance_id ?? 'null'}`);
  lines.push(`- raft_state: ${raft?.raft_state ?? 'null'}`);
  lines.push(`- term: ${raft?.term ?? 'null'}`);
  lines.push(`- leader_id: ${raft?.leader_id ?? 'null'}`);
  const leader = c.instances.find((i) => i.raft_id === raft?.leader_id);
  if (leader !== undefined) lines.push(`- leader: ${leader.instance_id} (${leader.peer_address ?? 'address unknown'})`);
  lines.push(`- voters: [${(raft?.voters ?? []).join(', ')}]`);
  lines.push(`- learners: [${(raft?.learners ?? []).join(', ')}]`);
  lines.push(`- replication_factor: ${c.replication_factor ?? 'null'}`);
  lines.push('- instances:');
  const instanceRows = c.instances.map((i) => [
    i.instance_id,
    i.instance_uuid,
    String(i.raft_id),
    i.peer_address ?? '',
    i.replicaset_id,
    i.replicaset_uuid,
    grade(i.current_grade),
    grade(i.target_grade),
    domain(i.failure_domain),
    i.raft_role,
  ]);
  const instanceColumns = ['instance_id', 'instance_uuid', 'raft_id', 'peer_address', 'replicaset_id', 'replicaset_uuid', 'current_grade', 'target_grade', 'failure_domain', 'raft_role'];
  for (const row of renderTable(instanceColumns, instanceRows)) lines.push(`  - ${row}`);
  lines.push('- replicasets:');
  const replicasetRows = c.replicasets.map((r) => [r.replicaset_id, r.replicaset_uuid, r.master_id, String(r.weight), r.weight_state, String(r.current_schema_version)]);
  for (const row of renderTable(['replicaset_id', 'replicaset_uuid', 'master_id', 'weight', 'weight_state', 'current_schema_version'], replicasetRows)) {
    lines.push(`  - ${row}`);
  }
  lines.push('...');
  return lines;
}

/** As the guide's `fselect()` prints a grade tuple: `["Online",1]` (variant, incarnation). */
function grade(g: { variant: string; incarnation: number }): string {
  return JSON.stringify([g.variant, g.incarnation]);
}

function domain(d: Record<string, string>): string {
  const entries = Object.entries(d);
  return entries.length === 0 ? '{}' : entries.map(([k, v]) => `${k}=${v}`).join(',');
}

