import type { Scenario } from '../runtime-sim/scenario.ts';
import { expelLeader } from './expel-leader.ts';
import { joinStorm } from './join-storm.ts';
import { raftSafety } from './raft-safety.ts';
import { shutdownAll } from './shutdown-all.ts';
import { voterFailover } from './voter-failover.ts';
import { boxDurability } from './box-durability.ts';
import { smoke } from './smoke.ts';
import { vshardRouting } from './vshard-routing.ts';
import { replication } from './replication.ts';

/** Every named scenario, for `sim list` and `sim run <name>`. */
export const SCENARIOS: readonly Scenario[] = [smoke, joinStorm, voterFailover, expelLeader, shutdownAll, raftSafety, vshardRouting, boxDurability, replication];

export function findScenario(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}
