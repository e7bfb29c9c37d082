/**
 * The lobby of a rate-limited queue: its self-throttled jobs (those that take a slot per request,
 * the OpenAI steps) started in this process and not yet granted a slot. Such a job waits at the
 * rate gate with its input read and its request built (a prompt of a whole page). Where tokens
 * bind, pages come several times as fast as their requests may leave, and a thousand of these
 * jobs waited at once; with a lobby the others wait as queued jobs, which hold only their ids.
 */
import type { RateLimit } from './types.ts';

/** Lobbies hold at least this many jobs, so that a slow limit still has a few requests built ahead. */
export const MIN_LOBBY = 16;

/**
 * Jobs a queue's lobby holds: the requests its limit lets out in one second, at least
 * {@link MIN_LOBBY}. While they wait, the next jobs have a second to read their input and build
 * their requests, so the gate never runs dry for want of started jobs.
 */
export function lobbySize(limit: Pick<RateLimit, 'max' | 'intervalMs'>): number {
  return Math.max(MIN_LOBBY, Math.ceil((limit.max * 1000) / limit.intervalMs));
}
