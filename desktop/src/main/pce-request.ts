// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The main process's PCE requests: HTTPS to the connection's URL, verified
 * against its CA (or the system's), HTTP Basic with the API key. The
 * renderer asks through IPC, so it never holds the secret and no CORS is
 * needed. Bounded: a response over 512 MiB or a call over the timeout fails
 * with a message saying so. Never logs the secret.
 */
import { request as httpsRequest } from 'node:https';
import { acceptHeader, pathWithQuery, unreachable, type ApiRequest, type ApiResponse } from '../common/api.js';
import type { Connection } from '../common/connections.js';

const MAX_BYTES = 512 * 1024 * 1024;

export function pceRequest(
  conn: Connection,
  secret: string,
  req: ApiRequest,
  opts: { timeoutMs?: number } = {},
): Promise<ApiResponse> {
  const url = new URL(`/api/v2${pathWithQuery(req.path, req.query)}`, conn.url);
  const body = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body));
  const accept = acceptHeader(req.accept);
  return new Promise((resolve, reject) => {
    const r = httpsRequest(
      url,
      {
        method: req.method,
        ...(conn.ca ? { ca: conn.ca } : {}),
        timeout: opts.timeoutMs ?? 120_000,
        headers: {
          accept,
          authorization: 'Basic ' + Buffer.from(`${conn.username}:${secret}`).toString('base64'),
          ...(body ? { 'content-type': 'application/json', 'content-length': String(body.length) } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let n = 0;
        res.on('data', (c: Buffer) => {
          n += c.length;
          if (n > MAX_BYTES) {
            r.destroy(new Error(`the answer is larger than ${MAX_BYTES >> 20} MiB; narrow the query`));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => {
          const raw = Buffer.concat(chunks);
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = String(v);
          const type = headers['content-type'] ?? '';
          let parsed: unknown;
          if (type.includes('json')) {
            try {
              parsed = raw.length ? JSON.parse(raw.toString('utf8')) : undefined;
            } catch {
              parsed = raw.toString('utf8');
            }
          } else if (req.accept === 'bytes' && (res.statusCode ?? 0) < 300) parsed = new Uint8Array(raw);
          else parsed = raw.toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers, body: parsed });
        });
        res.on('error', (err) => reject(unreachable(conn.url, err.message)));
      },
    );
    r.on('timeout', () => r.destroy(new Error(`no answer within ${(opts.timeoutMs ?? 120_000) / 1000} s`)));
    r.on('error', (err) => reject(unreachable(conn.url, err.message)));
    r.end(body);
  });
}
