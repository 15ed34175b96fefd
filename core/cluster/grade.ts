/**
 * Grades: where an instance is (current) and where it is asked to be (target), each with an
 * incarnation. Every restart asks for `Online` with a fresh incarnation; the governor walks the
 * current grade up to the target one step at a time, re-doing the steps for each incarnation.
 *
 *   Offline -> RaftSynced -> Replicated -> ShardingInitialized -> Online
 *   any -> Offline (downgrade), any -> Expelled (final)
 */

export const CURRENT_GRADES = ['Offline', 'RaftSynced', 'Replicated', 'ShardingInitialized', 'Online', 'Expelled'] as const;
export type CurrentGradeVariant = (typeof CURRENT_GRADES)[number];

export const TARGET_GRADES = ['Offline', 'Online', 'Expelled'] as const;
export type TargetGradeVariant = (typeof TARGET_GRADES)[number];

export interface Grade<V extends string> {
  readonly variant: V;
  readonly incarnation: number;
}
export type CurrentGrade = Grade<CurrentGradeVariant>;
export type TargetGrade = Grade<TargetGradeVariant>;

export function grade<V extends string>(variant: V, incarnation: number): Grade<V> {
  return { variant, incarnation };
}

export function isCurrentGrade(v: unknown): v is CurrentGradeVariant {
  return typeof v === 'string' && (CURRENT_GRADES as readonly string[]).includes(v);
}

export function isTargetGrade(v: unknown): v is TargetGradeVariant {
  return typeof v === 'string' && (TARGET_GRADES as readonly string[]).includes(v);
}

/** The incarnation a new target grade gets: Online starts a new incarnation, others keep it. */
export function nextTargetIncarnation(variant: TargetGradeVariant, current: CurrentGrade, target: TargetGrade): number {
  return variant === 'Online' ? target.incarnation + 1 : current.incarnation;
}

/** The instance restarted (or was re-targeted Online) since the governor last brought it up. */
export function isReincarnated(current: CurrentGrade, target: TargetGrade): boolean {
  return current.incarnation < target.incarnation;
}

/** Instances the cluster may still talk to: not asked to go away. */
export function mayRespond(target: TargetGrade): boolean {
  return target.variant !== 'Offline' && target.variant !== 'Expelled';
}

export function gradeEquals(a: Grade<string>, b: Grade<string>): boolean {
  return a.variant === b.variant && a.incarnation === b.incarnation;
}

export function formatGrade(g: Grade<string>): string {
  return `${g.variant}(${g.incarnation})`;
}
