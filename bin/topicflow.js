#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --heap-growing-percent=50 --max-semi-space-size=8
// The `topicflow` command. Plain JavaScript that any Node can parse, so that an older Node gets
// one line instead of a stack trace. The flags keep the heap near its live size and glibc from
// giving each thread its own malloc arenas (see README, "Speed and memory").
const version = process.versions.node;
if (Number(version.split('.')[0]) < 24) {
  process.stderr.write(`topicflow needs Node.js 24 or newer (this is v${version})\n`);
  process.exit(2);
}

// V8's code cache on disk (os.tmpdir()/node-compile-cache; NODE_DISABLE_COMPILE_CACHE=1 turns it
// off): later starts skip compiling, and in a clone stripping types, what they load.
(await import('node:module')).enableCompileCache?.();
const { existsSync } = await import('node:fs');
const { fileURLToPath } = await import('node:url');
// A clone runs its TypeScript sources (Node 24 strips the types; no build needed). An installed
// package ships no src/ and runs the built dist/; Node never strips types under node_modules.
const sources = new URL('../src/cli/main.ts', import.meta.url);
const useSources = existsSync(fileURLToPath(sources)) && !/[\\/]node_modules[\\/]/.test(fileURLToPath(import.meta.url));
const { cli } = await import(useSources ? sources.href : new URL('../dist/cli/main.js', import.meta.url).href);
cli();
