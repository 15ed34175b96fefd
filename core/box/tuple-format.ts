/**
 * The checks a tuple must pass to enter a space: the space's field count, its format (types,
 * nullability) and the types of every index part. Compiled once per schema change.
 */

import type { MpValue } from '../codec/msgpack.ts';
import { boxErrors } from './errors.ts';
import { type FieldType, valueMatchesType } from './field-types.ts';
import type { IndexDef, SpaceDef } from './space-def.ts';

interface FieldCheck {
  readonly fieldNo: number;
  readonly type: FieldType;
  readonly isNullable: boolean;
}

export class TupleFormat {
  private readonly checks: FieldCheck[];
  private readonly exactFieldCount: number;
  /** Fields that must be present (non-nullable in the format or in some index part). */
  private readonly requiredFieldCount: number;

  constructor(space: SpaceDef, indexes: readonly IndexDef[]) {
    this.exactFieldCount = space.fieldCount;
    const checks: FieldCheck[] = [];
    let required = 0;
    space.format.forEach((f, fieldNo) => {
      if (f.type !== 'any' || !f.isNullable) checks.push({ fieldNo, type: f.type, isNullable: f.isNullable });
      if (!f.isNullable) required = Math.max(required, fieldNo + 1);
    });
    for (const index of indexes) {
      for (const p of index.parts) {
        checks.push({ fieldNo: p.fieldNo, type: p.type, isNullable: p.isNullable });
        if (!p.isNullable) required = Math.max(required, p.fieldNo + 1);
      }
    }
    checks.sort((a, b) => a.fieldNo - b.fieldNo);
    this.checks = checks;
    this.requiredFieldCount = required;
  }

  /**
   * Throws the BoxError Tarantool raises for the first problem found, in its order: the exact
   * field count, then the types of the fields present, then the first required field missing.
   */
  validate(tuple: readonly MpValue[]): void {
    if (!Array.isArray(tuple)) throw boxErrors.tupleNotArray();
    const n = tuple.length;
    if (this.exactFieldCount !== 0 && n !== this.exactFieldCount) throw boxErrors.exactFieldCount(n, this.exactFieldCount);
    const checks = this.checks;
    for (let i = 0; i < checks.length; i++) {
      const c = checks[i]!;
      if (c.fieldNo >= n) break; // sorted by field: the rest are missing, reported below
      const v = tuple[c.fieldNo];
      if (v === null || v === undefined) {
        if (!c.isNullable) throw boxErrors.fieldType(c.fieldNo + 1, c.type);
      } else if (!valueMatchesType(v, c.type)) {
        throw boxErrors.fieldType(c.fieldNo + 1, c.type);
      }
    }
    if (n < this.requiredFieldCount) this.reportMissing(n);
  }

  private reportMissing(fieldCount: number): void {
    for (const c of this.checks) {
      if (!c.isNullable && c.fieldNo >= fieldCount) throw boxErrors.fieldMissing(c.fieldNo + 1);
    }
  }
}
