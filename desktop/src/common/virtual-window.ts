// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Windowing for long tables (the explorer keeps 100,000 rows smooth by
 * rendering only the rows in view plus an overscan). Fixed row height. Pure.
 */

export interface RowWindow {
  /** First row index rendered. */
  start: number;
  /** One past the last row rendered. */
  end: number;
  /** Space above the first rendered row, px. */
  padTopPx: number;
  /** Space below the last rendered row, px. */
  padBottomPx: number;
}

export function rowWindow(opts: {
  total: number;
  rowHeightPx: number;
  scrollTopPx: number;
  viewportPx: number;
  overscan?: number;
}): RowWindow {
  const { total, rowHeightPx } = opts;
  const overscan = opts.overscan ?? 8;
  if (total <= 0 || rowHeightPx <= 0) return { start: 0, end: 0, padTopPx: 0, padBottomPx: 0 };
  const first = Math.floor(Math.max(0, opts.scrollTopPx) / rowHeightPx);
  const visible = Math.ceil(Math.max(0, opts.viewportPx) / rowHeightPx) + 1;
  const start = Math.min(total, Math.max(0, first - overscan));
  const end = Math.min(total, first + visible + overscan);
  return { start, end, padTopPx: start * rowHeightPx, padBottomPx: (total - end) * rowHeightPx };
}
