// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * A keyed work queue (sample-controller's workqueue): a key is queued at
 * most once, never processed by two workers at once (added again while it
 * runs, it runs once more after), and a failed key is retried after a
 * per-key capped exponential backoff with jitter; success forgets its
 * failures. Bounded by the number of distinct keys.
 */
export class KeyedQueue {
  readonly #queued = new Set<string>();
  readonly #order: string[] = [];
  readonly #running = new Set<string>();
  readonly #dirty = new Set<string>();
  readonly #failures = new Map<string, number>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  #waiters: (() => void)[] = [];
  #stopped = false;
  #paused = true;

  constructor(
    private readonly handle: (key: string) => Promise<void>,
    private readonly opts: {
      workers: number;
      baseMs: number;
      capMs: number;
      onError?: (key: string, err: unknown, retryInMs: number) => void;
    } = {
      workers: 4,
      baseMs: 100,
      capMs: 30_000,
    },
  ) {}

  /** Queued or running keys plus those waiting out a backoff. */
  get length(): number {
    return this.#queued.size + this.#running.size + this.#timers.size;
  }

  add(key: string): void {
    if (this.#stopped) return;
    if (this.#running.has(key)) {
      this.#dirty.add(key);
      return;
    }
    if (this.#queued.has(key)) return;
    this.#queued.add(key);
    this.#order.push(key);
    this.#wake();
  }

  /** Workers run only after `start()` (nothing is reported before the caches sync). */
  start(): void {
    if (!this.#paused) return;
    this.#paused = false;
    for (let i = 0; i < this.opts.workers; i++) void this.#worker();
  }

  stop(): void {
    this.#stopped = true;
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
    this.#wake(true);
  }

  /** Resolves when nothing is queued, running or backing off. */
  async idle(): Promise<void> {
    while (this.length > 0 && !this.#stopped) await new Promise((r) => setTimeout(r, 10));
  }

  #wake(all = false): void {
    const w = all ? this.#waiters.splice(0) : this.#waiters.splice(0, 1);
    for (const f of w) f();
  }

  #next(): string | undefined {
    while (this.#order.length) {
      const k = this.#order.shift()!;
      if (this.#queued.delete(k)) return k;
    }
    return undefined;
  }

  async #worker(): Promise<void> {
    while (!this.#stopped) {
      const key = this.#next();
      if (key === undefined) {
        await new Promise<void>((r) => this.#waiters.push(r));
        continue;
      }
      this.#running.add(key);
      try {
        await this.handle(key);
        this.#failures.delete(key);
      } catch (err) {
        const n = (this.#failures.get(key) ?? 0) + 1;
        this.#failures.set(key, n);
        const ceiling = Math.min(this.opts.capMs, this.opts.baseMs * 2 ** Math.min(n - 1, 20));
        const delay = Math.round(ceiling * (0.5 + Math.random() / 2));
        this.opts.onError?.(key, err, delay);
        if (!this.#stopped)
          this.#timers.set(
            key,
            setTimeout(() => {
              this.#timers.delete(key);
              this.add(key);
            }, delay),
          );
      } finally {
        this.#running.delete(key);
        if (this.#dirty.delete(key) && !this.#timers.has(key)) this.add(key);
      }
    }
  }
}
