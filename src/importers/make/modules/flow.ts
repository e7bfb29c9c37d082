/**
 * Flow control. Make's iterator splits an array into bundles: a step with `each`. Its
 * aggregators merge the bundles of a loop back into one: a step with `per` (the level that
 * encloses the loop) collecting one part per bundle. Routers and filters are handled by the
 * scenario walk (`when` on each route's first step); Compose and Repeater are data.set steps.
 */
import type { ModuleContext, ModuleTranslator } from '../context.ts';
import { text } from '../context.ts';
import { DependsOn, Untranslatable } from '../iml/errors.ts';
import { list, str } from '../iml/jsonata.ts';
import { head, outputOf, step } from '../steps.ts';

/** `builtin:BasicFeeder`: one item per element of `array`. */
export const iterator: ModuleTranslator = (ctx) => {
  const array = ctx.mod.mapper.array;
  if (typeof array !== 'string' || !array.includes('{{')) throw new Untranslatable('mapper.array maps no array');
  const each = ctx.expr(array, 'mapper.array');
  const id = ctx.id('iterator');
  return {
    steps: [step(id, 'data.set@1', { element: '{{ item }}', position: '{{ index + 1 }}' }, { each, description: 'One item per element, as Make\'s iterator outputs one bundle per element.' })],
    entry: id,
    chain: id,
    read: (path, tools) => {
      const { key, rest } = head(path);
      const base = tools.root(`steps.${id}`);
      if (key === '__IMTINDEX__') return tools.follow(`${base}.position`, rest);
      if (key === '__IMTLENGTH__') return tools.follow(`$count(${list(each.replace(/\bsteps\./g, tools.root('steps.')))})`, rest);
      // An element that is not a collection is output as { value }.
      if (key === 'value') return tools.follow(`($type(${base}.element) = 'object' ? ${base}.element.value : ${base}.element)`, rest);
      return tools.follow(`${base}.element`, path);
    },
  };
};

function feederOf(ctx: ModuleContext): number {
  const feeder = ctx.mod.parameters.feeder;
  if (typeof feeder !== 'number' || !ctx.module(feeder)) throw new Untranslatable('parameters.feeder names no module of the scenario');
  if (!ctx.emitted(feeder)) throw new DependsOn(feeder, `its loop opens at module ${feeder}, which is not translated`);
  return feeder;
}

/** `builtin:BasicAggregator` (and `BasicArrayAggregator`): `array` of the bundles' aggregated fields. */
export const arrayAggregator: ModuleTranslator = (ctx) => {
  const feeder = feederOf(ctx);
  if (ctx.mod.parameters.groupBy !== undefined && ctx.mod.parameters.groupBy !== '' || ctx.mod.mapper.__IMTAGGLENGTH__ !== undefined) {
    throw new Untranslatable('grouping (Group by) has no translation');
  }
  const fields = Object.entries(ctx.mod.mapper).filter(([k]) => !k.startsWith('__'));
  if (fields.length === 0) throw new Untranslatable('it aggregates no fields');
  const partId = ctx.id('bundle');
  const aggId = ctx.id('aggregate');
  const part: Record<string, unknown> = {};
  for (const [k, v] of fields) part[k] = ctx.map(v, `mapper.${k}`);
  return {
    steps: [
      step(partId, 'data.set@1', part, { description: 'One aggregated bundle.' }),
      step(aggId, 'data.set@1', { array: `{{ [steps.${partId}] }}` }, { per: ctx.perFor(feeder), description: `The bundles of the loop that opens at Make module ${feeder}, as Make's aggregator outputs them.` }),
    ],
    entry: partId,
    chain: aggId,
    read: (path, tools) => {
      const { key, rest } = head(path);
      const base = tools.root(`steps.${aggId}`);
      if (key === 'array') return tools.follow(`${base}.array`, rest);
      if (key === '__IMTAGGLENGTH__') return tools.follow(`$count(${base}.array)`, rest);
      throw new Untranslatable(`uses "${key ?? '[]'}" of an array aggregator (its output is array)`);
    },
  };
};

/** `util:TextAggregator`: the bundles' `value` texts joined by the row separator. */
export const textAggregator: ModuleTranslator = (ctx) => {
  const feeder = feederOf(ctx);
  const raw = ctx.mod.parameters.rowSeparator ?? ctx.mod.mapper.rowSeparator;
  let sep = typeof raw === 'string' ? raw : '';
  if (sep === 'other') sep = text(ctx.mod.mapper.otherSeparator ?? ctx.mod.parameters.otherSeparator) ?? '';
  const partId = ctx.id('textPart');
  const aggId = ctx.id('text');
  return {
    steps: [
      step(partId, 'data.set@1', { value: ctx.map(ctx.mod.mapper.value ?? '', 'mapper.value') }),
      step(aggId, 'data.set@1', { text: `{{ $join([steps.${partId}.value].$string($), ${str(sep)}) }}` }, { per: ctx.perFor(feeder) }),
    ],
    entry: partId,
    chain: aggId,
    read: outputOf(aggId),
  };
};

/** `builtin:BasicRepeater`: bundles with `i` = start, start + step, ... */
export const repeater: ModuleTranslator = (ctx) => {
  const num = (k: string, dflt: string) => {
    const v = ctx.mod.mapper[k];
    if (v === undefined || v === '') return dflt;
    return typeof v === 'number' ? String(v) : `$number(${ctx.expr(v, `mapper.${k}`)})`;
  };
  const id = ctx.id('repeat');
  const k = ctx.tr.variable();
  const each = `$map([0..(${num('repeats', '1')} - 1)], function(${k}) { ${num('start', '1')} + ${k} * ${num('step', '1')} })`;
  return {
    steps: [step(id, 'data.set@1', { i: '{{ item }}' }, { each })],
    entry: id,
    chain: id,
    read: outputOf(id),
  };
};

/** `util:ComposeTransformer` (Compose a string): `value`. */
export const compose: ModuleTranslator = (ctx) => {
  const id = ctx.id('compose');
  return {
    steps: [step(id, 'data.set@1', { value: ctx.map(ctx.mod.mapper.value ?? '', 'mapper.value') })],
    entry: id,
    chain: id,
    read: outputOf(id),
  };
};
