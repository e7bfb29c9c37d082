/**
 * What a module translator works with ({@link ModuleContext}) and gives back ({@link Emitted}):
 * one file per module family (modules/*.ts) turns a Make module into topicflow steps.
 */
import type { BlueprintInput, BlueprintStep, DatastoreDecl } from '../../blueprint/schema.ts';
import type { MakeModule } from './export.ts';
import type { Segment } from './iml/ast.ts';
import type { ImlTranslator, PathTools } from './iml/translate.ts';

export interface MakeImportOptions {
  /** Content-extraction HTTP calls become page.extract steps. @default false */
  mapExtract?: boolean;
}

/** What one Make module became. */
export interface Emitted {
  /** In order; later ones may use earlier ones. */
  steps: BlueprintStep[];
  /** The first step: the module's filter (`when`) and its place in the flow (`after`) go here. */
  entry: string;
  /** The step that does the module's work: error handlers (`onError`, `retry`) go here. @default entry */
  main?: string;
  /** The step the next module of the flow follows. */
  chain: string;
  /** JSONata reading the module's output bundle at a Make path (`data.organic`). */
  read(path: Segment[], tools: PathTools): string;
}

/** A sheet as Make modules name it: its spreadsheet mapping value and tab. */
export interface SheetRef {
  /** The blueprint mapping value of the spreadsheet (`{{ inputs.spreadsheet }}`). */
  spreadsheet: string;
  /** The tab name, or a mapping value. */
  tab: string;
  /** Column index → header text, from the labels Make stores (`Keyword (B)`). */
  headers: Map<number, string>;
  /** The step that reads the tab's header row, for columns no label names. */
  headerStep?: string;
}

export interface ModuleContext {
  mod: MakeModule;
  tr: ImlTranslator;
  options: MakeImportOptions;
  /** A step id for this module: `base` + the module's number, unique in the blueprint. */
  id(base: string): string;
  /** A mapper value (text, number, list, collection) as a topicflow mapping value. */
  map(value: unknown, where: string): unknown;
  /** A mapper value as one JSONata expression (typed when it is one `{{ }}`). */
  expr(value: unknown, where: string): string;
  /** Declares a workflow input (once) and returns its name. */
  input(name: string, decl: BlueprintInput): string;
  /** Records an environment variable the workflow needs. */
  env(variable: string, why: string): void;
  /** Declares a data store (once). */
  datastore(name: string, decl: DatastoreDecl): void;
  /** Adds a step that runs once per run before the flow (a tab's header row); returns its id. */
  prelude(step: BlueprintStep): string;
  /** Records an approximation of this module. */
  note(text: string): void;
  /** The sheet a Google Sheets module works on. */
  sheet(): SheetRef;
  /** The module before this one in its route, when there is one. */
  previous?: MakeModule;
  /** The step the module before this one chains to (undefined at the start of the scenario). */
  previousStep?: string;
  /** `per` of an aggregator whose loop opened at module `feeder`. */
  perFor(feeder: number): string;
  /** Modules of the scenario by number. */
  module(id: number): MakeModule | undefined;
  /** The modules translated before this one, in the order of the scenario. */
  earlier(): MakeModule[];
  /** The modules after this one, in the order of the scenario. */
  later(): MakeModule[];
  /** What an earlier module became (undefined when it was not translated). */
  emitted(id: number): Emitted | undefined;
}

/** A translator of one module family. Throws Untranslatable for what it cannot express. */
export type ModuleTranslator = (ctx: ModuleContext) => Emitted;

/** A mapper field as a string (mapped values are strings; numbers and booleans are literals). */
export function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}
