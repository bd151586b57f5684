// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Errors on the wire: every failure answers with Illumio's
 * `[{token, message}]` body and `Content-Type: application/json`.
 *
 * Owns: validation failures (406, each message naming the field path), the
 * 404 for unknown routes, 429, and 5xx (logged with the request id, answered
 * generically: internals never reach a client).
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { BulkheadError, ERROR_CODES } from '../../api/errors.js';

interface AjvError {
  instancePath: string;
  message?: string;
  keyword: string;
  params: Record<string, unknown>;
}

/** `/scopes/0/1/label` → `scopes[0][1].label` */
function fieldPath(context: string, instancePath: string): string {
  const parts = instancePath.split('/').filter((p) => p !== '');
  let out = context === 'body' ? '' : context;
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out === '' ? p : `.${p}`;
  return out === '' ? context : out;
}

function describeAjv(context: string, e: AjvError): string {
  const field = fieldPath(context, e.instancePath);
  if (e.keyword === 'additionalProperties')
    return `${field === 'body' ? '' : `${field}.`}${String(e.params.additionalProperty)}: is not a known field`;
  if (e.keyword === 'required')
    return `${field === 'body' ? '' : `${field}.`}${String(e.params.missingProperty)}: is required`;
  if (e.keyword === 'enum' || e.keyword === 'const' || e.keyword === 'anyOf')
    return `${field}: ${e.message ?? 'has a value that is not allowed'}`;
  return `${field}: ${e.message ?? 'is not valid'}`;
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | BulkheadError, req, reply) => {
    reply.type('application/json');
    if (err instanceof BulkheadError) {
      if (err.status >= 500) req.log.error({ err, reqId: req.id }, 'request failed');
      return reply.status(err.status).send(err.details);
    }
    const fe = err as FastifyError & { validation?: AjvError[]; validationContext?: string };
    if (fe.validation) {
      const seen = new Set<string>();
      const items = [];
      for (const v of fe.validation) {
        const message = describeAjv(fe.validationContext ?? 'body', v);
        if (seen.has(message)) continue;
        seen.add(message);
        items.push({ token: ERROR_CODES.BH_ERR_API_VALIDATION.token, message });
      }
      return reply.status(406).send(items);
    }
    if (fe.statusCode === 429) return reply.status(429).send([{ token: 'rate_limited', message: fe.message }]);
    if (fe.statusCode !== undefined && fe.statusCode >= 400 && fe.statusCode < 500) {
      const parseError = fe.code?.startsWith('FST_ERR_CTP') && fe.code !== 'FST_ERR_CTP_INVALID_MEDIA_TYPE';
      return reply
        .status(parseError ? 406 : fe.statusCode)
        .send([{ token: parseError ? 'input_validation_error' : 'bad_request', message: `body: ${fe.message}` }]);
    }
    req.log.error({ err, reqId: req.id }, 'request failed');
    return reply
      .status(500)
      .send([{ token: 'internal_error', message: `internal error; the server log has request ${req.id}` }]);
  });
  app.setNotFoundHandler((req, reply) => {
    reply
      .type('application/json')
      .status(404)
      .send([{ token: 'not_found', message: `there is no ${req.method} ${req.url.split('?')[0]}` }]);
  });
}
