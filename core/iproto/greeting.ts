/**
 * The 128-byte iproto greeting a server sends on accept:
 *   line 1 (64 bytes): `Tarantool <version> (Binary) <instance uuid>`, space-padded, `\n` at 63;
 *   line 2 (64 bytes): base64 of the random salt (32 bytes -> 44 chars), space-padded, `\n` at 127.
 * Connectors read the salt at a fixed offset (tarantool-driver slices bytes 64..108), and net.box
 * parses the version with `%u.%u.%u`, so the layout is exact.
 */

import { assert } from '../lib/assert.ts';
import { decodeBase64, encodeBase64 } from '../lib/base64.ts';
import { fromUtf8, utf8 } from '../lib/bytes.ts';
import { GREETING_BYTES, GREETING_LINE_BYTES, GREETING_SALT_BYTES, SCRAMBLE_SALT_BYTES } from './constants.ts';

export interface Greeting {
  /** `1.10.15` */
  readonly version: string;
  /** `Binary` for iproto, `Lua console` for the admin console. */
  readonly protocol: string;
  readonly uuid: string;
  readonly salt: Uint8Array;
}

const SPACE = 0x20;
const NEWLINE = 0x0a;
const FIRST_LINE = /^Tarantool (\d+\.\d+\.\d+)[^ ]* \(([^)]+)\) ?([0-9a-fA-F-]{36})?/;

export function buildGreeting(version: string, uuid: string, salt: Uint8Array): Uint8Array {
  assert(salt.length === GREETING_SALT_BYTES, `salt must be ${GREETING_SALT_BYTES} bytes`);
  assert(/^\d+\.\d+\.\d+$/.test(version), `version ${version} must be X.Y.Z`);
  const out = new Uint8Array(GREETING_BYTES).fill(SPACE);
  const head = utf8(`Tarantool ${version} (Binary) ${uuid}`);
  const saltText = utf8(encodeBase64(salt));
  assert(head.length < GREETING_LINE_BYTES, 'greeting first line too long');
  assert(saltText.length === 44, 'base64 of 32 bytes is 44 chars');
  out.set(head, 0);
  out[GREETING_LINE_BYTES - 1] = NEWLINE;
  out.set(saltText, GREETING_LINE_BYTES);
  out[GREETING_BYTES - 1] = NEWLINE;
  return out;
}

/** Parses a greeting; undefined when it is not an iproto greeting with a usable salt. */
export function parseGreeting(bytes: Uint8Array): Greeting | undefined {
  if (bytes.length !== GREETING_BYTES) return undefined;
  if (bytes[GREETING_LINE_BYTES - 1] !== NEWLINE || bytes[GREETING_BYTES - 1] !== NEWLINE) return undefined;
  const first = fromUtf8(bytes.subarray(0, GREETING_LINE_BYTES - 1));
  const match = FIRST_LINE.exec(first);
  if (match === null) return undefined;
  const saltText = fromUtf8(bytes.subarray(GREETING_LINE_BYTES, GREETING_BYTES - 1)).trim();
  const salt = decodeBase64(saltText);
  if (salt === undefined || salt.length < SCRAMBLE_SALT_BYTES) return undefined;
  return { version: match[1]!, protocol: match[2]!, uuid: match[3] ?? '', salt };
}
