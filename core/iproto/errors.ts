/**
 * Errors with a Tarantool error code. Anything that reaches an iproto reply as an error is one of
 * these (or becomes one: see `toIprotoError`), so the code a connector sees is always deliberate.
 */

import { assert } from '../lib/assert.ts';
import { ERROR_TEMPLATES, ErrorCode, ERROR_CODE_MASK } from './constants.ts';

/** Error-object type names that Tarantool puts in the 2.4+ error stack (`MP_ERROR_TYPE`). */
export type IprotoErrorType = 'ClientError' | 'LuajitError' | 'IllegalParams' | 'SystemError';

export class IprotoError extends Error {
  override readonly name = 'IprotoError';
  readonly code: number;
  readonly errorType: IprotoErrorType;
  constructor(code: number, message: string, errorType: IprotoErrorType = 'ClientError') {
    super(message);
    assert(Number.isInteger(code) && code >= 0 && code <= ERROR_CODE_MASK, () => `error code ${code} out of range`);
    this.code = code;
    this.errorType = errorType;
  }
}

/** Formats Tarantool's message template for `code` with printf-style arguments. */
export function formatErrorMessage(code: number, args: readonly (string | number)[]): string {
  const template = ERROR_TEMPLATES[code];
  if (template === undefined) return args.length > 0 ? String(args[0]) : `Error ${code}`;
  let next = 0;
  return template.replace(/%[sud]/g, () => (next < args.length ? String(args[next++]) : ''));
}

/** `box.error(code, ...)`: an IprotoError with Tarantool's message for `code`. */
export function iprotoError(code: number, ...args: (string | number)[]): IprotoError {
  return new IprotoError(code, formatErrorMessage(code, args));
}

/**
 * What a backend throw becomes on the wire: an error with a numeric Tarantool `code` and a
 * `message` keeps both; anything else is a Lua-style failure (PROC_LUA) carrying its text, the way
 * Tarantool reports an `error('...')` raised inside a called function.
 */
export function toIprotoError(thrown: unknown): IprotoError {
  if (thrown instanceof IprotoError) return thrown;
  if (typeof thrown === 'object' && thrown !== null) {
    const { code, message } = thrown as { code?: unknown; message?: unknown };
    const text = typeof message === 'string' ? message : String(thrown);
    if (typeof code === 'number' && Number.isInteger(code) && code >= 0 && code <= ERROR_CODE_MASK) {
      return new IprotoError(code, text);
    }
    return new IprotoError(ErrorCode.PROC_LUA, text, 'LuajitError');
  }
  return new IprotoError(ErrorCode.PROC_LUA, String(thrown), 'LuajitError');
}
