import type { Connection } from '../../core/env/network.ts';
import { toHex } from '../../core/lib/bytes.ts';

/**
 * A connection without a network: frames go in through `feed`, and the frames a session sends
 * are recorded as hex (no output arena, so replies come through `send` from the shared arena).
 */
export class RecordingConnection implements Connection {
  readonly remoteAddress = 'recording';
  readonly greeting = new Uint8Array(0);
  readonly isClosed = false;
  readonly sent: string[] = [];
  private handler: ((frame: Uint8Array) => void) | null = null;
  send(frame: Uint8Array): boolean {
    this.sent.push(toHex(frame));
    return true;
  }
  onFrame(handler: (frame: Uint8Array) => void): void {
    this.handler = handler;
  }
  onClose(): void {}
  close(): void {}
  feed(frame: Uint8Array): void {
    this.handler!(frame);
  }
}
