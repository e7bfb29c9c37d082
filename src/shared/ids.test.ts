import { describe, expect, it } from 'vitest';
import { newId } from './ids.ts';

describe('newId', () => {
  it('is unique across many ids, prefixed, time-sortable and readable', () => {
    const ids = Array.from({ length: 20_000 }, () => newId('sr'));
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids.slice(0, 2000)) expect(id).toMatch(/^sr_[0-9a-z]+[0-9a-f]{10}$/);
    // Past the 4 KB of random bytes drawn at a time, ids keep coming from fresh bytes.
    expect(new Set(ids.map((id) => id.slice(-10))).size).toBe(ids.length);
  });
});
