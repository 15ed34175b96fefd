/**
 * The interactive console's terminal features without a terminal: the tab completer (a pure
 * function of the line and the schema the console loaded) and the history file (where it is,
 * lines appended as entered, loaded newest first on the next start). The same features under a
 * pseudo-terminal are checked against a live instance in test/real/daemon.test.ts.
 */

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseStatement } from '../../core/api/statement.ts';
import { appendHistory, complete, historyPath, loadHistory, type CompletionSchema } from '../../runtime-real/console/repl.ts';
import { formatTable, renderTable, scalar } from '../../runtime-real/console/yaml.ts';

const schema: CompletionSchema = {
  spaceNames: () => ['test', 'warehouse'],
  indexNames: (space) => (space === 'test' ? ['pk', 'by_name'] : ['pk']),
};

describe('complete', () => {
  it('completes pico.* function names with an opening parenthesis', () => {
    expect(complete('pico.raft_st', null)).toEqual([['pico.raft_status('], 'pico.raft_st']);
    const [all, word] = complete('pico.', null);
    expect(word).toBe('pico.');
    expect(all).toContain('pico.instance_info(');
    expect(all).toContain('pico.VERSION'); // a value, not a function: no parenthesis
    expect(all.every((c) => c.startsWith('pico.'))).toBe(true);
    expect(all).toEqual([...all].sort());
  });

  it('completes only the word at the end of the line', () => {
    expect(complete('x = pico.whoa', null)).toEqual([['pico.whoami('], 'pico.whoa']);
    expect(complete('vshard.router.callr', null)).toEqual([['vshard.router.callro(', 'vshard.router.callrw('], 'vshard.router.callr']);
  });

  it('completes live space names, their methods and their indexes', () => {
    const spaceMethods = ['count', 'delete', 'format', 'fselect', 'get', 'insert', 'len', 'put', 'replace', 'select', 'update', 'upsert'];
    const indexMethods = ['count', 'delete', 'fselect', 'get', 'max', 'min', 'select', 'update'];
    expect(complete('box.space.w', schema)).toEqual([
      [
        'box.space.warehouse',
        ...indexMethods.map((m) => `box.space.warehouse.index.pk:${m}(`),
        ...spaceMethods.map((m) => `box.space.warehouse:${m}(`),
      ],
      'box.space.w',
    ]);
    expect(complete('box.space.test:se', schema)).toEqual([['box.space.test:select('], 'box.space.test:se']);
    expect(complete('box.space.test:u', schema)).toEqual([['box.space.test:update(', 'box.space.test:upsert('], 'box.space.test:u']);
    expect(complete('box.space.test.index.by', schema)[0]).toEqual(indexMethods.map((m) => `box.space.test.index.by_name:${m}(`));
    expect(complete('box.sp', schema)[0]).toContain('box.space.');
  });

  it('offers no space names before the schema is known, and nothing for an unknown prefix', () => {
    expect(complete('box.space.t', null)).toEqual([[], 'box.space.t']);
    expect(complete('box.space.nope:', schema)).toEqual([[], 'box.space.nope:']);
    expect(complete('zzz', schema)).toEqual([[], 'zzz']);
    expect(complete('box.space.test:drop', schema)).toEqual([[], 'box.space.test:drop']);
  });
});

describe('history', () => {
  const dir = mkdtempSync(join(tmpdir(), 'console-history-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lives in $PICODATA_CONSOLE_HISTORY, else ~/.picodata_history; empty keeps none', () => {
    expect(historyPath({}, '/home/u')).toBe('/home/u/.picodata_history');
    expect(historyPath({ PICODATA_CONSOLE_HISTORY: '/tmp/h' }, '/home/u')).toBe('/tmp/h');
    expect(historyPath({ PICODATA_CONSOLE_HISTORY: '' }, '/home/u')).toBeNull();
    appendHistory(null, 'pico.whoami()');
    expect(loadHistory(null)).toEqual([]);
  });

  it('appends each entered line and loads them newest first on the next start', () => {
    const file = join(dir, 'history');
    expect(loadHistory(file)).toEqual([]); // no file yet
    for (const line of ['pico.raft_status()', "box.space.test:get{1}", 'pico.whoami()']) appendHistory(file, line);
    expect(readFileSync(file, 'utf8')).toBe("pico.raft_status()\nbox.space.test:get{1}\npico.whoami()\n");
    // The next session appends after what the previous one left.
    expect(loadHistory(file)).toEqual(['pico.whoami()', "box.space.test:get{1}", 'pico.raft_status()']);
    appendHistory(file, 'box.space');
    expect(loadHistory(file)[0]).toBe('box.space');
  });

  it('keeps the last 1000 lines and skips blank ones', () => {
    const file = join(dir, 'long');
    writeFileSync(file, Array.from({ length: 1_200 }, (_, i) => `line ${i}\n\n`).join(''));
    const loaded = loadHistory(file);
    expect(loaded).toHaveLength(1_000);
    expect(loaded[0]).toBe('line 1199');
    expect(loaded.at(-1)).toBe('line 200');
  });

  it('an unwritable history file does not break the console', () => {
    const file = join(dir, 'missing-directory', 'history');
    expect(() => appendHistory(file, 'pico.whoami()')).not.toThrow();
    expect(loadHistory(file)).toEqual([]);
  });
});

describe('parseStatement numbers', () => {
  it('reads integers as Lua sends them: past 2^53 as 64-bit integers, also in exponent form', () => {
    expect(parseStatement('box.space.t:insert({1e18, 12345678901234567890, 1.5, 7})')).toEqual({
      kind: 'call',
      path: ['box', 'space', 't'],
      method: 'insert',
      args: [[10n ** 18n, 12345678901234567890n, 1.5, 7]],
    });
  });
});

describe('fselect tables (renderTable, formatTable)', () => {
  const uuid1 = '68d4a766-0000-4000-8000-000000000001';
  const rs1 = '"e0df68c5-e7f9-395f-86b3-30ad9e1b7b07"';

  it("reproduces the admin guide's raft_group table (15.3): 100 characters, the last of the widest shrink first", () => {
    const columns = ['instance_id', 'instance_uuid', 'raft_id', 'peer_address', 'replicaset_id', 'replicaset_uuid', 'commit_index', 'current_grade', 'target_grade', 'failure_domain'];
    const row = ['"i1"', `"${uuid1}"`, '1', '"localhost:3301"', '"r1"', rs1, '12', '["Online",1]', '["Online",1]', '{}'];
    expect(renderTable(columns, [row], { paddingChars: 0, lineWidthMax: 100 })).toEqual([
      '+----------+---------+-------+---------+---------+---------+---------+---------+---------+---------+',
      '|instance_i|instance_|raft_id|peer_addr|replicase|replicase|commit_in|current_g|target_gr|failure_d|',
      '+----------+---------+-------+---------+---------+---------+---------+---------+---------+---------+',
      '|   "i1"   |"68d4a766|   1   |"localhos|  "r1"   |"e0df68c5|   12    |["Online"|["Online"|   {}    |',
      '+----------+---------+-------+---------+---------+---------+---------+---------+---------+---------+',
    ]);
  });

  it("keeps natural widths when they fit, as the guide's replicasets table", () => {
    const columns = ['replicaset_id', 'replicaset_uuid', 'master_id', 'weight', 'current_schema_version'];
    const lines = renderTable(columns, [['"r1"', rs1, '"i1"', '1', '0']], { paddingChars: 0, lineWidthMax: 100 });
    expect(lines.slice(1, 4)).toEqual([
      '|replicaset_id|           replicaset_uuid            |master_id|weight|current_schema_version|',
      '+-------------+--------------------------------------+---------+------+----------------------+',
      '|    "r1"     |"e0df68c5-e7f9-395f-86b3-30ad9e1b7b07"|  "i1"   |  1   |          0           |',
    ]);
    expect(formatTable(lines.slice(0, 2))).toBe(`---\n- - ${lines[0]}\n  - ${lines[1]}\n...\n`);
  });

  it('takes more rows than a function call takes arguments', () => {
    const rows = Array.from({ length: 300_000 }, (_, i) => [String(i)]);
    expect(renderTable(['n'], rows, { paddingChars: 0 })[0]).toBe('+------+');
  });

  it('never cuts a column below one character, whatever the width asked', () => {
    const lines = renderTable(['a', 'bb'], [['x', 'yy']], { paddingChars: 0, lineWidthMax: 1 });
    expect(lines).toEqual(['+-+-+', '|a|b|', '+-+-+', '|x|y|', '+-+-+']);
  });
});

describe('YAML scalars quoted as Tarantool 2.6 quotes them', () => {
  // Each case measured with Debian's tarantool: yaml.encode({...}) in block style.
  const plain = ['127.0.0.1:3301', 'abc', '2026-01-01', ':x', '-x', '1 2', 'i1', 'Yes', '1:2', 'a/b', 'on', 'y', 'Null', 'NULL', 'a,b', 'a"b', "a'b", '1_000', 'a#b', 'é', 'off', 'n', 'TRUE', "Space 'nope' does not exist", '1e', '0x', 'a]', 'a}', '=a', '~a', 'a~'];
  const quoted = ['1.5', '0x10', '1e3', 'null', '#x', 'x #y', '~', '12', '3301', ' lead', 'trail ', 'true', 'false', 'no', 'yes', '-', '?', '? x', '- x', '[a', '{a', '&a', '*a', '!a', '|a', '>a', '%a', '@a', '`a', ' ', '-1', '+1', '.5', '1.', 'inf', 'nan', '0b1', 'a:', 'a: b', '0X1F', ' 1', '1 '];

  it.each(plain)('prints %j plain', (text) => {
    expect(scalar(text, false)).toBe(text);
  });

  it.each(quoted)('quotes %j', (text) => {
    expect(scalar(text, false)).toBe(`'${text.replace(/'/g, "''")}'`);
  });
});
