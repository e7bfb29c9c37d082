/**
 * The driver's Lua scripts, shipped as files the way BullMQ ships its own commands:
 * `scripts/<name>-<number of keys>.lua`, each with a header naming its KEYS and ARGV, and
 * `--- @include "includes/<name>"` lines for the parts they share. Read once, when this module
 * loads; `defineScripts` makes them commands of a connection, which ioredis sends by SHA
 * (EVALSHA, loading a script Redis does not have yet) rather than the whole script each call.
 */
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

/** A script's text with its include lines replaced by the included files (one level). */
function load(file: URL): string {
  return readFileSync(file, 'utf8').replace(/^--- @include "([\w/-]+)"$/gm, (_, name: string) => readFileSync(new URL(`${name}.lua`, file), 'utf8'));
}

/** Command name → script; the number of keys is the file name's suffix. */
const FILES = {
  topicflowAcquire: new URL('./scripts/acquire-5.lua', import.meta.url),
  topicflowBundled: new URL('./scripts/bundled-1.lua', import.meta.url),
  topicflowCaution: new URL('./scripts/caution-2.lua', import.meta.url),
  topicflowObserve: new URL('./scripts/observe-5.lua', import.meta.url),
  topicflowRefit: new URL('./scripts/refit-3.lua', import.meta.url),
  topicflowSent: new URL('./scripts/sent-5.lua', import.meta.url),
  topicflowSettle: new URL('./scripts/settle-5.lua', import.meta.url),
};

const SCRIPTS = Object.entries(FILES).map(([name, file]) => ({
  name,
  lua: load(file),
  numberOfKeys: Number(/-(\d+)\.lua$/.exec(file.pathname)![1]),
}));

/** The scripts as commands of a connection (see the headers of their files). */
export interface Scripts {
  topicflowAcquire(...args: (string | number)[]): Promise<number | [number, number]>;
  topicflowBundled(...args: (string | number)[]): Promise<number[]>;
  topicflowRefit(...args: (string | number)[]): Promise<[number, number]>;
  topicflowSent(...args: (string | number)[]): Promise<number>;
  topicflowCaution(...args: (string | number)[]): Promise<number>;
  topicflowObserve(...args: (string | number)[]): Promise<[number, number]>;
  topicflowSettle(...args: (string | number)[]): Promise<number>;
}

/** Defines the scripts as commands of `redis`, and returns it typed with them. */
export function defineScripts(redis: Redis): Redis & Scripts {
  for (const { name, lua, numberOfKeys } of SCRIPTS) redis.defineCommand(name, { numberOfKeys, lua });
  return redis as Redis & Scripts;
}
