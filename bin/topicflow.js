#!/usr/bin/env -S node --heap-growing-percent=50 --max-semi-space-size=8
// Shim so that `npx topicflow` runs the TypeScript CLI directly (Node 24 strips types). The flags
// keep the heap near its live size (see README, "Memory"): measured 586 against 895 MB peak RSS.
import { cli } from '../src/cli/main.ts';

cli();
