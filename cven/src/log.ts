// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Structured logs: one JSON object a line on stderr (`time`, `level`,
 * `msg`, then fields). Callers pass fields, never concatenated strings,
 * and never secrets.
 */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export interface Logger {
  error(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
}

export function createLogger(
  level: LogLevel,
  base: Record<string, unknown> = {},
  write = (line: string) => process.stderr.write(line),
): Logger {
  const at =
    (l: LogLevel) =>
    (msg: string, fields: Record<string, unknown> = {}): void => {
      if (RANK[l] > RANK[level]) return;
      write(JSON.stringify({ time: new Date().toISOString(), level: l, msg, ...base, ...fields }) + '\n');
    };
  return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}
