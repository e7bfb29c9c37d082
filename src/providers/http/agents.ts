/**
 * The node:http(s) agents under httpSend: a real connect timeout (axios has only an inactivity
 * timeout, which also cut a server that takes long to answer), and for guarded requests the SSRF
 * guard of the page fetcher on every hop: the host name, the lookup's addresses and the address
 * connected to, unless the hop's host is allow-listed.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { lookup as dnsLookup } from 'node:dns';
import type { Duplex } from 'node:stream';
import { BlockedAddressError, createGuard, guardedLookup, isAllowedHost, type AllowedHost } from '../web/guard.ts';

/** Code of the error a socket is destroyed with when it did not connect in time. */
export const CONNECT_TIMEOUT = 'ECONNECTTIMEOUT';

/**
 * Fails a new socket that has not connected within `ms`, and refuses the connected address when
 * `check` names a reason (the address connected to, whatever the lookup said).
 */
function watchConnect(socket: Duplex | null | undefined, ms: number, check?: () => ((address: string) => string | undefined) | undefined): Duplex | null | undefined {
  if (!(socket instanceof net.Socket)) return socket;
  const timer = setTimeout(() => socket.destroy(Object.assign(new Error(`could not connect within ${ms} ms`), { code: CONNECT_TIMEOUT })), ms);
  socket.once('connect', () => {
    clearTimeout(timer);
    const why = socket.remoteAddress ? check?.()?.(socket.remoteAddress) : undefined;
    if (why) socket.destroy(new BlockedAddressError(why));
  });
  socket.once('close', () => clearTimeout(timer));
  return socket;
}

interface AgentOptions extends http.AgentOptions {
  connectTimeoutMs: number;
  /** The address check of the hop being connected, if any. */
  check?: () => ((address: string) => string | undefined) | undefined;
}

/** An http.Agent with a real connect timeout (axios only has an inactivity timeout). */
class TimedHttpAgent extends http.Agent {
  readonly connect: AgentOptions;
  constructor(options: AgentOptions) {
    super(options);
    this.connect = options;
  }
  override createConnection(options: http.ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    return watchConnect(super.createConnection(options, callback), this.connect.connectTimeoutMs, this.connect.check);
  }
}

class TimedHttpsAgent extends https.Agent {
  readonly connect: AgentOptions;
  constructor(options: AgentOptions & https.AgentOptions) {
    super(options);
    this.connect = options;
  }
  override createConnection(options: http.ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    return watchConnect(super.createConnection(options, callback), this.connect.connectTimeoutMs, this.connect.check);
  }
}

/**
 * Keep-alive agents shared by every unguarded request in the process (Serper calls reuse
 * connections), one pair per connect timeout.
 */
const sharedAgents = new Map<number, { http: http.Agent; https: https.Agent }>();
export function agentsFor(connectTimeoutMs: number): { http: http.Agent; https: https.Agent } {
  let agents = sharedAgents.get(connectTimeoutMs);
  if (!agents) {
    agents = { http: new TimedHttpAgent({ keepAlive: true, connectTimeoutMs }), https: new TimedHttpsAgent({ keepAlive: true, connectTimeoutMs }) };
    sharedAgents.set(connectTimeoutMs, agents);
  }
  return agents;
}

/** The guard of one guarded request: which hop it is on, and the agents that check every hop. */
export function guardedAgents(url: URL, allowHosts: readonly AllowedHost[], connectTimeoutMs: number) {
  const guard = createGuard();
  const strictLookup = guardedLookup(guard);
  let hop = url;
  const allowed = () => isAllowedHost(allowHosts, hop);
  const lookup = ((hostname: string, options: never, callback: never) => (allowed() ? dnsLookup : strictLookup)(hostname, options, callback)) as unknown as net.LookupFunction;
  // No keep-alive: a pooled socket would skip the lookup, and with it the guard.
  const options = { keepAlive: false, connectTimeoutMs, lookup, check: () => (allowed() ? undefined : guard.checkAddress) };
  return {
    http: new TimedHttpAgent(options),
    https: new TimedHttpsAgent(options),
    get hop() { return hop; },
    /** Moves to `next`; the reason it is refused before any lookup, or undefined. */
    enter(next: URL): string | undefined {
      hop = next;
      return allowed() ? undefined : guard.checkHost(next.hostname);
    },
  };
}

/** `host:port` of a URL, with its scheme's port when it names none. */
export function hostPort(url: URL): string {
  return `${url.hostname}:${url.port || (url.protocol === 'https:' ? 443 : 80)}`;
}
