/**
 * `picodata run --script FILE`: a JavaScript or TypeScript module the instance runs at postjoin
 * (Picodata runs a Lua file there). It is imported before the instance touches its data
 * directory, so a missing file or a syntax error stops the start early; its `postjoin` export
 * runs on every start, before the instance asks to become Online. A throwing `postjoin` aborts
 * the start with a non-zero exit code.
 *
 *   // app.ts
 *   import type { ScriptContext } from 'picodata-ts/runtime-real/script.ts';
 *   export async function postjoin({ box, registerFunction }: ScriptContext) {
 *     if (!box.readOnly && !box.hasSpace('test')) {
 *       await box.createSpace('test', { format: [{ name: 'id', type: 'unsigned' }, { name: 'value' }] });
 *       await box.createIndex('test', 'pk', { parts: [['id', 'unsigned']] });
 *     }
 *     registerFunction('sum', (args) => args.reduce((a, b) => Number(a) + Number(b), 0));
 *   }
 *
 * A `default` export function is accepted in place of `postjoin`.
 */

import { accessSync, constants, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Box } from '../core/box/box.ts';
import type { Log } from '../core/env/log.ts';
import type { NodeBackend, UserFunction } from '../core/node/backend.ts';
import type { Node } from '../core/node/node.ts';

export interface ScriptContext {
  /**
   * Makes `fn` callable over iproto CALL by `name` (a stored procedure). An array result is the
   * list of return values, as a Lua function's (`[1, 'a']` is two values); one tuple is `[[1, 'a']]`.
   */
  registerFunction(name: string, fn: UserFunction): void;
  /** Local storage. Read-only on replicas and on restarted instances until promoted. */
  readonly box: Box;
  /** The whole node, read-only by convention (state, raft, clusterwide tables). */
  readonly node: Node;
  readonly log: Log;
  readonly instanceId: string;
  readonly replicasetId: string;
}

export type PostjoinFunction = (context: ScriptContext) => void | Promise<void>;

export class ScriptError extends Error {
  override readonly name = 'ScriptError';
}

const TYPESCRIPT = /\.(ts|mts|cts|tsx)$/;

/** Imports the module and returns its postjoin function. Throws ScriptError with a clear reason. */
export async function loadScript(path: string): Promise<PostjoinFunction> {
  const absolute = resolve(path);
  checkReadableFile(path, absolute);
  if (TYPESCRIPT.test(absolute)) await ensureTypeScriptLoader();
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(absolute).href)) as Record<string, unknown>;
  } catch (error) {
    throw new ScriptError(`script ${path} failed to load: ${error instanceof Error ? error.message : String(error)}`);
  }
  const postjoin = module['postjoin'] ?? module['default'];
  if (typeof postjoin !== 'function') throw new ScriptError(`script ${path} exports no postjoin function`);
  return postjoin as PostjoinFunction;
}

/**
 * Says which of missing, not a file, or unreadable the script is, with the absolute path it
 * was looked for at when `path` is relative (relative to the daemon's working directory).
 */
function checkReadableFile(path: string, absolute: string): void {
  const where = absolute === path ? '' : ` (looked for ${absolute})`;
  let isFile: boolean;
  try {
    isFile = statSync(absolute).isFile();
  } catch (error) {
    const code = errorCode(error);
    if (code === 'ENOENT') throw new ScriptError(`script ${path}: no such file${where}`);
    throw new ScriptError(`script ${path}: cannot read it (${code})${where}`);
  }
  if (!isFile) throw new ScriptError(`script ${path}: not a regular file${where}`);
  try {
    accessSync(absolute, constants.R_OK);
  } catch (error) {
    throw new ScriptError(`script ${path}: cannot read it (${errorCode(error)})${where}`);
  }
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : String(error);
}

/** Under plain node (the bundled CLI), TypeScript modules need tsx's loader; under tsx it is there. */
async function ensureTypeScriptLoader(): Promise<void> {
  if (process.execArgv.some((a) => a.includes('tsx')) || process.env['TSX_LOADED'] === '1') return;
  try {
    const api = (await import('tsx/esm/api')) as { register: () => unknown };
    api.register();
    process.env['TSX_LOADED'] = '1';
  } catch (error) {
    throw new ScriptError(`a TypeScript script needs the tsx package: ${error instanceof Error ? error.message : String(error)}`);
  }
}

export function scriptContext(node: Node, backend: NodeBackend): ScriptContext {
  const identity = node.identity;
  return {
    registerFunction: (name, fn) => {
      if (typeof name !== 'string' || name === '' || name.startsWith('.proc_') || name.startsWith('pico.')) {
        throw new ScriptError(`cannot register a function named ${JSON.stringify(name)}: reserved or empty`);
      }
      backend.userFunctions.set(name, fn);
    },
    box: node.box,
    node,
    log: node.log.child({ script: true }),
    instanceId: identity?.instanceId ?? '',
    replicasetId: identity?.replicasetId ?? '',
  };
}
