/**
 * Every Make module topicflow translates, by its `app:Module` name, listed explicitly. Modules
 * not listed are reported as not supported.
 */
import type { ModuleTranslator } from '../context.ts';
import { outputOf, step } from '../steps.ts';
import { addRecord, getRecord, searchRecords } from './datastore.ts';
import { arrayAggregator, compose, iterator, repeater, textAggregator } from './flow.ts';
import { httpRequest } from './http.ts';
import { createCompletion } from './openai.ts';
import { addRow, getRange, searchRows, updateCell, updateRow, watchRows } from './sheets.ts';
import { createJson, getVariables, parseJson, setVariables } from './variables.ts';

/** `gateway:CustomWebHook`: the request body, bound as the `webhook` input when a request starts the run. */
const webhook: ModuleTranslator = (ctx) => {
  const input = ctx.input('webhook', { type: 'object', default: {}, description: 'The webhook request body (the Make scenario started on a custom webhook).' });
  const id = ctx.id('webhook');
  return { steps: [step(id, 'data.set@1', { payload: `{{ inputs.${input} }}` })], entry: id, chain: id, read: outputOf(id, ['payload']) };
};

export const MODULES: Readonly<Record<string, ModuleTranslator>> = {
  'google-sheets:filterRows': searchRows,
  'google-sheets:watchRows': watchRows,
  'google-sheets:getSheetContent': getRange,
  'google-sheets:addRow': addRow,
  'google-sheets:updateRow': updateRow,
  'google-sheets:updateCell': updateCell,
  'http:ActionSendData': httpRequest,
  'http:ActionSendDataBasicAuth': httpRequest,
  'http:ActionSendDataAPIKeyAuth': httpRequest,
  'http:MakeRequest': httpRequest,
  'builtin:BasicFeeder': iterator,
  'builtin:BasicAggregator': arrayAggregator,
  'builtin:BasicArrayAggregator': arrayAggregator,
  'util:TextAggregator': textAggregator,
  'builtin:BasicRepeater': repeater,
  'util:ComposeTransformer': compose,
  'util:SetVariable': setVariables,
  'util:SetVariable2': setVariables,
  'util:SetVariables': setVariables,
  'util:GetVariable2': getVariables,
  'util:GetVariables': getVariables,
  'json:ParseJSON': parseJson,
  'json:CreateJSON': createJson,
  'json:TransformToJSON': createJson,
  'datastore:AddRecord': addRecord,
  'datastore:UpdateRecord': addRecord,
  'datastore:GetRecord': getRecord,
  'datastore:ExistRecord': getRecord,
  'datastore:SearchRecord': searchRecords,
  'datastore:SearchRecords': searchRecords,
  'openai-gpt-3:CreateCompletion': createCompletion,
  'gateway:CustomWebHook': webhook,
};

/** Why some well-known modules are not supported, for their report line. */
export const UNSUPPORTED_MODULES: Readonly<Record<string, string>> = {
  'datastore:DeleteRecord': 'topicflow has no step that deletes data store records',
  'datastore:DeleteAllRecords': 'topicflow has no step that deletes data store records',
  'google-sheets:clearValuesFromRange': 'topicflow has no step that clears a range of cells',
  'google-sheets:clearCell': 'topicflow has no step that clears a cell',
  'google-sheets:deleteRow': 'topicflow has no step that deletes rows',
  'gateway:WebhookRespond': 'topicflow has no webhook response step',
  'builtin:BasicIfElse': 'if-else branches have no translation; a router with filters does',
  'builtin:BasicMerge': 'merging branches has no translation',
  'util:FunctionSleep': 'topicflow paces calls with provider rate limits (limits.providers in the blueprint), not pauses',
  'builtin:Sleep': 'topicflow paces calls with provider rate limits (limits.providers in the blueprint), not pauses',
};
