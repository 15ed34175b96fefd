/**
 * Data-driven scenario scripts in the style of etcd-io/raft's testdata/*.txt. Each file is a
 * sequence of blocks:
 *
 *   command arg arg key=value
 *   ----
 *   expected output
 *   (blank line)
 *
 * The output shows every Ready a node handles (in contract order: what it persists, what it
 * sends, what it applies) and every message delivered, so a script reads like a story and a
 * behaviour change shows up as a reviewable diff. Run with RAFT_REWRITE=1 to regenerate the
 * expected outputs, then review `git diff test/raft/testdata`.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assert } from '../../core/lib/assert.ts';
import { type ConfChangeV2, decodeConfChange } from '../../core/raft/confchange.ts';
import type { RaftMessage } from '../../core/raft/messages.ts';
import type { Ready } from '../../core/raft/raw-node.ts';
import type { Entry } from '../../core/raft/types.ts';
import { TestNode, bytes, id } from './harness.ts';

const TESTDATA = join(import.meta.dirname, 'testdata');

interface Block {
  readonly command: string;
  readonly expected: string;
}

function parseScript(text: string): Block[] {
  const blocks: Block[] = [];
  const lines = text.split('\n');
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === '' || line.startsWith('#')) {
      i++;
      continue;
    }
    assert(lines[i + 1] === '----', `expected ---- after "${line}" at line ${i + 1}`);
    i += 2;
    const expected: string[] = [];
    while (i < lines.length && lines[i] !== '') expected.push(lines[i++]!);
    blocks.push({ command: line, expected: expected.join('\n') });
  }
  return blocks;
}

function formatScript(blocks: readonly { command: string; expected: string }[], header: string): string {
  return `${header}${blocks.map((b) => `${b.command}\n----\n${b.expected}\n`).join('\n')}`;
}

function entryText(entry: Entry): string {
  if (entry.kind === 'confChange') {
    const change = decodeConfChange(entry.data);
    const letters = { addNode: 'v', addLearnerNode: 'l', removeNode: 'r' } as const;
    const changes = change.changes.map((c) => `${letters[c.type]}${c.nodeId}`).join(' ');
    return `${entry.term}/${entry.index} conf ${change.transition}${changes === '' ? ' (leave joint)' : ` ${changes}`}`;
  }
  const data = new TextDecoder().decode(entry.data);
  return `${entry.term}/${entry.index}${data === '' ? '' : ` "${data}"`}`;
}

export function messageText(m: RaftMessage): string {
  const head = `${m.from}->${m.to} ${m.type} term=${m.term}`;
  switch (m.type) {
    case 'append':
      return `${head} prev=(${m.prevTerm},${m.prevIndex}) commit=${m.commit} entries=[${m.entries.map(entryText).join(', ')}]`;
    case 'appendResponse':
      return m.reject ? `${head} reject index=${m.index} hint=(${m.hintTerm},${m.hintIndex})` : `${head} index=${m.index}`;
    case 'vote':
    case 'preVote':
      return `${head} last=(${m.lastTerm},${m.lastIndex})${m.transfer ? ' transfer' : ''}`;
    case 'voteResponse':
    case 'preVoteResponse':
      return `${head}${m.reject ? ' reject' : ''}`;
    case 'heartbeat':
      return `${head} commit=${m.commit}`;
    case 'snapshot':
      return `${head} snapshot=(${m.snapshot.term},${m.snapshot.index})`;
    case 'readIndexResponse':
      return `${head} index=${m.index}`;
    default:
      return head;
  }
}

/** The world a script acts on: nodes, a FIFO network, and partitions. */
class ScriptEnv {
  nodes = new Map<number, TestNode>();
  private queue: RaftMessage[] = [];
  private readonly cut = new Set<number>();
  private out: string[] = [];

  run(line: string): string {
    this.out = [];
    const [command, ...rest] = line.split(/\s+/);
    const args = rest.filter((a) => !a.includes('='));
    const options = Object.fromEntries(rest.filter((a) => a.includes('=')).map((a) => a.split('=') as [string, string]));
    this.dispatch(command!, args.map(Number), args, options);
    return this.out.length === 0 ? 'ok' : this.out.join('\n');
  }

  private dispatch(command: string, numbers: number[], args: string[], options: Record<string, string>): void {
    switch (command) {
      case 'add-nodes': return this.addNodes(numbers[0]!, options);
      case 'campaign': return this.node(numbers[0]!).node.campaign();
      case 'propose': {
        const error = this.node(numbers[0]!).node.propose(bytes(args[1]!));
        if (error !== undefined) this.out.push(`error: ${JSON.stringify(error)}`);
        return;
      }
      case 'tick': {
        for (let i = 0; i < (numbers[1] ?? 1); i++) this.node(numbers[0]!).node.tick();
        return;
      }
      case 'tick-election': {
        const raft = this.node(numbers[0]!).raft;
        for (let i = 0; i < raft.randomizedElectionTicks; i++) raft.tick();
        return;
      }
      case 'transfer-leader': {
        const error = this.node(numbers[0]!).node.transferLeader(id(numbers[1]!));
        if (error !== undefined) this.out.push(`error: ${JSON.stringify(error)}`);
        return;
      }
      case 'propose-conf-change': return this.proposeConfChange(numbers[0]!, args.slice(1), options);
      case 'compact': return this.compact(numbers[0]!);
      case 'isolate': return void this.cut.add(numbers[0]!);
      case 'recover': return this.cut.clear();
      case 'process-ready': return this.processReady(numbers[0]!);
      case 'deliver-msgs': return this.deliver();
      case 'stabilize': return this.stabilize();
      case 'status': return this.status();
      case 'log': return this.printLog(numbers[0]!);
      default: assert(false, `unknown command ${command}`);
    }
  }

  private node(nodeId: number): TestNode {
    const node = this.nodes.get(nodeId);
    assert(node !== undefined, `no node ${nodeId}`);
    return node;
  }

  /** `v4` adds voter 4, `l4` adds learner 4, `r4` removes 4. */
  private proposeConfChange(nodeId: number, changes: string[], options: Record<string, string>): void {
    const types = { v: 'addNode', l: 'addLearnerNode', r: 'removeNode' } as const;
    const change: ConfChangeV2 = {
      transition: (options['transition'] ?? 'auto') as ConfChangeV2['transition'],
      changes: changes.map((c) => ({ type: types[c[0] as keyof typeof types], nodeId: id(Number(c.slice(1))) })),
      context: new Uint8Array(0),
    };
    const error = this.node(nodeId).node.proposeConfChange(change);
    if (error !== undefined) this.out.push(`error: ${JSON.stringify(error)}`);
  }

  /** Snapshot at the applied index and drop the log up to it. */
  private compact(nodeId: number): void {
    const node = this.node(nodeId);
    const applied = node.raft.log.applied;
    node.node.createSnapshot(bytes(`state@${applied}`));
    node.node.compact(applied);
    this.out.push(`snapshot and compact at ${applied}`);
  }

  /** `voters=N` makes only nodes 1..N members; the rest wait to be added. */
  private addNodes(count: number, options: Record<string, string>): void {
    const all = Array.from({ length: count }, (_, i) => i + 1);
    const peers = all.slice(0, Number(options['voters'] ?? count));
    for (const nodeId of all) {
      this.nodes.set(nodeId, new TestNode(nodeId, peers, {
        preVote: options['preVote'] === 'true',
        checkQuorum: options['checkQuorum'] === 'true',
        electionTicks: Number(options['electionTicks'] ?? 10),
        heartbeatTicks: Number(options['heartbeatTicks'] ?? 1),
        maxSizePerMsgBytes: options['maxSizePerMsgBytes'] === undefined ? Infinity : Number(options['maxSizePerMsgBytes']),
      }));
    }
  }

  /** Handles one node's pending Ready, printing it in the order the contract demands. */
  private processReady(nodeId: number): void {
    const node = this.node(nodeId);
    if (!node.node.hasReady()) return;
    const ready: Ready = node.node.ready();
    this.out.push(`> ${nodeId} handling Ready`);
    if (ready.softState !== undefined) this.out.push(`  State: ${ready.softState.raftState} (leader ${ready.softState.leaderId})`);
    if (ready.hardState !== undefined) {
      const hs = ready.hardState;
      this.out.push(`  Persist HardState term=${hs.term} vote=${hs.vote} commit=${hs.commit}`);
    }
    if (ready.entries.length > 0) this.out.push(`  Persist Entries: ${ready.entries.map(entryText).join(', ')}`);
    if (ready.snapshot !== undefined) this.out.push(`  Persist Snapshot (${ready.snapshot.term},${ready.snapshot.index})`);
    for (const message of ready.messages) this.out.push(`  Send ${messageText(message)}`);
    if (ready.committedEntries.length > 0) this.out.push(`  Apply: ${ready.committedEntries.map(entryText).join(', ')}`);
    for (const rs of ready.readStates) this.out.push(`  ReadState index=${rs.index}`);
    if (ready.snapshotWanted) this.out.push('  SnapshotWanted: create a snapshot at applied');
    const confChangesBefore = node.confStates.length;
    node.handleReady(ready);
    for (const cs of node.confStates.slice(confChangesBefore)) {
      const outgoing = cs.votersOutgoing.length > 0 ? ` outgoing=[${cs.votersOutgoing}]` : '';
      const next = cs.learnersNext.length > 0 ? ` learnersNext=[${cs.learnersNext}]` : '';
      this.out.push(`  ConfState voters=[${cs.voters}]${outgoing} learners=[${cs.learners}]${next}${cs.autoLeave ? ' autoLeave' : ''}`);
    }
    this.queue.push(...ready.messages);
  }

  private deliver(): void {
    const messages = this.queue;
    this.queue = [];
    for (const message of messages) {
      const dropped = this.cut.has(message.from) || this.cut.has(message.to);
      this.out.push(`${dropped ? 'DROP ' : ''}${messageText(message)}`);
      if (!dropped) this.node(message.to).node.step(message);
    }
  }

  private stabilize(): void {
    for (let rounds = 0; rounds < 100; rounds++) {
      for (const nodeId of this.nodes.keys()) this.processReady(nodeId);
      if (this.queue.length === 0) return;
      this.deliver();
    }
    assert(false, 'stabilize did not converge');
  }

  private status(): void {
    for (const [nodeId, node] of this.nodes) {
      const s = node.node.status();
      this.out.push(`${nodeId}: ${s.raftState} term=${s.term} leader=${s.leaderId} commit=${s.commit} applied=${s.applied} last=${s.lastIndex}`);
    }
  }

  private printLog(nodeId: number): void {
    const raft = this.node(nodeId).raft;
    const entries = raft.log.allEntriesFrom(raft.log.firstIndex());
    this.out.push(entries.length === 0 ? '(empty)' : entries.map(entryText).join('\n'));
  }
}

describe('scenario scripts (test/raft/testdata)', () => {
  const rewrite = process.env.RAFT_REWRITE === '1';
  for (const file of readdirSync(TESTDATA).filter((f) => f.endsWith('.txt')).sort()) {
    it(file, () => {
      const path = join(TESTDATA, file);
      const text = readFileSync(path, 'utf8');
      const header = text.split('\n').filter((_, i, all) => all.slice(0, i + 1).every((l) => l.startsWith('#'))).join('\n');
      const env = new ScriptEnv();
      const results = parseScript(text).map((block) => ({ ...block, actual: env.run(block.command) }));
      if (rewrite) {
        writeFileSync(path, formatScript(results.map((r) => ({ command: r.command, expected: r.actual })), header === '' ? '' : `${header}\n\n`));
        return;
      }
      for (const r of results) expect(`${r.command}\n${r.actual}`).toBe(`${r.command}\n${r.expected}`);
    });
  }
});
