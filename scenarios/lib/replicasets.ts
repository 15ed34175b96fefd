/**
 * Replicasets as the scenarios see them: read from the first running instance's Raft tables
 * (every instance applies the same ones), by the scenario's instance names.
 */

import type { Node } from '../../core/node/node.ts';
import type { ClusterTables } from '../../core/cluster/tables.ts';
import type { ClusterScenarioState } from './cluster-scenario.ts';

/** How often `whileMaster` looks again. */
const MASTER_POLL_MS = 200;

/** The replicaset `name` belongs to, as any instance that knows it says. */
export function replicasetOf(state: ClusterScenarioState, name: string): string | undefined {
  for (const n of state.names) {
    const node = state.cluster.node(n);
    const id = node?.tables.instance(state.cluster.instanceIdOf(name) ?? name)?.replicasetId;
    if (id !== undefined) return id;
  }
  return undefined;
}

/** The first running instance's tables, or undefined while none runs. */
function viewerTables(state: ClusterScenarioState): ClusterTables | undefined {
  const viewer = state.names.find((n) => state.cluster.host(n).running && state.cluster.node(n) !== undefined);
  return viewer === undefined ? undefined : state.cluster.node(viewer)!.tables;
}

/** The master of `replicasetId` as the first running instance's tables say. */
export function masterOf(state: ClusterScenarioState, replicasetId: string): string | undefined {
  return viewerTables(state)?.replicaset(replicasetId)?.masterId;
}

/** The vshard weight of `replicasetId` as the first running instance's tables say (0 unknown). */
export function weightOf(state: ClusterScenarioState, replicasetId: string): number {
  return viewerTables(state)?.replicaset(replicasetId)?.weight.value ?? 0;
}

/**
 * Runs `ensure` (idempotent DDL: what a crash between its statements left missing) every
 * MASTER_POLL_MS while `node` is a writable master, for as long as its process lives: a replica
 * gets the spaces from its master, and creates them only once promoted.
 */
export async function whileMaster(node: Node, ensure: () => Promise<void>): Promise<void> {
  while (node.state !== 'exited') {
    if (!node.box.readOnly && node.replication?.isMaster === true) {
      try {
        await ensure();
      } catch {
        // Crashing (its box refuses writes) or demoted meanwhile: a later round finishes it.
      }
    }
    await node.env.clock.sleep(MASTER_POLL_MS);
  }
}

/** Every replicaset some instance belongs to, sorted. */
export function replicasets(state: ClusterScenarioState): string[] {
  const ids = new Set<string>();
  for (const n of state.names) {
    const id = replicasetOf(state, n);
    if (id !== undefined) ids.add(id);
  }
  return [...ids].sort();
}

/** The scenario's instances in `replicasetId`. */
export function membersOf(state: ClusterScenarioState, replicasetId: string): string[] {
  return state.names.filter((n) => replicasetOf(state, n) === replicasetId);
}
