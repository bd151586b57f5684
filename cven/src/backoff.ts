// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Capped exponential backoff with full jitter, for every retry loop of the
 * agent (STYLE.md: agents never crash in a loop).
 */
export class Backoff {
  #attempt = 0;
  constructor(
    readonly baseMs = 200,
    readonly capMs = 10_000,
  ) {}

  /** The next delay: random in [0.5, 1] × min(cap, base × 2^attempt). */
  next(): number {
    const ceiling = Math.min(this.capMs, this.baseMs * 2 ** this.#attempt);
    this.#attempt = Math.min(this.#attempt + 1, 30);
    return Math.round(ceiling * (0.5 + Math.random() / 2));
  }

  reset(): void {
    this.#attempt = 0;
  }
}

/** A sleep that `wake()` can cut short (for shutdown and for "something changed"). */
export class Waker {
  #timer: NodeJS.Timeout | null = null;
  #resolve: (() => void) | null = null;

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#resolve = resolve;
      this.#timer = setTimeout(() => this.wake(), ms);
    });
  }

  wake(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const r = this.#resolve;
    this.#resolve = null;
    r?.();
  }
}
