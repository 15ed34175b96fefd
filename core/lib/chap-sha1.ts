/**
 * chap-sha1, Tarantool's password authentication. The server stores
 * `base64(sha1(sha1(password)))`; the client proves knowledge of sha1(password) without sending it:
 *   client:  h1 = sha1(pw), h2 = sha1(h1), scramble = h1 XOR sha1(salt[0:20] || h2)
 *   server:  c = scramble XOR sha1(salt[0:20] || h2_stored); accept iff sha1(c) == h2_stored
 */

import { assert } from './assert.ts';
import { decodeBase64, encodeBase64 } from './base64.ts';
import { concatBytes, equalBytes, utf8 } from './bytes.ts';
import { sha1, SHA1_DIGEST_BYTES } from './sha1.ts';

/** Bytes of the greeting salt chap-sha1 uses, and of the scramble. */
export const SCRAMBLE_SALT_BYTES = 20;
export const SCRAMBLE_BYTES = 20;

/** What `_user` keeps for a password: `base64(sha1(sha1(password)))`, 28 chars. */
export function chapSha1PasswordHash(password: string): string {
  return encodeBase64(sha1(sha1(utf8(password))));
}

export function chapSha1Scramble(salt: Uint8Array, password: string): Uint8Array {
  assert(salt.length >= SCRAMBLE_SALT_BYTES, 'salt too short');
  const h1 = sha1(utf8(password));
  const h2 = sha1(h1);
  const mask = sha1(concatBytes([salt.subarray(0, SCRAMBLE_SALT_BYTES), h2]));
  return xor(h1, mask);
}

/** Server side: does `scramble` prove the password behind `storedHash` for this `salt`? */
export function chapSha1Check(salt: Uint8Array, scramble: Uint8Array, storedHash: string): boolean {
  assert(salt.length >= SCRAMBLE_SALT_BYTES, 'salt too short');
  if (scramble.length !== SCRAMBLE_BYTES) return false;
  const h2 = decodeBase64(storedHash);
  if (h2 === undefined || h2.length !== SHA1_DIGEST_BYTES) return false;
  const mask = sha1(concatBytes([salt.subarray(0, SCRAMBLE_SALT_BYTES), h2]));
  const h1 = xor(scramble, mask);
  return equalBytes(sha1(h1), h2);
}

function xor(a: Uint8Array, b: Uint8Array): Uint8Array {
  assert(a.length === b.length, 'xor of unequal lengths');
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}
