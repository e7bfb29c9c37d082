/**
 * In-process keyed mutex: calls with the same key run one after another, in call order. Used to
 * serialize read-modify-write on a tab and every write of an xlsx file.
 */
const tails = new Map<string, Promise<unknown>>();

/** Runs `fn` once every earlier call with the same `key` has settled. */
export async function withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const previous = tails.get(key) ?? Promise.resolve();
  const run = previous.then(fn, fn);
  const tail = run.then(() => undefined, () => undefined);
  tails.set(key, tail);
  try {
    return await run;
  } finally {
    if (tails.get(key) === tail) tails.delete(key);
  }
}
