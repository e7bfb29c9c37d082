#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --heap-growing-percent=50 --max-semi-space-size=8
// Shim so that `npx topicflow` runs the TypeScript CLI directly (Node 24 strips types). The flags
// keep the heap near its live size (see README, "Memory"): measured 586 against 895 MB peak RSS.
// MALLOC_ARENA_MAX=2 keeps glibc from giving each thread (extraction, WAL checkpoints) its own
// malloc arenas: 572 against 647 MB peak RSS in the 1000-keyword bench.
import { cli } from '../src/cli/main.ts';

cli();
