/**
 * Operator-facing events the core does not log on every instance: who leads Raft, this
 * instance's own grades, its replicaset's master and whether its storage takes writes. The core
 * logs the rest (discovery, boot, join, postjoin, governor steps on the leader, expel, shutdown).
 * Watched by waking on every applied entry or role change (Node.nextChange), comparing with the
 * previous view and logging the differences once.
 */

import type { Node } from '../core/node/node.ts';
import { formatGrade } from '../core/cluster/grade.ts';

/** Upper bound of a wait between two looks (also how soon a stop is noticed). */
const WATCH_INTERVAL_MS = 1_000;

interface View {
  leaderId: number;
  term: number;
  current: string;
  target: string;
  masterId: string;
  readOnly: boolean;
  others: Map<string, string>;
}

function look(node: Node): View {
  const self = node.self();
  const replicaset = self === undefined ? undefined : node.tables.replicaset(self.replicasetId);
  const others = new Map<string, string>();
  for (const i of node.tables.instances()) {
    if (i.instanceId !== self?.instanceId) others.set(i.instanceId, formatGrade(i.currentGrade));
  }
  return {
    leaderId: node.raft?.leaderId ?? 0,
    term: node.raft?.term ?? 0,
    current: self === undefined ? '' : formatGrade(self.currentGrade),
    target: self === undefined ? '' : formatGrade(self.targetGrade),
    masterId: replicaset?.masterId ?? '',
    readOnly: node.box.readOnly,
    others,
  };
}

/** Logs changes until the node exits. */
export async function watchOperatorEvents(node: Node): Promise<void> {
  let before = look(node);
  while (node.state !== 'exited') {
    await node.nextChange(WATCH_INTERVAL_MS);
    if (node.raft === null) continue;
    const now = look(node);
    report(node, before, now);
    before = now;
  }
}

function report(node: Node, a: View, b: View): void {
  const log = node.log;
  if (a.leaderId !== b.leaderId) {
    const fields = { leader_id: b.leaderId, term: b.term, address: node.peerAddress(b.leaderId) ?? null };
    if (b.leaderId === 0) log.warn('raft leader lost', { term: b.term });
    else log.info('raft leader changed', fields);
  }
  if (a.current !== b.current && b.current !== '') log.info('own current grade changed', { from: a.current || null, to: b.current });
  if (a.target !== b.target && b.target !== '') log.info('own target grade changed', { from: a.target || null, to: b.target });
  if (a.masterId !== b.masterId && b.masterId !== '') {
    const self = node.identity?.instanceId;
    log.info('replicaset master changed', { master_id: b.masterId, previous: a.masterId || null, this_instance: b.masterId === self });
  }
  if (a.readOnly !== b.readOnly) log.info(b.readOnly ? 'storage is read-only' : 'storage is writable');
  for (const [id, grade] of b.others) {
    const previous = a.others.get(id);
    if (previous === undefined) log.info('instance appeared in the cluster', { instance_id: id, current_grade: grade });
    else if (previous !== grade) log.verbose('instance grade changed', { instance_id: id, from: previous, to: grade });
  }
}
