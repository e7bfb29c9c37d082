/**
 * `data.set@1`: Make's "Set variables" / a transform. Its output is its evaluated input mapping,
 * so `{"with": {"rows": "{{ $map(steps.search.organic, function($o){ {'link': $o.link} }) }}"}}`
 * gives later steps `steps.<id>.rows`.
 */
import { z } from 'zod';
import { defineStep } from './define.ts';

export default defineStep({
  type: 'data.set',
  version: 1,
  pure: true,
  description: 'Outputs its input mapping: build values and reshape data with expressions.',
  input: z.record(z.string(), z.unknown()).describe('Any fields; the output has the same fields.'),
  async run(input) {
    return input;
  },
});
