/**
 * `flow.filter@1`: Make's filter. When `condition` is false the item is dropped: nothing that
 * uses this step runs for it, and it counts as filtered, not failed.
 */
import { z } from 'zod';
import { defineStep, filtered } from './define.ts';
import { truthy } from '../blueprint/expressions.ts';

export default defineStep({
  type: 'flow.filter',
  version: 1,
  pure: true,
  description: 'Lets the current item through only when a condition holds.',
  input: z.strictObject({
    condition: z.unknown().describe('Usually an expression, e.g. "{{ item.status = \'pending\' }}". Falsy values ("", 0, false, null, []) drop the item.'),
    reason: z.string().optional().describe('Recorded on dropped items. @default "condition was false"'),
  }),
  async run(input) {
    if (!truthy(input.condition)) return filtered(input.reason ?? 'condition was false');
    return { passed: true };
  },
});
