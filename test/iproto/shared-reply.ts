/** Runs a write*Reply function of core/iproto/response.ts on the shared arena and returns the frame. */

import { replyArena, type ReplyArena } from '../../core/iproto/reply-arena.ts';

export function sharedReply(write: (w: ReplyArena) => void): Uint8Array {
  write(replyArena);
  return replyArena.finish();
}
