/**
 * The console's input language: the slice of Lua an operator types at a Tarantool or Picodata
 * console to call the API, parsed into plain data so it can be sent as iproto requests.
 *
 *   statement := ['return'] expression [';']
 *   expression := literal | table | path { suffix }
 *   path      := NAME { '.' NAME | '[' (string | number) ']' }
 *   suffix    := ':' NAME arguments | arguments          (a call; at most one per statement)
 *   arguments := '(' [expression {',' expression}] ')' | table | string
 *   table     := '{' [field {(',' | ';') field} [',' | ';']] '}'
 *   field     := '[' expression ']' '=' expression | NAME '=' expression | expression
 *   literal   := number | string | true | false | nil | box.NULL
 *
 * Tables become msgpack values the way Tarantool encodes Lua tables: keys 1..n -> an array,
 * anything else -> a map. Anything outside this slice is a ParseError (the console then sends the
 * text as EVAL, as Tarantool's console would).
 */

import { narrowInteger, type MpValue } from '../../core/codec/msgpack.ts';

export type Statement =
  | { readonly kind: 'value'; readonly value: MpValue }
  /** `a.b.c` without a call. */
  | { readonly kind: 'path'; readonly path: readonly string[] }
  /** `a.b.c(args)` or, with `method`, `a.b.c:method(args)`. */
  | { readonly kind: 'call'; readonly path: readonly string[]; readonly method: string | null; readonly args: readonly MpValue[] };

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
const PUNCT = ['==', '.', ':', ',', ';', '(', ')', '{', '}', '[', ']', '='];
const ESCAPES: Readonly<Record<string, string>> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'", '0': '\0', a: '\x07', b: '\b', f: '\f', v: '\v' };

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
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))!;
      tokens.push({ t: 'name', v: m[0] });
      i += m[0].length;
    } else if (/[0-9]/.test(c) || (c === '-' && /[0-9]/.test(text[i + 1] ?? ''))) {
      const m = /^-?(0x[0-9a-fA-F]+|\d+(\.\d+)?([eE][-+]?\d+)?)(ULL|LL)?/.exec(text.slice(i))!;
      tokens.push({ t: 'number', v: parseNumber(m[0]) });
      i += m[0].length;
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

function parseNumber(text: string): number | bigint {
  const integerSuffix = /(ULL|LL)$/.exec(text);
  const body = integerSuffix === null ? text : text.slice(0, -integerSuffix[0].length);
  if (/^-?0x/i.test(body)) return Number(body);
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
      const e = text[i + 1] ?? '';
      out += ESCAPES[e] ?? e;
      i += 2;
    } else {
      out += text[i]!;
      i++;
    }
  }
  if (text[i] !== quote) throw new ParseError('unfinished string');
  return [out, i + 1];
}

class Parser {
  private pos = 0;
  private readonly tokens: Token[];

  constructor(tokens: Token[]) {
    this.tokens = tokens;
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

  statement(): Statement {
    const first = this.peek();
    if (first.t === 'name' && first.v === 'return') this.next();
    const statement = this.expression();
    if (this.isPunct(';')) this.next();
    const rest = this.peek();
    if (rest.t !== 'end') throw new ParseError(`unexpected ${describe(rest)}`);
    return statement;
  }

  private expression(): Statement {
    const t = this.peek();
    if (t.t === 'name' && !['true', 'false', 'nil'].includes(t.v)) {
      const path = this.path();
      if (path.join('.') === 'box.NULL') return { kind: 'value', value: null };
      return this.suffix(path);
    }
    return { kind: 'value', value: this.value(0) };
  }

  private path(): string[] {
    const path = [this.name()];
    for (;;) {
      if (this.isPunct('.')) {
        this.next();
        path.push(this.name());
      } else if (this.isPunct('[') && !this.isPunct('[', 1)) {
        this.next();
        const key = this.next();
        if (key.t !== 'string' && key.t !== 'number') throw new ParseError(`string or number expected near ${describe(key)}`);
        path.push(String(key.v));
        this.expect(']');
      } else {
        return path;
      }
    }
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
    return { kind: 'call', path, method, args: this.arguments() };
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
      args.push(this.value(0));
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

export function parseStatement(text: string): Statement {
  return new Parser(tokenize(text)).statement();
}
