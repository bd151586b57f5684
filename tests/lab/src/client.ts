// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * A small HTTPS client for a lab's API server (the CLI's `apply`,
 * `delete` and `status`): the lab's CA and bearer token from its directory,
 * JSON in and out, `Status` errors turned into messages.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { apiDir, readRecord } from './state.js';

export interface LabApi {
  url: string;
  call<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    contentType?: string,
  ): Promise<{ status: number; body: T }>;
}

export function labApi(name: string): LabApi {
  const rec = readRecord(name);
  if (!rec) throw new Error(`no lab named "${name}"; start one with \`bulkhead lab up --name ${name}\``);
  const dir = apiDir(name);
  const ca = readFileSync(join(dir, 'ca.pem'));
  const token = readFileSync(join(dir, 'token'), 'utf8').trim();
  const url = rec.plan.apiServer.url;
  return {
    url,
    call: (method, path, body, contentType = 'application/json') =>
      new Promise((resolve, reject) => {
        const data = body === undefined ? undefined : JSON.stringify(body);
        const req = request(
          url + path,
          {
            method,
            ca,
            headers: {
              authorization: `Bearer ${token}`,
              accept: 'application/json',
              ...(data ? { 'content-type': contentType, 'content-length': Buffer.byteLength(data) } : {}),
            },
            timeout: 30_000,
          },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (text += c));
            res.on('end', () => {
              try {
                resolve({ status: res.statusCode ?? 0, body: (text ? JSON.parse(text) : undefined) as never });
              } catch {
                resolve({ status: res.statusCode ?? 0, body: text as never });
              }
            });
          },
        );
        req.on('timeout', () => req.destroy(new Error(`lab API ${method} ${path}: timed out`)));
        req.on('error', (err) =>
          reject(new Error(`lab API ${url}: ${err.message}; is the lab up? (bulkhead lab status --name ${name})`)),
        );
        req.end(data);
      }),
  };
}
