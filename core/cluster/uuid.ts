/**
 * Instance and replicaset UUIDs are name-based (version 3, MD5), so every instance derives the
 * same UUID for the same id without coordination: instance = v3(NS_INSTANCE, id),
 * replicaset = v3(NS_REPLICASET, id), where the namespaces are themselves v3 of the nil UUID.
 */

import { toHex, utf8 } from '../lib/bytes.ts';
import { md5 } from '../lib/md5.ts';

const NIL_UUID = new Uint8Array(16);

function uuidBytes(text: string): Uint8Array {
  const hex = text.replaceAll('-', '');
  return Uint8Array.from({ length: 16 }, (_, i) => parseInt(hex.slice(2 * i, 2 * i + 2), 16));
}

function format(bytes: Uint8Array): string {
  const hex = toHex(bytes);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function v3Bytes(namespace: Uint8Array, name: string): Uint8Array {
  const nameBytes = utf8(name);
  const input = new Uint8Array(16 + nameBytes.length);
  input.set(namespace);
  input.set(nameBytes, 16);
  const hash = md5(input);
  hash[6] = (hash[6]! & 0x0f) | 0x30;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  return hash;
}

export function uuidV3(namespace: string, name: string): string {
  return format(v3Bytes(uuidBytes(namespace), name));
}

const NS_INSTANCE = format(v3Bytes(NIL_UUID, 'INSTANCE_UUID'));
const NS_REPLICASET = format(v3Bytes(NIL_UUID, 'REPLICASET_UUID'));

export function instanceUuid(instanceId: string): string {
  return uuidV3(NS_INSTANCE, instanceId);
}

export function replicasetUuid(replicasetId: string): string {
  return uuidV3(NS_REPLICASET, replicasetId);
}
