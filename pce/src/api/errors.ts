// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The one error type of Bulkhead and its catalogue of codes.
 *
 * Owns: `BulkheadError`, the code catalogue (`ERROR_CODES`) with each code's
 * HTTP status and whether a retry can help. Pure: no I/O.
 * Must not import: anything outside this folder.
 * Contract: shared/STYLE.md "Error handling"; the HTTP shape of an error is
 * Illumio's `[{token, message}]` (406 for validation).
 */

/** Whether retrying the same call can succeed. */
export type Retry = 'transient' | 'terminal';

/**
 * Every error code Bulkhead raises. `status` is the HTTP status a route
 * answers with; `token` is the Illumio-style token of the 4xx body.
 */
export const ERROR_CODES = {
  BH_ERR_API_VALIDATION: { status: 406, token: 'input_validation_error', retry: 'terminal' },
  BH_ERR_API_NOT_FOUND: { status: 404, token: 'not_found', retry: 'terminal' },
  BH_ERR_API_CONFLICT: { status: 406, token: 'conflict', retry: 'terminal' },
  BH_ERR_API_IN_USE: { status: 406, token: 'object_in_use', retry: 'terminal' },
  BH_ERR_API_READ_ONLY_VERSION: { status: 406, token: 'policy_version_read_only', retry: 'terminal' },
  BH_ERR_API_UNAUTHENTICATED: { status: 401, token: 'authentication_required', retry: 'terminal' },
  BH_ERR_API_FORBIDDEN: { status: 403, token: 'forbidden', retry: 'terminal' },
  BH_ERR_API_RATE_LIMITED: { status: 429, token: 'rate_limited', retry: 'transient' },
  BH_ERR_API_NOTHING_TO_PROVISION: { status: 406, token: 'nothing_to_provision', retry: 'terminal' },
  BH_ERR_API_INTERNAL: { status: 500, token: 'internal_error', retry: 'transient' },
  BH_ERR_STORE_OPEN: { status: 500, token: 'store_unavailable', retry: 'terminal' },
  BH_ERR_CONFIG: { status: 500, token: 'bad_configuration', retry: 'terminal' },
  // The C-VEN (never HTTP answers; the status is what it would map to).
  BH_ERR_NFT_APPLY: { status: 500, token: 'firewall_apply_failed', retry: 'transient' },
  BH_ERR_NFT_READBACK: { status: 500, token: 'firewall_tampered', retry: 'transient' },
  BH_ERR_CRI: { status: 503, token: 'container_runtime_unavailable', retry: 'transient' },
  BH_ERR_AGENT_PAIRING: { status: 401, token: 'pairing_failed', retry: 'terminal' },
  BH_ERR_AGENT_PCE: { status: 503, token: 'pce_unreachable', retry: 'transient' },
} as const satisfies Record<string, { status: number; token: string; retry: Retry }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** One entry of an Illumio-shaped error body. */
export interface ApiErrorItem {
  token: string;
  message: string;
}

export interface BulkheadErrorOptions {
  status?: number;
  retry?: Retry;
  cause?: unknown;
  /** More entries for the error body (e.g. one per invalid field). */
  details?: ApiErrorItem[];
}

/**
 * The one error class. Messages name the offending field or value and say
 * what to do next; a 4xx message is returned to the client as written.
 */
export class BulkheadError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retry: Retry;
  readonly details: ApiErrorItem[];

  constructor(code: ErrorCode, message: string, options: BulkheadErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BulkheadError';
    this.code = code;
    this.status = options.status ?? ERROR_CODES[code].status;
    this.retry = options.retry ?? ERROR_CODES[code].retry;
    this.details = options.details ?? [{ token: ERROR_CODES[code].token, message }];
  }
}

/** A validation failure naming the field path (`ruleset.scopes[0][1]`) and what is wrong. */
export function invalid(field: string, problem: string): BulkheadError {
  return new BulkheadError('BH_ERR_API_VALIDATION', `${field}: ${problem}`);
}

/** Several validation failures in one 406 answer. */
export function invalidAll(items: { field: string; problem: string }[]): BulkheadError {
  const details = items.map((i) => ({
    token: ERROR_CODES.BH_ERR_API_VALIDATION.token,
    message: `${i.field}: ${i.problem}`,
  }));
  return new BulkheadError('BH_ERR_API_VALIDATION', details.map((d) => d.message).join('; '), {
    details,
  });
}

export function notFound(what: string): BulkheadError {
  return new BulkheadError('BH_ERR_API_NOT_FOUND', `${what} was not found`);
}

/**
 * The error a machine client (C-VEN, Kubelink) raises for a PCE answer that
 * is not 2xx: 401/403 mean its credentials were refused (terminal), 429 and
 * 5xx are worth a retry, anything else is a refused request (terminal).
 */
export function pceAnswerError(method: string, path: string, status: number, text: string): BulkheadError {
  const msg = `${method} ${path}: PCE answered ${status} ${text.slice(0, 300)}`;
  if (status === 401 || status === 403) return new BulkheadError('BH_ERR_AGENT_PAIRING', msg);
  if (status >= 500 || status === 429) return new BulkheadError('BH_ERR_AGENT_PCE', msg);
  return new BulkheadError('BH_ERR_API_VALIDATION', msg, { status });
}

/** The error a machine client raises when the PCE cannot be reached at all (transient). */
export function pceUnreachableError(method: string, path: string, host: string, cause: Error): BulkheadError {
  return new BulkheadError('BH_ERR_AGENT_PCE', `${method} ${path}: PCE ${host} unreachable: ${cause.message}`, {
    cause,
  });
}
