/** FIFO counting semaphore for in-process limits (global and per-group concurrency). */
export class Semaphore {
  limit: number;
  #used = 0;
  #waiters: { resolve: () => void; reject: (err: unknown) => void }[] = [];

  constructor(limit: number) {
    this.limit = limit;
  }

  acquire(): Promise<void> {
    if (this.#used < this.limit && this.#waiters.length === 0) {
      this.#used++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  release(): void {
    this.#used--;
    while (this.#used < this.limit && this.#waiters.length > 0) {
      this.#used++;
      this.#waiters.shift()!.resolve();
    }
  }

  /** Fails every pending acquire (on shutdown). */
  rejectAll(err: unknown): void {
    for (const w of this.#waiters.splice(0)) w.reject(err);
  }
}
