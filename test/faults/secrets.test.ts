/**
 * Secrets: a full topic-research job run through the CLI with distinctive API keys (Serper,
 * OpenAI, a Google service account), plus runs with wrong keys, and then every output is
 * searched for the keys: CLI stdout/stderr, every table of the SQLite store, the workflow file,
 * the data directory, the sheets (Google fake and a local workbook), with TOPICFLOW_DEBUG on too.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedKeywords, startTopicEnv, type TopicEnv } from '../helpers/topic-env.ts';
import { cliDone, keywordBook, keywords, tempDir, writeBlueprint } from './harness.ts';
import { HANG_MS } from '../helpers/progress.ts';

const SERPER_KEY = 'serper-SECRET-4b1d7e9a0c3f5e28d6a1b7c9e0f2a4d6';
const OPENAI_KEY = 'sk-proj-SECRET-9f8e7d6c5b4a39281706f5e4d3c2b1a0';
const WRONG_SERPER = 'serper-WRONG-0a9b8c7d6e5f40312a3b4c5d6e7f8091';
const WRONG_OPENAI = 'sk-proj-WRONG-1a2b3c4d5e6f708192a3b4c5d6e7f809';

let fx: TopicEnv;
let secrets: string[];
beforeAll(async () => {
  fx = await startTopicEnv({ serper: { apiKey: SERPER_KEY }, openai: { apiKey: OPENAI_KEY } });
  const sa = JSON.parse(fx.env.GOOGLE_SERVICE_ACCOUNT_JSON!) as { private_key: string };
  // Three distinctive runs of the PEM body: any leak of the key shows at least one of them.
  const body = sa.private_key.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
  secrets = [SERPER_KEY, OPENAI_KEY, WRONG_SERPER, WRONG_OPENAI, body.slice(40, 80), body.slice(400, 440), body.slice(-120, -80)];
});
afterAll(() => fx.close());

/** Every file under `dir`, as text (binary files as latin1 so byte strings still match). */
function filesUnder(dir: string): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push({ path: p, text: readFileSync(p).toString('latin1') });
  }
  return out;
}

function sqliteDump(db: string): string {
  const conn = new DatabaseSync(db, { readOnly: true });
  try {
    const tables = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[];
    expect(tables.length).toBeGreaterThan(3);
    return tables.map((t) => `${t.name}\n${JSON.stringify(conn.prepare(`SELECT * FROM "${t.name}"`).all(), (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : v))}`).join('\n');
  } finally { conn.close(); }
}

async function workbookText(path: string): Promise<string> {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.readFile(path);
  const parts: string[] = [];
  wb.eachSheet((ws) => ws.eachRow((row) => parts.push(JSON.stringify(row.values))));
  return parts.join('\n');
}

function leaks(where: string, text: string): string[] {
  return secrets.filter((s) => text.includes(s)).map((s) => `${where} contains ${s.slice(0, 12)}...`);
}

describe('secrets never leave the environment', () => {
  it('a full job (Google Sheets and .xlsx), wrong keys and debug mode: no key in any output', async () => {
    const dir = tempDir('secrets');
    const db = join(dir, 'data', 'topicflow.db');
    const env = { ...fx.env, TOPICFLOW_DB: db };
    const found: string[] = [];
    const outputs: string[] = [];
    const record = (name: string, r: { stdout: string; stderr: string }) => { outputs.push(`${name}\n${r.stdout}\n${r.stderr}`); };

    const sheetId = '1SecretsSheet0aBcDeFgHiJkLmNoPqRsTuVwXyZ012';
    fx.sheets.addSpreadsheet(sheetId, {});
    await seedKeywords(sheetId, keywords(3, 'secret').map((keyword) => ({ keyword })), fx.env);
    const file = writeBlueprint(dir);
    const imported = await cliDone(['import', file, '--name', 'secrets', '--set', `spreadsheet=${sheetId}`, '--set', 'allowPrivateNetwork=true', '--set', 'results=2'], env, dir);
    record('import', imported);
    expect(imported.code, imported.stderr).toBe(0);
    const run = await cliDone(['run', 'secrets'], env, dir);
    record('run', run);
    expect(run.code, run.stderr).toBe(0);
    const json = await cliDone(['run', 'secrets', '--json'], env, dir);
    record('run --json', json);

    const book = await keywordBook(dir, keywords(2, 'local'));
    const local = await cliDone(['run', file, '--set', `spreadsheet=${book}`, '--set', 'allowPrivateNetwork=true', '--set', 'results=2'], env, dir);
    record('run xlsx', local);
    expect(local.code, local.stderr).toBe(0);

    // Wrong keys: the errors name the variable, never its value.
    const book2 = await keywordBook(dir, keywords(2, 'wrong'), 'wrong.xlsx');
    const badSerper = await cliDone(['run', file, '--set', `spreadsheet=${book2}`, '--set', 'allowPrivateNetwork=true'], { ...env, SERPER_API_KEY: WRONG_SERPER }, dir);
    record('bad serper', badSerper);
    expect(badSerper.code).toBe(1);
    expect(badSerper.stderr + badSerper.stdout).toMatch(/SERPER_API_KEY/);
    const book3 = await keywordBook(dir, keywords(2, 'wrongai'), 'wrongai.xlsx');
    const badOpenAI = await cliDone(['run', file, '--set', `spreadsheet=${book3}`, '--set', 'allowPrivateNetwork=true'], { ...env, OPENAI_API_KEY: WRONG_OPENAI }, dir);
    record('bad openai', badOpenAI);
    expect(badOpenAI.code).toBe(1);
    expect(badOpenAI.stderr + badOpenAI.stdout).toMatch(/OPENAI_API_KEY/);
    record('runs', await cliDone(['runs'], env, dir));
    record('debug', await cliDone(['run', file, '--set', `spreadsheet=${book3}`], { ...env, OPENAI_API_KEY: WRONG_OPENAI, TOPICFLOW_DEBUG: '1' }, dir));

    for (const o of outputs) found.push(...leaks(o.split('\n')[0]!, o));
    found.push(...leaks('sqlite store', sqliteDump(db)));
    for (const f of filesUnder(dir)) found.push(...leaks(f.path, f.text));
    for (const b of [book, book2, book3]) found.push(...leaks(b, await workbookText(b)));
    for (const tabName of ['Keywords', 'SERP Results', 'Content Ideas']) found.push(...leaks(`google ${tabName}`, JSON.stringify(fx.sheets.cells(sheetId, tabName))));
    expect(found).toEqual([]);
    // The job really ran against the keyed fakes.
    expect(fx.serper.requests.filter((r) => r.keyOk).length).toBeGreaterThanOrEqual(5);
    expect(fx.openai.requests.some((r) => r.authorization === `Bearer ${OPENAI_KEY}`)).toBe(true);
  }, HANG_MS);
});
