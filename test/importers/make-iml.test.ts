/**
 * Make's mapping language (IML) translated to JSONata and evaluated by topicflow's own evaluator,
 * against the results Make documents for each function (Make Help Center: "General functions",
 * "Math functions", "Text and binary functions", "Date and time functions", "Tokens for
 * date/time formatting", "Array functions"; the same pages in Adobe Workfront Fusion's
 * documentation, which runs Make's engine).
 */
import { describe, expect, it } from 'vitest';
import { evaluateExpression, evaluateMapping } from '../../src/blueprint/expressions.ts';
import { filterCondition, mappedOperand } from '../../src/importers/make/filter.ts';
import { parseIml } from '../../src/importers/make/iml/parse.ts';
import { ImlTranslator } from '../../src/importers/make/iml/translate.ts';
import type { MakeCondition } from '../../src/importers/make/export.ts';

/** Module N's output is steps.mN; module 1 holds this bundle. */
const bundle = {
  name: 'Hello World',
  text: 'All these numbers 01234 will be replaced by X',
  date: '2016-12-08T15:55:57.536Z',
  newYear: '2019-01-01T12:30:00.000Z',
  n: '3',
  score: 75,
  empty: '',
  nothing: null,
  tags: ['seo', 'content'],
  array: ['first', 'second', 'third'],
  object: { raw_name: { sub_raw_name: 'nested' } },
  Emails: [
    { email: 'work@example.com', label: 'work' },
    { email: 'home@example.com', label: 'home' },
    { email: 'other@example.com', label: 'other' },
  ],
  '0': 'column A',
  'First Name': 'Ada',
};
const scope = { inputs: {}, steps: { m1: bundle }, run: { id: 'run_1', startedAt: '2026-01-01T00:00:00.000Z' } };

function translator() {
  return new ImlTranslator({ module: (id, path, tools) => tools.follow(tools.root(`steps.m${id}`), path) });
}

/** A Make mapped value, translated and evaluated as a step's mapping would be. */
async function make(value: string): Promise<unknown> {
  return evaluateMapping(translator().mapping(value), scope);
}

describe('IML parser', () => {
  it('reads module references, backtick names, 1-based indexes and [] paths', async () => {
    expect(await make('{{1.`0`}}')).toBe('column A');
    expect(await make('{{1.`First Name`}}')).toBe('Ada');
    expect(await make('{{1.object.raw_name.sub_raw_name}}')).toBe('nested');
    expect(await make('{{1.Emails[2].email}}')).toBe('home@example.com');
    expect(await make('{{1.Emails[].email}}')).toBe('work@example.com');
    expect(await make('{{1.tags[]}}')).toEqual(['seo', 'content']);
  });

  it('reads unquoted text arguments, doubled quotes and comma-separated arguments as Make writes them', async () => {
    expect(await make('{{formatDate(1.newYear; MM/DD/YYYY)}}')).toBe('01/01/2019');
    expect(await make('{{replace(1.name; "World"; """Make""")}}')).toBe('Hello "Make"');
    expect(await make("{{formatDate(1.newYear, 'YYYY-MM-DD')}}")).toBe('2019-01-01');
    expect(parseIml('split(1.text; ,)')).toEqual({ kind: 'call', name: 'split', args: [{ kind: 'ref', module: 1, path: [{ kind: 'key', name: 'text' }] }, { kind: 'text', value: ',' }] });
  });

  it('locates syntax errors and names functions without a translation', () => {
    expect(() => translator().mapping('{{upper(1.name}}')).toThrow(/missing "\)"/);
    expect(() => translator().mapping('{{md5(1.name)}}')).toThrow('md5(): topicflow expressions have no hash functions');
    expect(() => translator().mapping('{{sha256(1.name)}}')).toThrow('sha256(): topicflow expressions have no hash functions');
    expect(() => translator().mapping('{{frobnicate(1.name)}}')).toThrow('frobnicate() is not a Make function topicflow knows');
    expect(() => translator().mapping('{{var.scenario.key}}')).toThrow('scenario and custom variables (var.*) have no translation');
  });

  it('refuses expressions nested deeper than 20 levels in one short line, however deep the file nests them', () => {
    expect(() => translator().mapping(`{{${'('.repeat(5000)}1${')'.repeat(5000)}}}`)).toThrow(/^\{\{\(+…\}\}: expressions nest deeper than 20 levels \(at character 21\)$/);
    expect(() => translator().mapping(`{{${'lower('.repeat(21)}1.name${')'.repeat(21)}}}`)).toThrow(/expressions nest deeper than 20 levels/);
    expect(translator().mapping(`{{${'lower('.repeat(15)}1.name${')'.repeat(15)}}}`)).toContain('$lowercase');
  });
});

describe('general functions (help.make.com/general-functions)', () => {
  it('if, ifempty, switch and get give Make\'s documented results', async () => {
    expect(await make('{{if(1 = 1; A; B)}}')).toBe('A');
    expect(await make('{{if(1 = 2; A; B)}}')).toBe('B');
    expect(await make('{{ifempty(A; B)}}')).toBe('A');
    expect(await make('{{ifempty(1.unknown; B)}}')).toBe('B');
    expect(await make('{{ifempty(""; B)}}')).toBe('B');
    expect(await make('{{ifempty(1.nothing; B)}}')).toBe('B');
    expect(await make('{{switch(B; A; 1; B; 2; C; 3)}}')).toBe(2);
    expect(await make('{{switch(C; A; 1; B; 2; C; 3)}}')).toBe(3);
    expect(await make('{{switch(X; A; 1; B; 2; C; 3; 4)}}')).toBe(4);
    // get: dot notation into objects, 1-based positions in arrays.
    expect(await make('{{get(1.array; 1 + 1)}}')).toBe('second');
    expect(await make('{{get(1.object; raw_name.sub_raw_name)}}')).toBe('nested');
    expect(await make('{{get(1.Emails; "2.email")}}')).toBe('home@example.com');
  });
});

describe('math functions (help.make.com/math-functions)', () => {
  it('round halves up, ceil, floor, sum, parseNumber and formatNumber give Make\'s documented results', async () => {
    expect(await make('{{ceil(1.2)}}')).toBe(2);
    expect(await make('{{ceil(4)}}')).toBe(4);
    expect(await make('{{floor(1.2)}}')).toBe(1);
    expect(await make('{{floor(1.9)}}')).toBe(1);
    expect(await make('{{round(1.2)}}')).toBe(1);
    expect(await make('{{round(1.5)}}')).toBe(2);
    expect(await make('{{round(2.5)}}')).toBe(3);
    expect(await make('{{round(1.7)}}')).toBe(2);
    expect(await make('{{sum(1; 2; 3; 4; 5)}}')).toBe(15);
    expect(await make('{{parseNumber("1 756,456"; ",")}}')).toBe(1756.456);
    expect(await make('{{formatNumber(123456789; 3; ","; ".")}}')).toBe('123.456.789,000');
    expect(await make('{{formatNumber(1234.5; 2; "."; ",")}}')).toBe('1,234.50');
  });
});

describe('text and binary functions (help.make.com/text-and-binary-functions)', () => {
  it('give Make\'s documented results', async () => {
    expect(await make('{{lower("Hello")}}')).toBe('hello');
    expect(await make('{{upper("Hello")}}')).toBe('HELLO');
    expect(await make('{{capitalize("make")}}')).toBe('Make');
    expect(await make('{{length("hello")}}')).toBe(5);
    expect(await make('{{toString(12345)}}')).toBe('12345');
    expect(await make('{{contains("Hello World"; "Hello")}}')).toBe(true);
    expect(await make('{{contains("Hello World"; "Bye")}}')).toBe(false);
    expect(await make('{{split("John, George, Paul"; ", ")}}')).toEqual(['John', 'George', 'Paul']);
    expect(await make('{{substring("Hello"; 0; 3)}}')).toBe('Hel');
    expect(await make('{{substring("Hello"; 1; 3)}}')).toBe('el');
    expect(await make('{{indexOf("Make"; "k")}}')).toBe(2);
    expect(await make('{{indexOf("We love Make"; "e"; 7)}}')).toBe(11);
    expect(await make('{{trim("  Make ")}}')).toBe('Make');
    expect(await make('{{encodeURL("Automate your workflow")}}')).toBe('Automate%20your%20workflow');
    expect(await make('{{decodeURL("Automate%20your%20workflow")}}')).toBe('Automate your workflow');
    expect(await make('{{base64("Make")}}')).toBe('TWFrZQ==');
    expect(await make('{{toString(toBinary("TWFrZQ=="; "base64"))}}')).toBe('Make');
  });

  it('replace: every occurrence of a text; a regular expression with its flags and $1, $& references', async () => {
    expect(await make('{{replace("Hello World"; "Hello"; "Bye")}}')).toBe('Bye World');
    expect(await make('{{replace("a-b-c"; "-"; "+")}}')).toBe('a+b+c');
    expect(await make('{{replace(1.text; /\\d/g; X)}}')).toBe('All these numbers XXXXX will be replaced by X');
    expect(await make('{{replace(1.text; "/\\d/"; "X")}}')).toBe('All these numbers X1234 will be replaced by X');
    expect(await make('{{replace("abcDEF"; "/(.*)/"; "$1ghi")}}')).toBe('abcDEFghi');
    expect(await make('{{replace("Make"; "/a/gi"; "[$&]")}}')).toBe('M[a]ke');
    expect(() => translator().mapping('{{replace(1.name; "/x/s"; "y")}}')).toThrow('regular expression flag "s" has no translation (JSONata knows i and m)');
  });
});

describe('date and time functions (help.make.com/date-and-time-functions)', () => {
  it('addDays and addHours give Make\'s documented results', async () => {
    expect(await make('{{addDays(2016-12-08T15:55:57.536Z; 2)}}')).toBe('2016-12-10T15:55:57.536Z');
    expect(await make('{{addDays(2016-12-08T15:55:57.536Z; -2)}}')).toBe('2016-12-06T15:55:57.536Z');
    expect(await make('{{addHours(2016-12-08T15:55:57.536Z; 2)}}')).toBe('2016-12-08T17:55:57.536Z');
    expect(await make('{{addHours(2016-12-08T15:55:57.536Z; -2)}}')).toBe('2016-12-08T13:55:57.536Z');
    expect(await make('{{addMinutes(1.date; 30)}}')).toBe('2016-12-08T16:25:57.536Z');
  });

  it('formatDate writes moment.js tokens (help.make.com/tokens-for-date-time-formatting)', async () => {
    expect(await make('{{formatDate(1.newYear; "MM/DD/YYYY")}}')).toBe('01/01/2019');
    expect(await make('{{formatDate(1.newYear; "YYYY-MM-DD HH:mm")}}')).toBe('2019-01-01 12:30');
    expect(await make('{{formatDate(1.newYear; "dddd, MMMM Do YYYY, h:mm A")}}')).toBe('Tuesday, January 1st 2019, 12:30 PM');
    expect(await make('{{formatDate(1.newYear; "ddd D MMM YY [at] hh a")}}')).toBe('Tue 1 Jan 19 at 12 pm');
    expect(await make('{{formatDate(1.newYear; "YYYY-MM-DDTHH:mm:ssZ")}}')).toBe('2019-01-01T12:30:00+00:00');
    expect(await make('{{formatDate(1.newYear; "d Q DDD E")}}')).toBe('2 1 1 2');
    expect(await make('{{formatDate(1.newYear; "X")}}')).toBe('1546345800');
    expect(await make('{{formatDate(1.newYear; "HH:mm"; "+02:00")}}')).toBe('14:30');
    expect(() => translator().mapping('{{formatDate(1.newYear; "HH:mm"; "Europe/Prague")}}')).toThrow('time zone "Europe/Prague": topicflow expressions know fixed offsets only (write +01:00 or UTC)');
  });

  it('parseDate reads text in a moment.js format, and X as Unix seconds', async () => {
    expect(await make('{{parseDate("2016-12-28"; "YYYY-MM-DD")}}')).toBe('2016-12-28T00:00:00.000Z');
    expect(await make('{{parseDate("2016-12-28 16:03"; "YYYY-MM-DD HH:mm")}}')).toBe('2016-12-28T16:03:00.000Z');
    expect(await make('{{parseDate("1482940980"; "X")}}')).toBe('2016-12-28T16:03:00.000Z');
    expect(await make('{{parseDate("28 December 2016"; "D MMMM YYYY")}}')).toBe('2016-12-28T00:00:00.000Z');
  });

  it('now is the current time, and a date text round-trips through formatDate', async () => {
    const before = Date.now();
    const now = Date.parse(String(await make('{{now}}')));
    expect(now).toBeGreaterThanOrEqual(before - 1000);
    expect(now).toBeLessThanOrEqual(Date.now() + 1000);
    expect(await make('{{formatDate(parseDate("2016-12-28"; "YYYY-MM-DD"); "DD.MM.YYYY")}}')).toBe('28.12.2016');
  });
});

describe('array functions (help.make.com/array-functions)', () => {
  it('give Make\'s documented results, with 1-based get and 0-based slice', async () => {
    expect(await make('{{map(1.Emails; email)}}')).toEqual(['work@example.com', 'home@example.com', 'other@example.com']);
    // map(Emails[]; email; label; work,home): the emails labelled work or home.
    expect(await make('{{map(1.Emails; email; label; work,home)}}')).toEqual(['work@example.com', 'home@example.com']);
    expect(await make('{{join(map(1.Emails; "email"); ", ")}}')).toBe('work@example.com, home@example.com, other@example.com');
    expect(await make('{{first(1.array)}}')).toBe('first');
    expect(await make('{{last(1.array)}}')).toBe('third');
    expect(await make('{{length(1.array)}}')).toBe(3);
    expect(await make('{{slice(1.array; 1; 2)}}')).toEqual(['second']);
    expect(await make('{{slice(1.array; 1)}}')).toEqual(['second', 'third']);
    expect(await make('{{merge(1.tags; split("a,b"; ","))}}')).toEqual(['seo', 'content', 'a', 'b']);
    expect(await make('{{deduplicate(split("a,b,a"; ","))}}')).toEqual(['a', 'b']);
    // sort: asc is A, B, C, a, b, c for text; asc ci ignores case.
    expect(await make('{{sort(split("b,A,a,B"; ","))}}')).toEqual(['A', 'B', 'a', 'b']);
    expect(await make('{{sort(split("b,A,c"; ","); "desc ci")}}')).toEqual(['c', 'b', 'A']);
    expect(await make('{{map(sort(1.Emails; desc; email); label)}}')).toEqual(['work', 'other', 'home']);
    expect(await make('{{add(1.tags; "links")}}')).toEqual(['seo', 'content', 'links']);
    expect(await make('{{remove(1.tags; "seo")}}')).toEqual(['content']);
    expect(await make('{{keys(1.object)}}')).toEqual(['raw_name']);
    expect(await make('{{emptyarray}}')).toEqual([]);
  });
});

describe('operators, keywords and empty values', () => {
  it('+ adds numbers and joins text; arithmetic reads numbers written as text; & and | are and and or', async () => {
    expect(await make('{{1 + 1}}')).toBe(2);
    expect(await make('{{1.score + 5}}')).toBe(80);
    expect(await make('{{"a" + 1}}')).toBe('a1');
    expect(await make('{{1.n * 2}}')).toBe(6);
    expect(await make('{{1.score > 50 & 1.score < 100}}')).toBe(true);
    expect(await make('{{1.score = 10 | 1.n = "3"}}')).toBe(true);
    expect(await make('{{1.score != 75}}')).toBe(false);
    expect(await make('{{!(1.score > 50)}}')).toBe(false);
  });

  it('missing values read as nothing in text, arrays as "a, b", keywords as their characters', async () => {
    expect(await make('Hi {{1.missing}}!')).toBe('Hi !');
    expect(await make('Tags: {{1.tags[]}}')).toBe('Tags: seo, content');
    expect(await make('a{{space}}b{{newline}}c{{emptystring}}')).toBe('a b\nc');
    expect(await make('{{1.missing}}')).toBeUndefined();
  });
});

describe('filters', () => {
  const when = async (conditions: MakeCondition[][]) => {
    const tr = translator();
    const cond = filterCondition(conditions, tr, (_side, raw) => mappedOperand(raw, tr, { predicate: false }));
    return evaluateExpression(cond!, scope);
  };
  it('Make\'s operators hold as Make evaluates them', async () => {
    expect(await when([[{ a: '{{1.score}}', o: 'number:greater', b: '50' }]])).toBe(true);
    expect(await when([[{ a: '{{1.score}}', o: 'number:lessorequal', b: '50' }]])).toBe(false);
    expect(await when([[{ a: '{{1.name}}', o: 'text:equal', b: 'Hello World' }]])).toBe(true);
    expect(await when([[{ a: '{{1.name}}', o: 'text:equal', b: 'hello world' }]])).toBe(false);
    expect(await when([[{ a: '{{1.name}}', o: 'text:equal:ci', b: 'hello world' }]])).toBe(true);
    expect(await when([[{ a: '{{1.name}}', o: 'text:notequal', b: 'x' }]])).toBe(true);
    expect(await when([[{ a: '{{1.missing}}', o: 'text:notequal', b: 'x' }]])).toBe(true);
    expect(await when([[{ a: '{{1.name}}', o: 'text:contain', b: 'World' }]])).toBe(true);
    expect(await when([[{ a: '{{1.missing}}', o: 'text:notcontain', b: 'World' }]])).toBe(true);
    expect(await when([[{ a: '{{1.name}}', o: 'text:startwith', b: 'Hello' }]])).toBe(true);
    expect(await when([[{ a: '{{1.name}}', o: 'text:endwith', b: 'World' }]])).toBe(true);
    expect(await when([[{ a: '{{1.text}}', o: 'text:pattern', b: '\\d{5}' }]])).toBe(true);
    expect(await when([[{ a: '{{1.name}}', o: 'exist' }]])).toBe(true);
    expect(await when([[{ a: '{{1.empty}}', o: 'exist' }]])).toBe(false);
    expect(await when([[{ a: '{{1.nothing}}', o: 'notexist' }]])).toBe(true);
    expect(await when([[{ a: '{{1.date}}', o: 'date:less', b: '{{1.newYear}}' }]])).toBe(true);
    expect(await when([[{ a: '{{1.tags}}', o: 'array:contain', b: 'seo' }]])).toBe(true);
    expect(await when([[{ a: 'false', o: 'boolean:equal', b: 'false' }]])).toBe(true);
    // Groups are joined by "or", conditions of a group by "and".
    expect(await when([[{ a: '{{1.score}}', o: 'number:less', b: '10' }], [{ a: '{{1.name}}', o: 'exist' }, { a: '{{1.n}}', o: 'number:equal', b: '3' }]])).toBe(true);
    const tr = translator();
    expect(() => filterCondition([[{ a: 'x', o: 'time:greater', b: 'y' }]], tr, (_s, raw) => mappedOperand(raw, tr, { predicate: false })))
      .toThrow('filter operator "time:greater" has no translation');
  });
});
