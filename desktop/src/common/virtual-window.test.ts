// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// Windowing renders a bounded number of rows whatever the total, and keeps the scroll height exact.
import { describe, expect, it } from 'vitest';
import { rowWindow } from './virtual-window.js';

describe('rowWindow', () => {
  it('renders only the rows in view plus the overscan, with padding for the rest', () => {
    const w = rowWindow({ total: 100_000, rowHeightPx: 40, scrollTopPx: 400_000, viewportPx: 400, overscan: 5 });
    expect(w.start).toBe(9995);
    expect(w.end).toBe(10_016);
    expect(w.padTopPx + (w.end - w.start) * 40 + w.padBottomPx).toBe(100_000 * 40);
  });
  it('clamps at both ends and handles no rows', () => {
    expect(rowWindow({ total: 10, rowHeightPx: 40, scrollTopPx: -50, viewportPx: 400 }).start).toBe(0);
    expect(rowWindow({ total: 10, rowHeightPx: 40, scrollTopPx: 99_999, viewportPx: 400 }).end).toBe(10);
    expect(rowWindow({ total: 0, rowHeightPx: 40, scrollTopPx: 0, viewportPx: 400 })).toEqual({
      start: 0,
      end: 0,
      padTopPx: 0,
      padBottomPx: 0,
    });
  });
});
