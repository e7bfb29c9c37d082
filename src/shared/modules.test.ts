import { describe, expect, it } from 'vitest';
import { siblingModule } from './modules.ts';

describe('siblingModule', () => {
  it('keeps the extension of the module that asks: .ts in the sources, .js in dist/', () => {
    expect(siblingModule('file:///p/src/extract/pool.ts', 'worker').href).toBe('file:///p/src/extract/worker.ts');
    expect(siblingModule('file:///p/dist/extract/pool.js', 'worker').href).toBe('file:///p/dist/extract/worker.js');
  });
});
