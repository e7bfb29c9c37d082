#!/usr/bin/env node
// Shim so that `npx topicflow` runs the TypeScript CLI directly (Node 24 strips types).
import { cli } from '../src/cli/main.ts';

cli();
