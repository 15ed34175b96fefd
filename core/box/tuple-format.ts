/**
 * The checks a tuple must pass to enter a space: the space's field count, its format (types,
 * nullability) and the types of every index part. Compiled once per schema change.
 */

import type { MpValue } from '../codec/msgpack.ts';
import { boxErrors } from './errors.ts';
import { type FieldType, mpTypeName, valueMatchesType } from './field-types.ts';
import type { IndexDef, SpaceDef } from './space-def.ts';

interface FieldCheck {
  readonly fieldNo: number;
  readonly type: FieldType;
  readonly isNullable: boolean;
  readonly label: string;
}

export class TupleFormat {
  private readonly checks: FieldCheck[];
  private readonly exactFieldCount: number;
  /** Fields that must be present (non-nullable in the format or in some index part). */
  private readonly requiredFieldCount: number;
  private readonly requiredLabels: string[];

  constructor(space: SpaceDef, indexes: readonly IndexDef[]) {
    this.exactFieldCount = space.fieldCount;
    const checks: FieldCheck[] = [];
    const labels: string[] = [];
    const label = (fieldNo: number): string => {
      const name = space.format[fieldNo]?.name;
      return name === undefined ? String(fieldNo + 1) : `${fieldNo + 1} (${name})`;
    };
    let required = 0;
    space.format.forEach((f, fieldNo) => {
      labels[fieldNo] = label(fieldNo);
      if (f.type !== 'any' || !f.isNullable) checks.push({ fieldNo, type: f.type, isNullable: f.isNullable, label: label(fieldNo) });
      if (!f.isNullable) required = Math.max(required, fieldNo + 1);
    });
    for (const index of indexes) {
      for (const p of index.parts) {
        labels[p.fieldNo] = label(p.fieldNo);
        checks.push({ fieldNo: p.fieldNo, type: p.type, isNullable: p.isNullable, label: label(p.fieldNo) });
        if (!p.isNullable) required = Math.max(required, p.fieldNo + 1);
      }
    }
    checks.sort((a, b) => a.fieldNo - b.fieldNo);
    this.checks = checks;
    this.requiredFieldCount = required;
    this.requiredLabels = labels;
  }

  /** Throws the BoxError Tarantool raises for the first problem found. */
  validate(tuple: readonly MpValue[]): void {
    if (!Array.isArray(tuple)) throw boxErrors.tupleNotArray();
    const n = tuple.length;
    if (this.exactFieldCount !== 0 && n !== this.exactFieldCount) throw boxErrors.exactFieldCount(n, this.exactFieldCount);
    if (n < this.requiredFieldCount) this.reportMissing(tuple);
    const checks = this.checks;
    for (let i = 0; i < checks.length; i++) {
      const c = checks[i]!;
      const v = tuple[c.fieldNo];
      if (v === null || v === undefined) {
        if (c.isNullable || c.fieldNo >= n) continue;
        throw boxErrors.fieldType(c.label, c.type, 'nil');
      }
      if (!valueMatchesType(v, c.type)) throw boxErrors.fieldType(c.label, c.type, mpTypeName(v));
    }
  }

  private reportMissing(tuple: readonly MpValue[]): void {
    for (const c of this.checks) {
      if (!c.isNullable && c.fieldNo >= tuple.length) throw boxErrors.fieldMissing(this.requiredLabels[c.fieldNo] ?? String(c.fieldNo + 1));
    }
  }
}
