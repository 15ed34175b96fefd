/**
 * The slice of Lua that calls the node's API: what an operator types at the console
 * (runtime-real/console/) and what a client sends as EVAL (core/node/eval.ts), parsed into plain
 * data.
 *
 *   statement := ['return'] expression [';']          (EVAL: 'return' expression {',' expression})
 *   expression := literal | table | '...' | path { suffix }
 *   path      := NAME { '.' NAME | '[' (string | number) ']' }
 *   suffix    := (':' NAME arguments | arguments) { '.' NAME | '[' (string | number) ']' }
 *                                                      (a call, then fields of its first result)
 *   arguments := '(' [expression {',' expression}] ')' | table | string
 *   table     := '{' [field {(',' | ';') field} [',' | ';']] '}'
 *   field     := '[' expression ']' '=' expression | NAME '=' expression | expression
 *   literal   := number | string | true | false | nil | box.NULL
 *
 * Tables become msgpack values the way Tarantool encodes Lua tables: keys 1..n -> an array,
 * anything else -> a map. `...` stands for EVAL's arguments, as in Lua: all of them when it is
 * the last argument or table field (or the whole statement), else the first (nil when none).
 * Anything outside this slice is a ParseError: the console then sends the text as EVAL, as
 * Tarantool's console would; the server refuses it.
 */

import { narrowInteger, type MpValue } from '../codec/msgpack.ts';

export type Statement =
  /** Literals, or `...`: several values only from `...`. */
  | { readonly kind: 'values'; readonly values: readonly MpValue[] }
  /** `a.b.c` without a call. */
  | { readonly kind: 'path'; readonly path: readonly string[] }
  /**
   * `a.b.c(args)` or, with `method`, `a.b.c:method(args)`; `fields` index its first result
   * (`pico.instance_info('i1').raft_id`, `box.space.t:get{1}[2]`), absent when there are none.
   */
  | { readonly kind: 'call'; readonly path: readonly string[]; readonly method: string | null; readonly args: readonly MpValue[]; readonly fields?: readonly string[] };

export class ParseError extends Error {
  override readonly name = 'ParseError';
}

type Token =
  | { readonly t: 'name'; readonly v: string }
  | { readonly t: 'number'; readonly v: number | bigint }
  | { readonly t: 'string'; readonly v: string }
  | { readonly t: 'punct'; readonly v: string }
  | { readonly t: 'end' };

/** Nesting of tables in one statement. */
const DEPTH_MAX = 64;
const PUNCT = ['==', '...', '.', ':', ',', ';', '(', ')', '{', '}', '[', ']', '='];
const ESCAPES: Readonly<Record<string, string>> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'", a: '\x07', b: '\b', f: '\f', v: '\v' };

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (text.startsWith('--', i)) {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (/[A-Za-z_]/.test(c)) {
      const name = match(NAME, text, i);
      tokens.push({ t: 'name', v: name });
      i += name.length;
    } else if (/[0-9]/.test(c) || (c === '-' && /[0-9]/.test(text[i + 1] ?? ''))) {
      const number = match(NUMBER, text, i);
      tokens.push({ t: 'number', v: parseNumber(number) });
      i += number.length;
    } else if (c === '"' || c === "'") {
      const [value, next] = readString(text, i);
      tokens.push({ t: 'string', v: value });
      i = next;
    } else if (text.startsWith('[[', i)) {
      const end = text.indexOf(']]', i + 2);
      if (end < 0) throw new ParseError('unfinished long string');
      tokens.push({ t: 'string', v: text.slice(i + 2, end).replace(/^\n/, '') });
      i = end + 2;
    } else {
      const p = PUNCT.find((x) => text.startsWith(x, i));
      if (p === undefined) throw new ParseError(`unexpected symbol near '${c}'`);
      tokens.push({ t: 'punct', v: p });
      i += p.length;
    }
  }
  tokens.push({ t: 'end' });
  return tokens;
}

// Sticky: matched at an offset, without slicing the rest of the text for every token.
const NAME = /[A-Za-z_][A-Za-z0-9_]*/y;
const NUMBER = /-?(0x[0-9a-fA-F]+|\d+(\.\d+)?([eE][-+]?\d+)?)(ULL|LL)?/y;

/** The match of a sticky `pattern` at `at`; the caller checked the first character. */
function match(pattern: RegExp, text: string, at: number): string {
  pattern.lastIndex = at;
  const m = pattern.exec(text);
  if (m === null) throw new Error(`tokenizer: ${pattern.source} does not match at ${at}`);
  return m[0];
}

function parseNumber(text: string): number | bigint {
  const integerSuffix = /(ULL|LL)$/.exec(text);
  const body = integerSuffix === null ? text : text.slice(0, -integerSuffix[0].length);
  if (/^-?0x/i.test(body)) return body.startsWith('-') ? -Number(body.slice(1)) : Number(body);
  if (/^-?\d+$/.test(body)) {
    return narrowInteger(BigInt(body));
  }
  // Lua sends an integral number (1e18) as an integer; a JS number past 2^53 would go as a double.
  const value = Number(body);
  return Number.isInteger(value) && !Number.isSafeInteger(value) && Math.abs(value) < 2 ** 64 ? BigInt(value) : value;
}

function readString(text: string, start: number): [string, number] {
  const quote = text[start]!;
  let out = '';
  let i = start + 1;
  while (i < text.length && text[i] !== quote) {
    if (text[i] === '\n') break;
    if (text[i] === '\\') {
      const [value, next] = readEscape(text, i + 1);
      out += value;
      i = next;
    } else {
      out += text[i]!;
      i++;
    }
  }
  if (text[i] !== quote) throw new ParseError('unfinished string');
  return [out, i + 1];
}

/**
 * The escape after a backslash at `at`, as Lua reads it: the single-letter ones, `\xHH`, `\ddd`
 * (decimal), `\u{XXX}`, `\z` (skips the blanks that follow) and a backslash-newline. Our text is
 * Unicode and goes out as UTF-8, so a byte escape above 0x7f (not a character on its own) is
 * refused rather than stored as other bytes than Lua would; so is an unknown escape.
 */
function readEscape(text: string, at: number): [string, number] {
  const e = text[at] ?? '';
  const simple = ESCAPES[e];
  if (simple !== undefined) return [simple, at + 1];
  if (e === '\n') return ['\n', at + 1];
  if (e === 'z') {
    let i = at + 1;
    while (i < text.length && /\s/.test(text[i]!)) i++;
    return ['', i];
  }
  if (e === 'x') {
    const hex = /^[0-9a-fA-F]{2}/.exec(text.slice(at + 1, at + 3));
    if (hex === null) throw new ParseError('hexadecimal digit expected in escape \\x');
    return [asciiByte(parseInt(hex[0], 16), `\\x${hex[0]}`), at + 3];
  }
  if (/[0-9]/.test(e)) {
    const digits = /^[0-9]{1,3}/.exec(text.slice(at, at + 3))![0];
    return [asciiByte(Number(digits), `\\${digits}`), at + digits.length];
  }
  if (e === 'u') {
    const m = /^\{([0-9a-fA-F]{1,6})\}/.exec(text.slice(at + 1, at + 10));
    const codePoint = m === null ? -1 : parseInt(m[1]!, 16);
    if (m === null || codePoint > 0x10ffff) throw new ParseError('invalid escape \\u{...}: a code point up to 10FFFF in braces expected');
    return [String.fromCodePoint(codePoint), at + 1 + m[0].length];
  }
  throw new ParseError(`invalid escape sequence '\\${e}'`);
}

function asciiByte(value: number, escape: string): string {
  if (value > 0x7f) throw new ParseError(`escape ${escape} is a byte above 0x7f, not a character: write the character itself`);
  return String.fromCharCode(value);
}

class Parser {
  private pos = 0;
  private readonly tokens: Token[];
  /** What `...` stands for; null where there are no arguments (the console). */
  private readonly varargs: readonly MpValue[] | null;

  constructor(tokens: Token[], varargs: readonly MpValue[] | null) {
    this.tokens = tokens;
    this.varargs = varargs;
  }

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.pos + offset, this.tokens.length - 1)]!;
  }

  private next(): Token {
    const token = this.peek();
    if (this.pos < this.tokens.length - 1) this.pos++;
    return token;
  }

  private isPunct(v: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.t === 'punct' && t.v === v;
  }

  private expect(v: string): void {
    const t = this.next();
    if (t.t !== 'punct' || t.v !== v) throw new ParseError(`'${v}' expected near ${describe(t)}`);
  }

  /** Whether the statement began with `return` (EVAL returns nothing without it). */
  returns = false;

  statement(): Statement {
    const [statement, ...more] = this.chunk();
    if (more.length > 0) throw new ParseError("unexpected ',': one expression at a time here");
    return statement!;
  }

  /** `['return'] expression {',' expression} [';']`: several expressions only after `return`. */
  chunk(): Statement[] {
    const first = this.peek();
    if (first.t === 'name' && first.v === 'return') {
      this.next();
      this.returns = true;
    }
    const expressions = [this.expression()];
    while (this.returns && this.isPunct(',')) {
      this.next();
      expressions.push(this.expression());
    }
    if (this.isPunct(';')) this.next();
    const rest = this.peek();
    if (rest.t !== 'end') throw new ParseError(`unexpected ${describe(rest)}`);
    return expressions;
  }

  private expression(): Statement {
    const t = this.peek();
    if (t.t === 'name' && !['true', 'false', 'nil'].includes(t.v)) {
      const path = this.path();
      if (path.join('.') === 'box.NULL') return { kind: 'values', values: [null] };
      return this.suffix(path);
    }
    if (this.isPunct('...')) return { kind: 'values', values: this.expandVarargs(null) };
    return { kind: 'values', values: [this.value(0)] };
  }

  /**
   * At `...`: Lua expands it to every argument only in the last position of a list (before
   * `close`, or at the end of the statement when `close` is null), else to the first one.
   */
  private expandVarargs(close: string | null): MpValue[] {
    const varargs = this.requireVarargs();
    this.next();
    const last = close === null ? this.atStatementEnd() : this.isPunct(close) || ((this.isPunct(',') || this.isPunct(';')) && this.isPunct(close, 1));
    return last ? [...varargs] : [varargs[0] ?? null];
  }

  private requireVarargs(): readonly MpValue[] {
    if (this.varargs === null) throw new ParseError("cannot use '...' outside a vararg function (EVAL's arguments)");
    return this.varargs;
  }

  private atStatementEnd(): boolean {
    return this.peek().t === 'end' || (this.isPunct(';') && this.peek(1).t === 'end');
  }

  private path(): string[] {
    return this.fields([this.name()]);
  }

  private name(): string {
    const t = this.next();
    if (t.t !== 'name') throw new ParseError(`name expected near ${describe(t)}`);
    return t.v;
  }

  private suffix(path: string[]): Statement {
    let method: string | null = null;
    if (this.isPunct(':')) {
      this.next();
      method = this.name();
    } else if (!this.startsArguments()) {
      return { kind: 'path', path };
    }
    if (!this.startsArguments()) throw new ParseError(`function arguments expected near ${describe(this.peek())}`);
    const args = this.arguments();
    const fields = this.fields([]);
    return fields.length === 0 ? { kind: 'call', path, method, args } : { kind: 'call', path, method, args, fields };
  }

  /** Appends `.name` and `[key]` segments to `fields`: a path's, or those after a call. */
  private fields(fields: string[]): string[] {
    for (;;) {
      if (this.isPunct('.')) {
        this.next();
        fields.push(this.name());
      } else if (this.isPunct('[') && !this.isPunct('[', 1)) {
        this.next();
        const key = this.next();
        if (key.t !== 'string' && key.t !== 'number') throw new ParseError(`string or number expected near ${describe(key)}`);
        fields.push(String(key.v));
        this.expect(']');
      } else {
        return fields;
      }
    }
  }

  private startsArguments(): boolean {
    const t = this.peek();
    return t.t === 'string' || (t.t === 'punct' && (t.v === '(' || t.v === '{'));
  }

  private arguments(): MpValue[] {
    const t = this.peek();
    if (t.t === 'string') return [(this.next() as { v: string }).v];
    if (this.isPunct('{')) return [this.value(0)];
    this.expect('(');
    const args: MpValue[] = [];
    if (this.isPunct(')')) {
      this.next();
      return args;
    }
    for (;;) {
      // A loop, not push(...): EVAL may carry more arguments than a call takes.
      if (this.isPunct('...')) for (const value of this.expandVarargs(')')) args.push(value);
      else args.push(this.value(0));
      if (this.isPunct(',')) {
        this.next();
        continue;
      }
      this.expect(')');
      return args;
    }
  }

  private value(depth: number): MpValue {
    if (depth > DEPTH_MAX) throw new ParseError('tables nest too deep');
    const t = this.next();
    switch (t.t) {
      case 'number':
      case 'string':
        return t.v;
      case 'name':
        if (t.v === 'true') return true;
        if (t.v === 'false') return false;
        if (t.v === 'nil') return null;
        if (t.v === 'box' && this.isPunct('.') && this.peek(1).t === 'name' && (this.peek(1) as { v: string }).v === 'NULL') {
          this.next();
          this.next();
          return null;
        }
        throw new ParseError(`a value expected, got the name '${t.v}' (only literals and tables can be arguments)`);
      case 'punct':
        if (t.v === '{') return this.table(depth + 1);
        if (t.v === '...') return this.requireVarargs()[0] ?? null;
        throw new ParseError(`unexpected symbol '${t.v}'`);
      case 'end':
        throw new ParseError('unexpected end of input');
    }
  }

  /** After '{'. */
  private table(depth: number): MpValue {
    const entries: Array<[MpValue, MpValue]> = [];
    let nextIndex = 1;
    while (!this.isPunct('}')) {
      if (this.isPunct('[') ) {
        this.next();
        const key = this.value(depth);
        this.expect(']');
        this.expect('=');
        entries.push([key, this.value(depth)]);
      } else if (this.peek().t === 'name' && this.isPunct('=', 1)) {
        const key = this.name();
        this.next();
        entries.push([key, this.value(depth)]);
      } else if (this.isPunct('...')) {
        for (const value of this.expandVarargs('}')) entries.push([nextIndex++, value]);
      } else {
        entries.push([nextIndex++, this.value(depth)]);
      }
      if (this.isPunct(',') || this.isPunct(';')) this.next();
      else if (!this.isPunct('}')) throw new ParseError(`'}' expected near ${describe(this.peek())}`);
    }
    this.expect('}');
    return tableValue(entries);
  }
}

/** Keys 1..n in order -> array; otherwise a map (string keys -> object, others -> Map). */
function tableValue(entries: ReadonlyArray<[MpValue, MpValue]>): MpValue {
  if (entries.every(([k], i) => k === i + 1)) return entries.map(([, v]) => v);
  if (entries.every(([k]) => typeof k === 'string')) {
    const object: Record<string, MpValue> = {};
    for (const [k, v] of entries) object[k as string] = v;
    return object;
  }
  return new Map(entries);
}

function describe(t: Token): string {
  switch (t.t) {
    case 'end':
      return '<eof>';
    case 'string':
      return `'${t.v}'`;
    default:
      return `'${String(t.v)}'`;
  }
}

/** `varargs`: what `...` stands for (EVAL's arguments); null refuses `...`. */
export function parseStatement(text: string, varargs: readonly MpValue[] | null = null): Statement {
  return new Parser(tokenize(text), varargs).statement();
}

/** A chunk as EVAL runs it: its expressions (several after `return a, b`), and whether it returns them. */
export function parseChunk(text: string, varargs: readonly MpValue[]): { readonly expressions: readonly Statement[]; readonly returns: boolean } {
  const parser = new Parser(tokenize(text), varargs);
  const expressions = parser.chunk();
  return { expressions, returns: parser.returns };
}
