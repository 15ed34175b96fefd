/**
 * An instance becoming a writable master. Where other members may follow it (replication factor
 * above 1), it first marks its data durably as needing a copy from whoever it follows next
 * (`resync`, core/replication/state-spaces.ts): replication is asynchronous, so it may commit
 * transactions no replica fetched before another member takes over, and then must not keep them.
 * A master holds its replicaset's history by definition (`caught_up`, same module): if it fails
 * and comes back while its successor is down, it may take over again.
 */

import type { Node } from '../node/node.ts';
import type { WalRow } from '../box/txn.ts';
import { caughtUpRow, ensureStateSpaces, holdsHistory, needsResync, resyncRow } from './state-spaces.ts';

export async function becomeWritable(node: Node, replicationFactor: number): Promise<void> {
  const box = node.box;
  await ensureStateSpaces(box);
  const marks: WalRow[] = [];
  if (replicationFactor > 1 && !needsResync(box)) marks.push(resyncRow(box, true));
  const self = node.identity?.instanceId;
  if (self !== undefined && !holdsHistory(box)) marks.push(caughtUpRow(box, self));
  if (marks.length > 0) await box.applyRows(marks);
  box.readOnly = false;
}
