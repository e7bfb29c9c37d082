import { describe, expect, it } from 'vitest';
import { badDotEnvLine } from './dotenv.ts';

describe('badDotEnvLine', () => {
  it('accepts settings, comments, blank lines, export and multi-line quoted values', () => {
    expect(badDotEnvLine('# keys\n\nSERPER_API_KEY=abc\nexport OPENAI_API_KEY = "sk-1"\nPEM="-----BEGIN KEY-----\nabc\n-----END KEY-----"\nEMPTY=\n')).toBeUndefined();
  });
  it('names the first line that is not NAME=value', () => {
    expect(badDotEnvLine('A=1\nSERPER_API_KEY: abc\nB=2')).toBe(2);
    expect(badDotEnvLine('A=1\n\nsk-just-a-key')).toBe(3);
    expect(badDotEnvLine('=value')).toBe(1);
    expect(badDotEnvLine('MY KEY=1')).toBe(1);
  });
});
