/**
 * `picodata connect [USER@]HOST:PORT [-u USER]`: an interactive console on a running instance,
 * the way Picodata 23.06 and tarantoolctl connect behave:
 *   Enter password for <user>:        (only when a user other than guest is given)
 *   connected to H:P
 *   H:P> pico.raft_status()
 *   ---
 *   - term: 2
 *     ...
 *   ...
 * Statements are evaluated by ConsoleEvaluator (iproto requests); results print as YAML-like
 * documents. On a terminal: line editing, history (~/.picodata_history, or
 * $PICODATA_CONSOLE_HISTORY; set it empty to keep none) and tab completion of pico.* functions,
 * space names, index names and methods. Piped input works too (the prompt and the statement are echoed, so the output
 * reads as a transcript). `\q`, `\quit` or end of input leave; `\help` lists what is understood.
 */

import { appendFileSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import type { IprotoClient } from '../../core/iproto/client.ts';
import { connectTo } from '../admin.ts';
import { ConsoleEvaluator, FSELECT_LINE_WIDTH_DEFAULT, INDEX_METHODS, KNOWN_FUNCTIONS, KNOWN_VALUES, SPACE_METHODS } from './evaluate.ts';
import { formatError, formatResults, formatTable } from './yaml.ts';

const HISTORY_LINES_MAX = 1_000;

const HELP = `Statements (a subset of Lua, as in Tarantool's console):
  pico.raft_status()                     any function: CALL by its name
  pico.instance_info('i1')               arguments: numbers, 'strings', true/false/nil, {tables}
  box.space.test:select()                select, get, insert, replace, update, upsert, delete,
  box.space.test:insert{1, 'x'}          count, len, format
  box.space.test:fselect()               select printed as a table (3rd argument {max_width = N})
  box.space.test.index.pk:select{1}      select, get, count, min, max, update, delete on an index
  box.space                              list spaces; box.space.test shows one
  box.info, box.cfg.listen               the instance's box.info and box.cfg (and their fields)
  vshard.router.callro(1, 'fn', {...})   forwarded as a CALL
  \\q, \\quit or Ctrl-D                    leave
`;

export interface ConsoleOptions {
  readonly address: string;
  readonly user: string | undefined;
  readonly timeoutMs: number;
}

export async function runConsole(options: ConsoleOptions): Promise<number> {
  const interactive = process.stdin.isTTY === true;
  let password: string | undefined;
  let lines: AsyncIterator<string>;
  let rl: Interface;
  const evaluatorRef: { current: ConsoleEvaluator | null } = { current: null };
  const historyFile = historyPath(process.env, homedir());
  if (interactive) {
    if (needsPassword(options.user)) password = await readHiddenLine(`Enter password for ${options.user}: `);
    rl = createInterface({
      input: process.stdin,
      output: process.stdout,
      terminal: true,
      history: loadHistory(historyFile),
      historySize: HISTORY_LINES_MAX,
      removeHistoryDuplicates: true,
      completer: (line: string) => complete(line, evaluatorRef.current),
    });
    lines = rl[Symbol.asyncIterator]();
  } else {
    rl = createInterface({ input: process.stdin, terminal: false });
    lines = rl[Symbol.asyncIterator]();
    if (needsPassword(options.user)) {
      process.stdout.write(`Enter password for ${options.user}: \n`);
      const first = await lines.next();
      password = first.done === true ? '' : first.value;
    }
  }
  let client: IprotoClient;
  try {
    client = await connectTo(options.address, { user: options.user, password, timeoutMs: options.timeoutMs });
  } catch (error) {
    rl.close();
    process.stderr.write(`picodata connect: error: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
  // fselect fits the terminal, as Tarantool's does; piped output gets the default width.
  const fselectWidth = (): number => (process.stdout.isTTY === true && process.stdout.columns > 0 ? process.stdout.columns : FSELECT_LINE_WIDTH_DEFAULT);
  const evaluator = new ConsoleEvaluator(client, options.timeoutMs, fselectWidth);
  evaluatorRef.current = evaluator;
  await evaluator.schema(false).catch(() => undefined); // for completion; errors show up on use
  let lost: string | null = null;
  client.onClose((message) => {
    lost = message;
    rl.close();
  });
  process.stdout.write(`connected to ${options.address}\n`);
  const prompt = `${options.address}> `;
  rl.setPrompt(prompt);
  if (interactive) rl.prompt();
  for (;;) {
    if (!interactive) process.stdout.write(prompt);
    const next = await lines.next();
    if (next.done === true) break;
    const line = next.value.trim();
    if (!interactive) process.stdout.write(`${next.value}\n`);
    if (line === '\\q' || line === '\\quit') break;
    if (line === '\\help' || line === '\\h' || line === 'help') process.stdout.write(HELP);
    else if (line !== '') {
      if (interactive) appendHistory(historyFile, line);
      const evaluation = await evaluator.evaluate(line);
      process.stdout.write(!evaluation.ok ? formatError(evaluation.error) : evaluation.table !== undefined ? formatTable(evaluation.table) : formatResults(evaluation.values));
    }
    if (interactive) rl.prompt();
  }
  if (!interactive) process.stdout.write('\n');
  rl.close();
  client.close();
  if (lost !== null && lost !== 'connection closed') {
    process.stderr.write(`picodata connect: ${lost}\n`);
    return 1;
  }
  return 0;
}

function needsPassword(user: string | undefined): boolean {
  return user !== undefined && user !== 'guest';
}

/** Reads a line from the terminal without echoing it. */
function readHiddenLine(prompt: string): Promise<string> {
  return new Promise((resolve) => {
    const stdin = process.stdin;
    process.stdout.write(prompt);
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    let text = '';
    const onData = (chunk: string): void => {
      for (const c of chunk) {
        if (c === '\r' || c === '\n') {
          stdin.setRawMode(false);
          stdin.pause();
          stdin.off('data', onData);
          process.stdout.write('\n');
          resolve(text);
          return;
        }
        if (c === '\u0003') {
          process.stdout.write('\n');
          process.exit(130);
        }
        if (c === '\u007f' || c === '\b') text = text.slice(0, -1);
        else text += c;
      }
    };
    stdin.on('data', onData);
  });
}

/**
 * $PICODATA_CONSOLE_HISTORY, else ~/.picodata_history. Null when the variable is set but empty:
 * no history is kept (like bash's empty HISTFILE).
 */
export function historyPath(env: Readonly<Record<string, string | undefined>>, home: string): string | null {
  const path = env['PICODATA_CONSOLE_HISTORY'];
  if (path === '') return null;
  return path ?? join(home, '.picodata_history');
}

/**
 * The last HISTORY_LINES_MAX lines of the history file, newest first (readline's order); none
 * when the file is missing or unreadable.
 */
export function loadHistory(file: string | null): string[] {
  if (file === null) return [];
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).slice(-HISTORY_LINES_MAX).reverse();
  } catch {
    return [];
  }
}

/** Appends one entered line; a failure (read-only home) is ignored. */
export function appendHistory(file: string | null, line: string): void {
  if (file === null) return;
  try {
    appendFileSync(file, `${line}\n`, { mode: 0o600 });
  } catch {
    // A read-only home must not break the console.
  }
}

/** What completion knows of the schema: a ConsoleEvaluator after its schema load. */
export interface CompletionSchema {
  spaceNames(): readonly string[];
  indexNames(space: string): readonly string[];
}

/**
 * Readline completer, pure: the identifier-ish word at the end of `line` against the pico.* API
 * names and, when `schema` is known, `box.space.<name>` with its methods and indexes. Returns
 * the sorted candidates that extend the word, and the word (readline replaces it).
 */
export function complete(line: string, schema: CompletionSchema | null): [string[], string] {
  const word = /[A-Za-z0-9_.:]*$/.exec(line)![0];
  const candidates = new Set<string>(KNOWN_FUNCTIONS.map((f) => (KNOWN_VALUES.has(f) ? f : `${f}(`)));
  candidates.add('box.space.');
  for (const space of schema?.spaceNames() ?? []) {
    const base = `box.space.${space}`;
    candidates.add(base);
    for (const m of SPACE_METHODS) candidates.add(`${base}:${m}(`);
    for (const index of schema?.indexNames(space) ?? []) {
      for (const m of INDEX_METHODS) candidates.add(`${base}.index.${index}:${m}(`);
    }
  }
  const hits = [...candidates].filter((c) => c.startsWith(word)).sort();
  return [hits, word];
}
