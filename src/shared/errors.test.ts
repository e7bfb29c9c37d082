import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  deserializeError, formatError, internalError, isRateLimited, isSerializedError, quotaError, serializeError, TopicflowError,
  transientError, userError, type SerializedError,
} from './errors.ts';

/** What a queue hop or a store row does to an error. */
const throughJson = (e: SerializedError): SerializedError => JSON.parse(JSON.stringify(e)) as SerializedError;

describe('serializeError / deserializeError', () => {
  it('keeps code, fault, status, requestId, retryAfterMs and where through JSON', () => {
    const original = transientError('serper.rate_limited', 'Serper said 429', {
      status: 429, requestId: 'req_123', retryAfterMs: 90_000, where: 'step search, keyword "seo tools"',
    });
    const s = throughJson(serializeError(original));
    expect(s).toEqual({
      code: 'serper.rate_limited', fault: 'transient', message: 'Serper said 429',
      status: 429, requestId: 'req_123', retryAfterMs: 90_000, where: 'step search, keyword "seo tools"',
    });
    const back = deserializeError(s);
    expect(back).toBeInstanceOf(Error);
    expect(back).toMatchObject({ code: 'serper.rate_limited', fault: 'transient', status: 429, retryAfterMs: 90_000 });
    expect(serializeError(back)).toEqual(s);
  });

  it('keeps each fault and leaves out what was not set', () => {
    for (const make of [userError, quotaError, transientError]) {
      const s = throughJson(serializeError(make('x.y', 'msg')));
      expect(Object.keys(s).sort()).toEqual(['code', 'fault', 'message']);
      expect(deserializeError(s).fault).toBe(s.fault);
    }
  });

  it('keeps the stack of internal errors only', () => {
    const bug = serializeError(internalError('engine.bug', 'impossible state'));
    expect(bug.stack).toContain('impossible state');
    expect(deserializeError(throughJson(bug)).stack).toBe(bug.stack);
    expect(serializeError(userError('x.y', 'bad')).stack).toBeUndefined();
  });

  it('passes an already serialized error through as a copy', () => {
    const s: SerializedError = { code: 'a.b', fault: 'quota', message: 'out of credits' };
    const again = serializeError(s);
    expect(again).toEqual(s);
    expect(again).not.toBe(s);
    expect(isSerializedError(s)).toBe(true);
    expect(isSerializedError(new TopicflowError('user', 'a.b', 'm'))).toBe(false);
    expect(isSerializedError({ code: 'a.b', fault: 'oops', message: 'm' })).toBe(false);
  });
});

describe('serializeError classification', () => {
  it('makes Node network errors transient', () => {
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    expect(serializeError(reset)).toEqual({ code: 'net.econnreset', fault: 'transient', message: 'socket hang up' });
    const aborted = Object.assign(new Error('This operation was aborted'), { name: 'AbortError' });
    expect(serializeError(aborted)).toMatchObject({ code: 'net.timeout', fault: 'transient' });
  });

  it('makes a refused fetch transient: the socket error hides in its cause', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    await new Promise<void>((r) => server.close(() => r()));
    const err = await fetch(`http://127.0.0.1:${port}/`).then(() => undefined, (e: unknown) => e);
    expect(serializeError(err)).toMatchObject({ code: 'net.econnrefused', fault: 'transient', message: 'fetch failed' });
    // Wrapped once more, as SDKs do.
    expect(serializeError(new Error('Connection error.', { cause: err }))).toMatchObject({ code: 'net.econnrefused', fault: 'transient' });
  });

  it('makes a fetch timeout transient', async () => {
    const err = await fetch('http://127.0.0.1:9/', { signal: AbortSignal.abort(new DOMException('timed out', 'TimeoutError')) })
      .then(() => undefined, (e: unknown) => e);
    expect(serializeError(err)).toMatchObject({ code: 'net.timeout', fault: 'transient' });
  });

  it('makes unknown errors internal, with their stack', () => {
    const s = serializeError(new TypeError("Cannot read properties of undefined (reading 'x')"));
    expect(s).toMatchObject({ code: 'internal.unexpected', fault: 'internal', message: "Cannot read properties of undefined (reading 'x')" });
    expect(s.stack).toMatch(/^TypeError/);
    expect(serializeError('a string')).toEqual({ code: 'internal.unexpected', fault: 'internal', message: 'a string' });
    expect(serializeError(undefined)).toMatchObject({ fault: 'internal', message: 'undefined' });
    expect(serializeError(Object.assign(new Error('odd'), { code: 'EWHATEVER' }))).toMatchObject({ fault: 'internal' });
  });
});

describe('formatError', () => {
  it('is one line: where, message, code', () => {
    expect(formatError({ code: 'blueprint.bad_ref', fault: 'user', message: 'unknown step "serch"', where: 'steps[2].input.q' }))
      .toBe('steps[2].input.q: unknown step "serch" (blueprint.bad_ref)');
    const multi = formatError({ code: 'llm.bad_json', fault: 'transient', message: 'expected JSON\n  at line 3\r\n\n got text' });
    expect(multi).toBe('expected JSON at line 3 got text (llm.bad_json)');
    expect(multi).not.toMatch(/[\r\n]/);
  });
});

describe('isRateLimited', () => {
  it('is every provider\'s `<provider>.rate_limited` code, and nothing else', () => {
    for (const code of ['serper.rate_limited', 'openai.rate_limited', 'sheets.rate_limited', 'http.rate_limited']) expect(isRateLimited({ code })).toBe(true);
    for (const code of ['serper.server_error', 'openai.insufficient_quota', 'rate_limited', 'net.timeout']) expect(isRateLimited({ code })).toBe(false);
  });
});
