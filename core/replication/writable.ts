/**
 * An instance becoming a writable master. Where other members may follow it (replication factor
 * above 1), it first marks its data durably as needing a copy from whoever it follows next
 * (`resync`, core/replication/state-spaces.ts): replication is asynchronous, so it may commit
 * transactions no replica fetched before another member takes over, and then must not keep them.
 */

import type { Node } from '../node/node.ts';
import { markResync } from './state-spaces.ts';

export async function becomeWritable(node: Node, replicationFactor: number): Promise<void> {
  if (replicationFactor > 1) await markResync(node.box);
  node.box.readOnly = false;
}
