// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The two transports of the one API client (common/api.ts). In the web
 * console, requests are same-origin `fetch`es with the API key the user
 * entered (kept in this tab's memory only). In the desktop app, the main
 * process makes them (`window.bulkhead`), holding the secret and the CA.
 */
import {
  acceptHeader,
  ApiError,
  pathWithQuery,
  unreachable,
  type ApiRequest,
  type ApiResponse,
  type Transport,
} from '../../../common/api.js';
import type { BulkheadBridge } from '../../../common/ipc.js';

declare global {
  interface Window {
    bulkhead?: BulkheadBridge;
  }
}

/** The desktop bridge, when the console runs inside the Electron app. */
export function desktopBridge(): BulkheadBridge | undefined {
  return typeof window !== 'undefined' ? window.bulkhead : undefined;
}

export class WebTransport implements Transport {
  readonly target: string;
  readonly #auth: string;
  constructor(username: string, secret: string, origin = location.origin) {
    this.target = origin;
    this.#auth = 'Basic ' + btoa(unescape(encodeURIComponent(`${username}:${secret}`)));
  }
  async send(req: ApiRequest): Promise<ApiResponse> {
    const accept = acceptHeader(req.accept);
    let res: Response;
    try {
      res = await fetch(`/api/v2${pathWithQuery(req.path, req.query)}`, {
        method: req.method,
        headers: {
          accept,
          authorization: this.#auth,
          ...(req.body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(req.body !== undefined ? { body: JSON.stringify(req.body) } : {}),
        credentials: 'omit',
        cache: 'no-store',
      });
    } catch (err) {
      throw unreachable(this.target, (err as Error).message);
    }
    const headers: Record<string, string> = {};
    res.headers.forEach((v, k) => (headers[k] = v));
    const type = headers['content-type'] ?? '';
    let body: unknown;
    if (type.includes('json')) body = await res.json().catch(() => undefined);
    else if (req.accept === 'bytes' && res.ok) body = new Uint8Array(await res.arrayBuffer());
    else body = await res.text();
    return { status: res.status, headers, body };
  }
}

export class IpcTransport implements Transport {
  constructor(
    readonly target: string,
    readonly connectionId: string,
    private readonly bridge: BulkheadBridge,
  ) {}
  async send(req: ApiRequest): Promise<ApiResponse> {
    try {
      return await this.bridge.invoke('bulkhead:pce:request', { connectionId: this.connectionId, request: req });
    } catch (err) {
      throw fromIpcError(err);
    }
  }
}

/** Errors from the main process carry an ApiError as JSON in their message (ipc-handlers.ts). */
export function fromIpcError(err: unknown): Error {
  const msg = (err as Error)?.message ?? String(err);
  const at = msg.indexOf('{"apiError"');
  if (at >= 0) {
    try {
      const e = (JSON.parse(msg.slice(at)) as { apiError: ApiError }).apiError;
      return new ApiError(e.message, e.status, e.token, e.hint);
    } catch {
      /* fall through */
    }
  }
  return new Error(msg.replace(/^Error invoking remote method '[^']+': (Error: )?/, ''));
}
