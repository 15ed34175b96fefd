/**
 * Membership changes (etcd's confchange package): ConfChangeV2 in its Auto/Implicit/Explicit
 * transitions, joint consensus (Raft thesis §4.3), and rebuilding a configuration from a
 * ConfState. Every function returns a new configuration and progress map; nothing is mutated.
 */
import { assert } from '../lib/assert.ts';
import { Progress } from './progress.ts';
import { type ProgressMap, type TrackerConfig, isJoint } from './tracker.ts';
import { type ConfState, type LogIndex, type RaftId, asLogIndex, asRaftId } from './types.ts';

export type ConfChangeType = 'addNode' | 'addLearnerNode' | 'removeNode';

export interface ConfChangeSingle {
  readonly type: ConfChangeType;
  readonly nodeId: RaftId;
}

/**
 * `auto`: a single change is applied directly; several go through a joint config that the leader
 * leaves by itself. `implicit`: always joint, left automatically. `explicit`: always joint, left
 * only when the application proposes an empty ConfChangeV2.
 */
export type ConfChangeTransition = 'auto' | 'implicit' | 'explicit';

export interface ConfChangeV2 {
  readonly transition: ConfChangeTransition;
  readonly changes: readonly ConfChangeSingle[];
  /** Opaque application bytes carried along with the change. */
  readonly context: Uint8Array;
}

/** The empty change that leaves a joint configuration. */
export const LEAVE_JOINT: ConfChangeV2 = { transition: 'auto', changes: [], context: new Uint8Array(0) };

export function isLeaveJoint(change: ConfChangeV2): boolean {
  return change.transition === 'auto' && change.changes.length === 0;
}

/** Checks a change before it is proposed; returns what is wrong with it, if anything. */
export function validateConfChange(change: ConfChangeV2): string | undefined {
  if (!TRANSITIONS.includes(change.transition)) return `unknown transition ${String(change.transition)}`;
  for (const single of change.changes) {
    if (!TYPES.includes(single.type)) return `unknown change type ${String(single.type)}`;
    if (!Number.isSafeInteger(single.nodeId) || single.nodeId <= 0) return `invalid node id ${single.nodeId}`;
  }
  if (change.transition !== 'auto' && change.changes.length === 0) return 'an empty change must use transition auto';
  return undefined;
}

/** Whether applying `change` enters a joint config, and if so whether it leaves it by itself. */
export function entersJoint(change: ConfChangeV2): { joint: boolean; autoLeave: boolean } {
  const joint = change.transition !== 'auto' || change.changes.length > 1;
  return { joint, autoLeave: joint && change.transition !== 'explicit' };
}

export type ConfChangeResult =
  | { readonly ok: true; readonly config: TrackerConfig; readonly progress: ProgressMap }
  | { readonly ok: false; readonly error: string };

/** What a changer needs besides the current config: where new followers start. */
export interface ChangerContext {
  readonly config: TrackerConfig;
  readonly progress: ProgressMap;
  readonly lastIndex: LogIndex;
  readonly maxInflightMsgs: number;
}

interface Draft {
  incoming: Set<RaftId>;
  outgoing: Set<RaftId>;
  learners: Set<RaftId>;
  learnersNext: Set<RaftId>;
  autoLeave: boolean;
  progress: Map<RaftId, Progress>;
}

function draftOf(context: ChangerContext): Draft {
  const progress = new Map<RaftId, Progress>();
  for (const [id, pr] of context.progress) progress.set(id, pr.clone());
  return {
    incoming: new Set(context.config.voters.incoming),
    outgoing: new Set(context.config.voters.outgoing),
    learners: new Set(context.config.learners),
    learnersNext: new Set(context.config.learnersNext),
    autoLeave: context.config.autoLeave,
    progress,
  };
}

function finish(draft: Draft): ConfChangeResult {
  const config: TrackerConfig = {
    voters: { incoming: draft.incoming, outgoing: draft.outgoing },
    learners: draft.learners,
    learnersNext: draft.learnersNext,
    autoLeave: draft.autoLeave,
  };
  const problem = checkInvariants(config, draft.progress);
  if (problem !== undefined) return { ok: false, error: problem };
  return { ok: true, config, progress: draft.progress };
}

/** Returns a description of the first broken invariant, or undefined. */
export function checkInvariants(config: TrackerConfig, progress: ProgressMap): string | undefined {
  const all = [...config.voters.incoming, ...config.voters.outgoing, ...config.learners, ...config.learnersNext];
  for (const id of all) if (!progress.has(id)) return `no progress for ${id}`;
  for (const id of config.learnersNext) {
    if (!config.voters.outgoing.has(id)) return `${id} is in learnersNext but not an outgoing voter`;
    if (progress.get(id)!.isLearner) return `${id} is in learnersNext but already marked learner`;
  }
  for (const id of config.learners) {
    if (config.voters.incoming.has(id)) return `${id} is both learner and incoming voter`;
    if (config.voters.outgoing.has(id)) return `${id} is both learner and outgoing voter`;
    if (!progress.get(id)!.isLearner) return `${id} is a learner but not marked learner`;
  }
  if (!isJoint(config)) {
    if (config.learnersNext.size > 0) return 'learnersNext must be empty outside a joint config';
    if (config.autoLeave) return 'autoLeave must be false outside a joint config';
  }
  return undefined;
}

function initProgress(draft: Draft, context: ChangerContext, id: RaftId, isLearner: boolean): void {
  // Start probing at the leader's last index; the follower's rejection hint will correct it.
  const progress = new Progress(asLogIndex(Math.max(context.lastIndex, 1)), context.maxInflightMsgs, isLearner);
  // A fresh member counts as active so check-quorum does not depose the leader before it talks.
  progress.recentActive = true;
  draft.progress.set(id, progress);
  if (isLearner) draft.learners.add(id);
  else draft.incoming.add(id);
}

function makeVoter(draft: Draft, context: ChangerContext, id: RaftId): void {
  const progress = draft.progress.get(id);
  if (progress === undefined) return initProgress(draft, context, id, false);
  progress.isLearner = false;
  draft.learners.delete(id);
  draft.learnersNext.delete(id);
  draft.incoming.add(id);
}

function makeLearner(draft: Draft, context: ChangerContext, id: RaftId): void {
  const progress = draft.progress.get(id);
  if (progress === undefined) return initProgress(draft, context, id, true);
  if (progress.isLearner) return;
  remove(draft, id);
  draft.progress.set(id, progress);
  // Still an outgoing voter: it becomes a learner only when the joint config is left.
  if (draft.outgoing.has(id)) {
    draft.learnersNext.add(id);
  } else {
    progress.isLearner = true;
    draft.learners.add(id);
  }
}

function remove(draft: Draft, id: RaftId): void {
  if (!draft.progress.has(id)) return;
  draft.incoming.delete(id);
  draft.learners.delete(id);
  draft.learnersNext.delete(id);
  // An outgoing voter keeps its progress: it still votes until the joint config is left.
  if (!draft.outgoing.has(id)) draft.progress.delete(id);
}

function applyChanges(draft: Draft, context: ChangerContext, changes: readonly ConfChangeSingle[]): string | undefined {
  for (const change of changes) {
    if (!Number.isSafeInteger(change.nodeId) || change.nodeId <= 0) return `invalid node id ${change.nodeId}`;
    switch (change.type) {
      case 'addNode':
        makeVoter(draft, context, change.nodeId);
        break;
      case 'addLearnerNode':
        makeLearner(draft, context, change.nodeId);
        break;
      case 'removeNode':
        remove(draft, change.nodeId);
        break;
      default:
        return unreachableChange(change.type);
    }
  }
  if (draft.incoming.size === 0) return 'removed all voters';
  return undefined;
}

function unreachableChange(type: never): string {
  return `unknown conf change type ${String(type)}`;
}

/** Applies at most one voter change directly (no joint config). */
export function simpleChange(context: ChangerContext, changes: readonly ConfChangeSingle[]): ConfChangeResult {
  if (isJoint(context.config)) return { ok: false, error: 'can\'t apply simple config change in joint config' };
  const draft = draftOf(context);
  const problem = applyChanges(draft, context, changes);
  if (problem !== undefined) return { ok: false, error: problem };
  let changed = 0;
  for (const id of context.config.voters.incoming) if (!draft.incoming.has(id)) changed++;
  for (const id of draft.incoming) if (!context.config.voters.incoming.has(id)) changed++;
  if (changed > 1) return { ok: false, error: 'more than one voter changed without entering joint config' };
  return finish(draft);
}

/** Enters a joint config: outgoing = current voters, incoming = current voters with `changes`. */
export function enterJoint(
  context: ChangerContext,
  autoLeave: boolean,
  changes: readonly ConfChangeSingle[],
): ConfChangeResult {
  if (isJoint(context.config)) return { ok: false, error: 'config is already joint' };
  if (context.config.voters.incoming.size === 0) return { ok: false, error: 'can\'t make a zero-voter config joint' };
  const draft = draftOf(context);
  draft.outgoing = new Set(draft.incoming);
  const problem = applyChanges(draft, context, changes);
  if (problem !== undefined) return { ok: false, error: problem };
  draft.autoLeave = autoLeave;
  return finish(draft);
}

/** Leaves a joint config: outgoing voters drop out, learnersNext become learners. */
export function leaveJoint(context: ChangerContext): ConfChangeResult {
  if (!isJoint(context.config)) return { ok: false, error: 'can\'t leave a non-joint config' };
  const draft = draftOf(context);
  for (const id of draft.learnersNext) {
    draft.learners.add(id);
    draft.progress.get(id)!.isLearner = true;
  }
  draft.learnersNext = new Set();
  for (const id of draft.outgoing) {
    if (!draft.incoming.has(id) && !draft.learners.has(id)) draft.progress.delete(id);
  }
  draft.outgoing = new Set();
  draft.autoLeave = false;
  return finish(draft);
}

/** Applies a ConfChangeV2 the way its transition asks. */
export function applyConfChangeV2(context: ChangerContext, change: ConfChangeV2): ConfChangeResult {
  if (isLeaveJoint(change)) return leaveJoint(context);
  const { joint, autoLeave } = entersJoint(change);
  if (joint) return enterJoint(context, autoLeave, change.changes);
  return simpleChange(context, change.changes);
}

/**
 * Rebuilds the configuration described by `confState` from nothing, by replaying changes:
 * first the outgoing voters as a simple config, then (if joint) entering the joint config.
 */
export function restoreConfState(base: ChangerContext, confState: ConfState): ConfChangeResult {
  let context: ChangerContext = base;
  const step = (result: ConfChangeResult): string | undefined => {
    if (!result.ok) return result.error;
    context = { ...context, config: result.config, progress: result.progress };
    return undefined;
  };
  const adds = (ids: readonly RaftId[], type: ConfChangeType): ConfChangeSingle[] =>
    ids.map((nodeId) => ({ type, nodeId }));
  if (confState.votersOutgoing.length === 0) {
    for (const change of [...adds(confState.voters, 'addNode'), ...adds(confState.learners, 'addLearnerNode')]) {
      const problem = step(simpleChange(context, [change]));
      if (problem !== undefined) return { ok: false, error: problem };
    }
  } else {
    for (const change of adds(confState.votersOutgoing, 'addNode')) {
      const problem = step(simpleChange(context, [change]));
      if (problem !== undefined) return { ok: false, error: problem };
    }
    const incoming = [
      ...adds(confState.votersOutgoing, 'removeNode'),
      ...adds(confState.voters, 'addNode'),
      ...adds(confState.learners, 'addLearnerNode'),
      ...adds(confState.learnersNext, 'addLearnerNode'),
    ];
    const problem = step(enterJoint(context, confState.autoLeave, incoming));
    if (problem !== undefined) return { ok: false, error: problem };
  }
  return { ok: true, config: context.config, progress: context.progress };
}

// ---------------------------------------------------------------------------------------------
// Encoding: ConfChangeV2 travels in `confChange` entries as bytes. A tiny fixed layout:
//   u8 version(1) | u8 transition | u32 count | count * (u8 type, f64 nodeId) | u32 len | context
// ---------------------------------------------------------------------------------------------

const CODEC_VERSION = 1;
const TRANSITIONS: readonly ConfChangeTransition[] = ['auto', 'implicit', 'explicit'];
const TYPES: readonly ConfChangeType[] = ['addNode', 'addLearnerNode', 'removeNode'];

export function encodeConfChange(change: ConfChangeV2): Uint8Array {
  const size = 1 + 1 + 4 + change.changes.length * 9 + 4 + change.context.length;
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  let at = 0;
  view.setUint8(at++, CODEC_VERSION);
  view.setUint8(at++, TRANSITIONS.indexOf(change.transition));
  view.setUint32(at, change.changes.length);
  at += 4;
  for (const single of change.changes) {
    view.setUint8(at++, TYPES.indexOf(single.type));
    view.setFloat64(at, single.nodeId);
    at += 8;
  }
  view.setUint32(at, change.context.length);
  at += 4;
  bytes.set(change.context, at);
  assert(at + change.context.length === size, 'conf change encoding size mismatch');
  return bytes;
}

/** Decodes bytes written by `encodeConfChange`; malformed bytes are a bug (entries are ours). */
export function decodeConfChange(bytes: Uint8Array): ConfChangeV2 {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  assert(view.getUint8(at++) === CODEC_VERSION, 'unknown conf change encoding version');
  const transition = TRANSITIONS[view.getUint8(at++)];
  assert(transition !== undefined, 'bad conf change transition');
  const count = view.getUint32(at);
  at += 4;
  const changes: ConfChangeSingle[] = [];
  for (let i = 0; i < count; i++) {
    const type = TYPES[view.getUint8(at++)];
    assert(type !== undefined, 'bad conf change type');
    changes.push({ type, nodeId: asRaftId(view.getFloat64(at)) });
    at += 8;
  }
  const length = view.getUint32(at);
  at += 4;
  assert(at + length === bytes.length, 'conf change encoding has trailing or missing bytes');
  return { transition, changes, context: bytes.slice(at, at + length) };
}
