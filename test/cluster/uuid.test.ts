import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { md5 } from '../../core/lib/md5.ts';
import { toHex, utf8 } from '../../core/lib/bytes.ts';
import { instanceUuid, replicasetUuid } from '../../core/cluster/uuid.ts';

describe('name-based UUIDs', () => {
  it('md5 matches node:crypto on arbitrary input (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(toHex(md5(bytes))).toBe(createHash('md5').update(bytes).digest('hex'));
      }),
      { numRuns: 500 },
    );
    expect(toHex(md5(utf8('')))).toBe('d41d8cd98f00b204e9800998ecf8427e');
  });

  it('derives the replicaset UUID Picodata derives for r1', () => {
    expect(replicasetUuid('r1')).toBe('e0df68c5-e7f9-395f-86b3-30ad9e1b7b07');
  });

  it('derives version-3 UUIDs that differ between instance and replicaset namespaces', () => {
    const i1 = instanceUuid('i1');
    expect(i1).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-3[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(i1).not.toBe(replicasetUuid('i1'));
    expect(instanceUuid('i1')).toBe(i1);
  });
});
