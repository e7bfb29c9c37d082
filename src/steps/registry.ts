/**
 * Every step type topicflow knows, listed explicitly (no folder scanning). A blueprint names a
 * step as `type@version`; old versions stay listed so blueprints that pin them keep working.
 */
import { stepRef, type StepCatalog } from '../blueprint/catalog.ts';
import { PROVIDER_DEFAULTS } from '../providers/limits.ts';
import type { StepDefinition } from './define.ts';
import dataSet from './data.set.ts';
import flowFilter from './flow.filter.ts';
import httpRequest from './http.request.ts';
import serperSearch from './serper.search.ts';
import sheetsReadRows from './sheets.read-rows.ts';
import sheetsUpsertRows from './sheets.upsert-rows.ts';
import sheetsUpdateCells from './sheets.update-cells.ts';
import datastoreUpsert from './datastore.upsert.ts';
import datastoreGet from './datastore.get.ts';
import datastoreSearch from './datastore.search.ts';
import { pageExtract } from './page.extract.ts';
import openaiChat from './openai.chat.ts';
import openaiExtractIdeas from './openai.extract-ideas.ts';
import openaiWriteBrief from './openai.write-brief.ts';
import serpClusterKeywords from './serp.cluster-keywords.ts';
import serperHarvestQuestions from './serper.harvest-questions.ts';
import keywordsMetrics from './keywords.metrics.ts';

export const STEP_TYPES: readonly StepDefinition[] = [
  dataSet,
  flowFilter,
  httpRequest,
  serperSearch,
  sheetsReadRows,
  sheetsUpsertRows,
  sheetsUpdateCells,
  datastoreUpsert,
  datastoreGet,
  datastoreSearch,
  pageExtract,
  openaiChat,
  openaiExtractIdeas,
  openaiWriteBrief,
  serpClusterKeywords,
  serperHarvestQuestions,
  keywordsMetrics,
] as StepDefinition[];

/** The step catalog the blueprint layer validates and compiles against, with the runnable definitions. */
export type StepRegistry = StepCatalog<StepDefinition>;

export function createRegistry(types: readonly StepDefinition[] = STEP_TYPES): StepRegistry {
  const byRef = new Map(types.map((t) => [stepRef(t), t]));
  return {
    get: (ref) => byRef.get(ref),
    versions: (type) => types.filter((t) => t.type === type).map((t) => t.version).sort((a, b) => a - b),
    all: () => types,
    providers: () => PROVIDER_DEFAULTS,
  };
}

export const defaultRegistry = createRegistry();

/**
 * Loads what the built-in step types otherwise load on first use: the HTTP transport, the OpenAI
 * SDK and its request thread's module, the page extractor (linkedom, Readability, the thread
 * pool). A process that runs steps calls it before it takes jobs: loading is synchronous work on
 * the main thread, and done mid-run it held back requests that had their rate slots, which then
 * went out together. `validate` and `--help` never call it.
 */
export async function loadStepRuntimes(): Promise<void> {
  await Promise.all([
    import('../providers/http/client.ts').then((m) => m.loadHttpTransport()),
    import('../llm/structured.ts'),
    import('../extract/fetch-and-extract.ts'),
    import('../extract/pool.ts'),
  ]);
}
