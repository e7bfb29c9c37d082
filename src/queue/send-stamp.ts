/**
 * Stamps a rate slot with the moment its request leaves, not the moment it was granted.
 *
 * A provider counts a request when it arrives. Between the grant and the send, the request may
 * wait for this thread (another job's synchronous work), for a new connection (TCP and TLS
 * handshakes, a worker's first request) or for a core; the slots granted one window after the
 * grant then reach the provider within a window of the late ones. So the queue drivers run each job in a context of its own
 * ({@link runWithSlots}), note every slot they grant to it ({@link holdSlot}), and this module
 * watches the HTTP clients of this thread (Node's `http`/`https` and `fetch`'s undici, through
 * their diagnostics channels): when a request of that job leaves, the oldest slot the job holds is
 * stamped again with the time it left, so no later grant counts from the earlier time.
 *
 * A request sent from another thread (the OpenAI request thread) is announced on the
 * `topicflow:request:handover` channel when it is handed over, and stamped when that thread says
 * it sends it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import dc from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';

/** A rate slot granted and not yet used: `sent()` is called once, when its request leaves. */
export interface HeldSlot {
  sent(): void;
}

interface JobSlots {
  /** Slots granted to this job, oldest first, whose request has not left yet. */
  held: HeldSlot[];
  /** Called at the job's first grant (it leaves its queue's lobby, see lobby.ts), then dropped. */
  granted: (() => void) | undefined;
}

const jobs = new AsyncLocalStorage<JobSlots>();
let watching = false;

/**
 * Runs a job's handler in a context of its own, in which the slots it is granted
 * ({@link holdSlot}, or `held`: the slot its start took) are stamped when its requests leave;
 * `granted` is called when it is first granted one.
 */
export function runWithSlots<T>(fn: () => T, held: HeldSlot[] = [], granted?: () => void): T {
  if (held.length > 0) watch();
  return jobs.run({ held, granted }, fn);
}

/**
 * Notes a slot granted to the job running in this context; its `sent` is called when the job's
 * next request leaves. Outside a job (no {@link runWithSlots}), the slot keeps its grant time.
 */
export function holdSlot(slot: HeldSlot): void {
  const job = jobs.getStore();
  if (!job) return;
  watch();
  job.held.push(slot);
  const granted = job.granted;
  job.granted = undefined;
  granted?.();
}

/** The job's oldest slot not yet sent, taken off its list; undefined outside a job or when none. */
function nextHeld(): HeldSlot | undefined {
  return jobs.getStore()?.held.shift();
}

/** Whether a socket has not finished connecting: what was written to it is still waiting. */
function stillConnecting(socket: Socket): boolean {
  if (socket.connecting) return true;
  // A TLS socket holds the request until its handshake is done ('unknown' until then).
  return socket instanceof TLSSocket && socket.getProtocol() === 'unknown';
}

function watch(): void {
  if (watching) return;
  watching = true;
  // Published when the request's headers and body were handed to its socket: they leave now when
  // the socket is connected, else when it connects (a new keep-alive connection).
  dc.subscribe('http.client.request.start', (message) => {
    const slot = nextHeld();
    if (!slot) return;
    const socket = (message as { request: { socket?: Socket | null } }).request.socket;
    if (socket && stillConnecting(socket)) {
      // A socket that closes first sent nothing: its slot keeps its grant time.
      socket.once(socket instanceof TLSSocket ? 'secureConnect' : 'connect', () => slot.sent());
    } else {
      slot.sent();
    }
  });
  // fetch (undici): published once the request's headers were written to a connected socket.
  dc.subscribe('undici:client:sendHeaders', () => {
    nextHeld()?.sent();
  });
  // A request handed to another thread (the OpenAI request thread): stamped when that thread sends it.
  dc.subscribe('topicflow:request:handover', (message) => {
    const slot = nextHeld();
    if (slot) (message as { sent?: () => void }).sent = () => slot.sent();
  });
}
