/**
 * Who may call: an API key in a header for the API, a session cookie (signed in with a key) for
 * the dashboard, a CSRF token on every state-changing dashboard request, and failed sign-ins
 * limited per address.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { getCookie, setCookie, deleteCookie } from 'hono/cookie';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { KeyRing } from './keys.ts';

export const SESSION_COOKIE = 'tf_session';
/** A session lasts 12 hours from sign-in. */
const SESSION_MS = 12 * 3600_000;

interface Session {
  keyId: string;
  csrf: string;
  expiresAt: number;
}

/** The key a request presents: `Authorization: Bearer KEY` or `X-API-Key: KEY`. */
export function presentedKey(c: Context): string | undefined {
  const auth = c.req.header('authorization');
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m ? m[1] : undefined;
  }
  return c.req.header('x-api-key') ?? undefined;
}

/** Sessions held in this process: a restart signs everyone out, which is the safe direction. */
export class Sessions {
  readonly #sessions = new Map<string, Session>();
  readonly #keys: KeyRing;

  constructor(keys: KeyRing) {
    this.#keys = keys;
  }

  /** Starts a session for a verified key and sets its cookie (Secure when the request came over HTTPS). */
  open(c: Context, keyId: string): Session {
    this.#sweep();
    const id = randomBytes(32).toString('base64url');
    const session = { keyId, csrf: randomBytes(32).toString('base64url'), expiresAt: Date.now() + SESSION_MS };
    this.#sessions.set(id, session);
    setCookie(c, SESSION_COOKIE, id, { httpOnly: true, sameSite: 'Strict', path: '/', secure: isHttps(c), maxAge: SESSION_MS / 1000 });
    return session;
  }

  /** The request's live session, or undefined (expired, unknown, or its key revoked since). */
  async get(c: Context): Promise<Session | undefined> {
    const id = getCookie(c, SESSION_COOKIE);
    if (!id) return undefined;
    const s = this.#sessions.get(id);
    if (!s || s.expiresAt < Date.now() || !(await this.#keys.live(s.keyId))) {
      this.#sessions.delete(id);
      return undefined;
    }
    return s;
  }

  close(c: Context): void {
    const id = getCookie(c, SESSION_COOKIE);
    if (id) this.#sessions.delete(id);
    deleteCookie(c, SESSION_COOKIE, { path: '/', secure: isHttps(c) });
  }

  #sweep(): void {
    const now = Date.now();
    for (const [id, s] of this.#sessions) if (s.expiresAt < now) this.#sessions.delete(id);
  }
}

/** True when the form's CSRF token is the session's, compared in constant time. */
export function csrfMatches(session: Session, token: unknown): boolean {
  if (typeof token !== 'string') return false;
  const a = Buffer.from(session.csrf);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The request came over HTTPS, directly or through a proxy that says so. */
export function isHttps(c: Context): boolean {
  return new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https';
}

/**
 * Failed sign-ins per address: after `max` failures in `windowMs`, further attempts from that
 * address are refused until the window passes.
 */
export class SignInLimiter {
  readonly #failures = new Map<string, { count: number; since: number }>();
  readonly #max: number;
  readonly #windowMs: number;

  constructor(max = 5, windowMs = 15 * 60_000) {
    this.#max = max;
    this.#windowMs = windowMs;
  }

  /** Seconds the address must wait, or 0 when it may try. */
  retryAfter(address: string, now = Date.now()): number {
    const f = this.#failures.get(address);
    if (!f || now - f.since >= this.#windowMs) return 0;
    return f.count >= this.#max ? Math.ceil((f.since + this.#windowMs - now) / 1000) : 0;
  }

  fail(address: string, now = Date.now()): void {
    const f = this.#failures.get(address);
    if (!f || now - f.since >= this.#windowMs) this.#failures.set(address, { count: 1, since: now });
    else f.count++;
    if (this.#failures.size > 10_000) for (const [a, v] of this.#failures) if (now - v.since >= this.#windowMs) this.#failures.delete(a);
  }

  succeed(address: string): void {
    this.#failures.delete(address);
  }
}

/** The client's address, for the sign-in limiter. */
export function clientAddress(c: Context): string {
  try { return getConnInfo(c).remote.address ?? 'unknown'; } catch { return 'unknown'; }
}
