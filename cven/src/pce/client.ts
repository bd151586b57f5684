// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The C-VEN's HTTPS client for the PCE (contract: pce/src/api/agent.ts):
 * JSON requests with the agent's HTTP Basic credentials, verified against
 * the PCE's CA only, and the Server-Sent Events policy stream.
 *
 * Owns: transport, timeouts and error mapping. Secrets are never logged:
 * errors name the path, never the Authorization header.
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { BulkheadError, pceAnswerError, pceUnreachableError, type AgentPolicy } from '@bulkhead/pce/api';

export interface Credentials {
  agent_id: string;
  auth_username: string;
  secret: string;
}

export interface PceResponse<T> {
  status: number;
  body: T;
  etag: string | undefined;
}

export class PceClient {
  readonly #agent: https.Agent;
  readonly base: URL;
  credentials: Credentials | null = null;

  constructor(
    url: string,
    caFile: string,
    readonly timeoutMs = 10_000,
  ) {
    try {
      this.base = new URL(url);
    } catch {
      throw new BulkheadError('BH_ERR_CONFIG', `--pce: "${url}" is not a URL; give it as https://HOST:PORT`);
    }
    if (this.base.protocol !== 'https:')
      throw new BulkheadError(
        'BH_ERR_CONFIG',
        `--pce: "${url}" must be https:// (the agent talks to the PCE over TLS only)`,
      );
    let ca: Buffer;
    try {
      ca = readFileSync(caFile);
    } catch (err) {
      throw new BulkheadError(
        'BH_ERR_CONFIG',
        `--ca: cannot read ${caFile} (${(err as Error).message}); give the PCE's tls/ca.pem`,
      );
    }
    this.#agent = new https.Agent({ ca, keepAlive: true, maxSockets: 4 });
  }

  /** The agent's own API path: `/api/v2/orgs/1/agents/{id}` + `rest`. */
  agentPath(rest: string): string {
    if (!this.credentials) throw new BulkheadError('BH_ERR_AGENT_PAIRING', 'the agent is not paired');
    return `/api/v2/orgs/1/agents/${encodeURIComponent(this.credentials.agent_id)}${rest}`;
  }

  #headers(extra: Record<string, string>): Record<string, string> {
    const h: Record<string, string> = { accept: 'application/json', ...extra };
    if (this.credentials)
      h.authorization = `Basic ${Buffer.from(`${this.credentials.auth_username}:${this.credentials.secret}`).toString('base64')}`;
    return h;
  }

  /**
   * One JSON request. Answers 2xx and 304 are returned; others throw.
   * @throws BulkheadError BH_ERR_AGENT_PCE (transient): unreachable, timed out or 5xx/429.
   * @throws BulkheadError BH_ERR_AGENT_PAIRING (terminal): 401/403, the credentials were refused.
   */
  request<T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<PceResponse<T>> {
    const data = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = https.request(
        new URL(path, this.base),
        {
          method,
          agent: this.#agent,
          timeout: this.timeoutMs,
          headers: this.#headers({
            ...(data !== undefined ? { 'content-type': 'application/json' } : {}),
            ...headers,
          }),
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (d: string) => (text += d));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            let parsed: unknown = undefined;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              parsed = text;
            }
            const etag = typeof res.headers.etag === 'string' ? res.headers.etag : undefined;
            if ((status >= 200 && status < 300) || status === 304) return resolve({ status, body: parsed as T, etag });
            reject(pceAnswerError(method, path, status, text));
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer in ${this.timeoutMs} ms`)));
      req.on('error', (err) => reject(pceUnreachableError(method, path, this.base.host, err)));
      req.end(data);
    });
  }

  /**
   * Open the push channel: calls `onPolicy` for every `policy` event. The
   * returned promise settles when the stream ends (rejects on errors);
   * `close()` of the returned handle ends it.
   */
  policyStream(onPolicy: (p: AgentPolicy) => void): { done: Promise<void>; close: () => void } {
    let req: ReturnType<typeof https.request> | undefined;
    const done = new Promise<void>((resolve, reject) => {
      req = https.request(
        new URL(this.agentPath('/policy/stream'), this.base),
        { method: 'GET', agent: this.#agent, headers: this.#headers({ accept: 'text/event-stream' }) },
        (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            const code = res.statusCode === 401 || res.statusCode === 403 ? 'BH_ERR_AGENT_PAIRING' : 'BH_ERR_AGENT_PCE';
            return reject(new BulkheadError(code, `policy stream: PCE answered ${res.statusCode}`));
          }
          // Idle streams get a keep-alive comment every 15 s; silence past 45 s is a dead stream.
          res.socket.setTimeout(45_000, () => req?.destroy(new Error('policy stream silent for 45 s')));
          let buf = '';
          res.setEncoding('utf8').on('data', (chunk: string) => {
            buf += chunk;
            let end: number;
            while ((end = buf.indexOf('\n\n')) >= 0) {
              const block = buf.slice(0, end);
              buf = buf.slice(end + 2);
              let event = 'message';
              let data = '';
              for (const line of block.split('\n')) {
                if (line.startsWith('event:')) event = line.slice(6).trim();
                else if (line.startsWith('data:')) data += line.slice(5).trimStart();
              }
              if (event === 'policy' && data) {
                try {
                  onPolicy(JSON.parse(data) as AgentPolicy);
                } catch (err) {
                  req?.destroy(err as Error);
                }
              }
            }
          });
          res.on('end', () => resolve());
          res.on('error', reject);
        },
      );
      req.on('error', (err) =>
        reject(new BulkheadError('BH_ERR_AGENT_PCE', `policy stream: ${err.message}`, { cause: err })),
      );
      req.end();
    });
    return { done, close: () => req?.destroy() };
  }

  close(): void {
    this.#agent.destroy();
  }
}
