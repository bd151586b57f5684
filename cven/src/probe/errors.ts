// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The probe's errors: what failed, the errno, and what to do next.
 *
 * Owns: the `BH_ERR_PROBE_*` codes. They follow STYLE.md "Error handling"
 * (`code`, `retry`, `cause`) and belong in the catalogue of
 * pce/src/api/errors.ts; until that catalogue lists them, the probe keeps
 * its own class so cven does not need the PCE built to load a probe.
 * Must not import: koffi, node:* I/O.
 */

/** Codes the probe raises. */
export const PROBE_ERROR_CODES = {
  /** libbulkhead.so is missing or does not load (run `npm run build`). */
  BH_ERR_PROBE_LIBRARY: 'terminal',
  /** Not root, or the kernel refused to load the programs. */
  BH_ERR_PROBE_OPEN: 'terminal',
  /** The interface does not exist (in this network namespace). */
  BH_ERR_PROBE_INTERFACE: 'terminal',
  /** Attaching to or detaching from an interface failed. */
  BH_ERR_PROBE_ATTACH: 'transient',
  /** Draining flows or drops, or reading counters, failed. */
  BH_ERR_PROBE_DRAIN: 'transient',
  /** The probe was used after close(). */
  BH_ERR_PROBE_CLOSED: 'terminal',
} as const;

export type ProbeErrorCode = keyof typeof PROBE_ERROR_CODES;

/** A probe failure: `message` names the failed step and what to do. */
export class ProbeError extends Error {
  readonly code: ProbeErrorCode;
  readonly retry: 'transient' | 'terminal';
  /** Positive errno from libbulkhead, when the failure came from C. */
  readonly errno: number | undefined;

  constructor(code: ProbeErrorCode, message: string, options: { errno?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ProbeError';
    this.code = code;
    this.retry = PROBE_ERROR_CODES[code];
    this.errno = options.errno;
  }
}
