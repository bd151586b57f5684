// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
import { describe, expect, it } from 'vitest';
import { KeyedQueue } from './keyed-queue.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('KeyedQueue', () => {
  it('never runs one key on two workers, and runs it again when it was added while running', async () => {
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    const q = new KeyedQueue(
      async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        runs++;
        await sleep(20);
        running--;
      },
      { workers: 4, baseMs: 1, capMs: 10 },
    );
    q.start();
    q.add('a');
    await sleep(5);
    q.add('a');
    q.add('a');
    await q.idle();
    expect(maxRunning).toBe(1);
    expect(runs).toBe(2);
    q.stop();
  });

  it('processes nothing before start, and each queued key once', async () => {
    const seen: string[] = [];
    const q = new KeyedQueue(async (k) => void seen.push(k), { workers: 2, baseMs: 1, capMs: 10 });
    for (const k of ['x', 'y', 'x']) q.add(k);
    await sleep(20);
    expect(seen).toEqual([]);
    q.start();
    await q.idle();
    expect(seen.sort()).toEqual(['x', 'y']);
    q.stop();
  });

  it('retries a failing key with growing delays until it succeeds', async () => {
    const at: number[] = [];
    const delays: number[] = [];
    const q = new KeyedQueue(
      async () => {
        at.push(Date.now());
        if (at.length < 4) throw new Error('PCE away');
      },
      { workers: 1, baseMs: 10, capMs: 1000, onError: (_k, _e, d) => delays.push(d) },
    );
    q.start();
    q.add('k');
    await q.idle();
    expect(at).toHaveLength(4);
    expect(delays).toHaveLength(3);
    expect(delays[2]!).toBeGreaterThanOrEqual(20); // 40 ms ceiling, jitter [0.5, 1]
    expect(delays[0]!).toBeLessThanOrEqual(10);
    q.stop();
  });
});
