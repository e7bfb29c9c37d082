/**
 * The layers of src/ (docs/architecture.md): imports point down only, and nothing is circular.
 * `npm run lint:deps` checks it; `npm test` runs it first.
 *
 *   entry points   cli, server (dashboard + HTTP API), index.ts, importers (Make.com scenarios)
 *   app            app (runtime, workflows folder, runWorkflow), scheduler
 *   engine         engine
 *   steps          steps (one file per type, their registry and context)
 *   services       providers, extract, llm, research (briefs, clusters, questions)
 *   foundations    blueprint, store, queue
 *   shared         shared
 */
const layer = (...folders) => `^src/(${folders.join('|')})/`;
const SHARED = layer('shared');
const FOUNDATIONS = layer('blueprint', 'store', 'queue');
const SERVICES = layer('providers', 'extract', 'llm', 'research');
const STEPS = layer('steps');
const ENGINE = layer('engine');
const APP = layer('app', 'scheduler');
const ENTRY = '^src/(cli/|server/|importers/|index\\.ts$)';

/** A rule that forbids `from` to import anything in `to`. */
const forbid = (name, comment, from, to) => ({ name, comment, severity: 'error', from: { path: from }, to: { path: to } });

module.exports = {
  forbidden: [
    { name: 'no-circular', comment: 'A cycle makes two modules one; split what both need into a lower module.', severity: 'error', from: {}, to: { circular: true } },
    forbid('shared-is-the-floor', 'shared utilities import nothing of topicflow above them', SHARED, [FOUNDATIONS, SERVICES, STEPS, ENGINE, APP, ENTRY].join('|')),
    forbid('foundations-stand-alone', 'the blueprint format, the stores and the queue drivers know nothing of each other or of anything above them', '^src/blueprint/', [layer('store', 'queue'), SERVICES, STEPS, ENGINE, APP, ENTRY].join('|')),
    forbid('store-stands-alone', 'a store knows nothing of the blueprint, the queues or anything above', '^src/store/', [layer('blueprint', 'queue'), SERVICES, STEPS, ENGINE, APP, ENTRY].join('|')),
    forbid('queue-stands-alone', 'a queue driver carries ids; it knows nothing of the blueprint, the store or anything above', '^src/queue/', [layer('blueprint', 'store'), SERVICES, STEPS, ENGINE, APP, ENTRY].join('|')),
    forbid('services-below-steps', 'providers, extraction, the LLM call and research logic see no step, engine, queue or store', SERVICES, [layer('store', 'queue'), STEPS, ENGINE, APP, ENTRY].join('|')),
    forbid('steps-below-engine', 'a step sees its context, the providers and the blueprint types, never the engine or a queue', STEPS, [layer('queue'), ENGINE, APP, ENTRY].join('|')),
    forbid('engine-through-steps', 'the engine reaches providers only through step types', ENGINE, [SERVICES, APP, ENTRY].join('|')),
    forbid('app-below-entry-points', 'the app layer is used by the entry points, never the other way', APP, ENTRY),
    forbid('entry-points-stand-apart', 'a command is reached through the CLI only; the library entry is not imported', '^src/', '^src/index\\.ts$'),
    forbid('server-below-cli', 'the server is started by the CLI (`topicflow serve`, `keys`), never the other way', '^src/server/', '^src/cli/'),
    forbid('importers-below-cli', 'an importer is used by the CLI (and later the server), never the other way', '^src/importers/', '^src/cli/'),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.test\\.ts$' },
    parser: 'swc',
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
