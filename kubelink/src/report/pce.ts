// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Kubelink's HTTPS client for the PCE (contract: pce/src/api/kubelink.ts):
 * JSON with the cluster's credentials (`kubelink_<cluster id>` + token),
 * verified against the PCE's CA only. Errors name the path, never the token.
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { BulkheadError, KUBELINK_USER_PREFIX, pceAnswerError, pceUnreachableError } from '@bulkhead/pce/api';

export class PceReporter {
  readonly #agent: https.Agent;
  readonly #auth: string;
  readonly base: URL;

  constructor(
    url: string,
    caFile: string,
    readonly clusterId: string,
    token: string,
    readonly timeoutMs = 30_000,
  ) {
    try {
      this.base = new URL(url);
    } catch {
      throw new BulkheadError('BH_ERR_CONFIG', `--pce: "${url}" is not a URL; give it as https://HOST:PORT`);
    }
    if (this.base.protocol !== 'https:') throw new BulkheadError('BH_ERR_CONFIG', `--pce: "${url}" must be https://`);
    let ca: Buffer;
    try {
      ca = readFileSync(caFile);
    } catch (err) {
      throw new BulkheadError(
        'BH_ERR_CONFIG',
        `--ca: cannot read ${caFile} (${(err as Error).message}); give the PCE's tls/ca.pem`,
      );
    }
    this.#agent = new https.Agent({ ca, keepAlive: true, maxSockets: 8 });
    this.#auth = `Basic ${Buffer.from(`${KUBELINK_USER_PREFIX}${clusterId}:${token}`).toString('base64')}`;
  }

  path(rest: string): string {
    return `/api/v2/orgs/1/container_clusters/${encodeURIComponent(this.clusterId)}/kubelink${rest}`;
  }

  /**
   * @throws BulkheadError BH_ERR_AGENT_PCE (transient): unreachable, 5xx, 429.
   * @throws BulkheadError BH_ERR_AGENT_PAIRING (terminal): the token was refused (401/403).
   * @throws BulkheadError BH_ERR_API_VALIDATION (terminal): the PCE refused the object (406).
   */
  request<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const data = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = https.request(
        new URL(this.path(path), this.base),
        {
          method,
          agent: this.#agent,
          timeout: this.timeoutMs,
          headers: {
            accept: 'application/json',
            authorization: this.#auth,
            ...(data ? { 'content-type': 'application/json' } : {}),
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (d: string) => (text += d));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) {
              try {
                return resolve((text ? JSON.parse(text) : undefined) as T);
              } catch {
                return resolve(undefined as T);
              }
            }
            reject(pceAnswerError(method, path, status, text));
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer in ${this.timeoutMs} ms`)));
      req.on('error', (err) => reject(pceUnreachableError(method, path, this.base.host, err)));
      req.end(data);
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}
