// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The lab API server's errors, each answered as a Kubernetes `Status`
 * object with the code and reason the real API server uses.
 */

export type Reason =
  | 'BadRequest'
  | 'Unauthorized'
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Invalid'
  | 'Gone'
  | 'Expired'
  | 'MethodNotAllowed'
  | 'UnsupportedMediaType'
  | 'InternalError';

const CODES: Record<Reason, number> = {
  BadRequest: 400,
  Unauthorized: 401,
  NotFound: 404,
  MethodNotAllowed: 405,
  AlreadyExists: 409,
  Conflict: 409,
  Gone: 410,
  Expired: 410,
  UnsupportedMediaType: 415,
  Invalid: 422,
  InternalError: 500,
};

export class ApiError extends Error {
  readonly code: number;
  constructor(
    readonly reason: Reason,
    message: string,
    readonly details?: { name?: string; group?: string; kind?: string; causes?: { field: string; message: string }[] },
  ) {
    super(message);
    this.code = CODES[reason];
  }

  toStatus(): Record<string, unknown> {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

export const notFound = (kindPlural: string, group: string, name: string): ApiError =>
  new ApiError('NotFound', `${kindPlural}${group ? '.' + group : ''} "${name}" not found`, {
    name,
    group,
    kind: kindPlural,
  });
