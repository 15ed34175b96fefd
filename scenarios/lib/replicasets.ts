/**
 * Replicasets as the scenarios see them: read from the first running instance's Raft tables
 * (every instance applies the same ones), by the scenario's instance names.
 */

import type { ClusterScenarioState } from './cluster-scenario.ts';

/** The replicaset `name` belongs to, as any instance that knows it says. */
export function replicasetOf(state: ClusterScenarioState, name: string): string | undefined {
  for (const n of state.names) {
    const node = state.cluster.node(n);
    const id = node?.tables.instance(state.cluster.instanceIdOf(name) ?? name)?.replicasetId;
    if (id !== undefined) return id;
  }
  return undefined;
}

/** The master of `replicasetId` as the first running instance's tables say. */
export function masterOf(state: ClusterScenarioState, replicasetId: string): string | undefined {
  const viewer = state.names.find((n) => state.cluster.host(n).running && state.cluster.node(n) !== undefined);
  return viewer === undefined ? undefined : state.cluster.node(viewer)!.tables.replicaset(replicasetId)?.masterId;
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
