// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The one API client of the console: `PceClient` over a `Transport`. The web
 * console's transport is same-origin `fetch`; the desktop app's is the
 * Electron main process (IPC), which holds the secret and the CA, so the
 * renderer never sees them. Offline (a snapshot) there is no transport.
 * Owns: turning the PCE's `[{token, message}]` errors into `ApiError`s that
 * say what happened and what to do next.
 * Must not: import anything environment-specific (STYLE.md: common is pure).
 */

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** One request, `path` under `/api/v2` (`/orgs/1/labels`). */
export interface ApiRequest {
  method: HttpMethod;
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  /** What to ask for: JSON (default), CSV text, or bytes (a snapshot). */
  accept?: 'json' | 'csv' | 'bytes';
}

export interface ApiResponse {
  status: number;
  /** Lower-case header names. */
  headers: Record<string, string>;
  /** JSON bodies parsed; CSV as text; bytes for `accept: 'bytes'`. */
  body: unknown;
}

export interface Transport {
  /** What the client talks to, for messages ("https://pce:8443"). */
  readonly target: string;
  send(req: ApiRequest): Promise<ApiResponse>;
}

/** A failed call: `message` says what happened, `hint` what to do next. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly token: string,
    readonly hint: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const HINTS: Record<number, string> = {
  0: 'Check the PCE URL and that the PCE is running, then retry.',
  401: 'Check the user name and secret (copy them from the key file), or ask an owner for a new key.',
  403: "This API key's role may not do this: use a key with a stronger role (owner or admin).",
  404: 'It may have been deleted meanwhile: refresh the view.',
  406: 'Correct the named field and try again.',
  409: 'Someone changed it meanwhile: refresh and try again.',
  429: 'Too many requests: wait a moment and retry.',
};

/** The `Accept` header for what a request asks for (both transports send it). */
export function acceptHeader(accept: ApiRequest['accept']): string {
  return accept === 'csv' ? 'text/csv' : accept === 'bytes' ? 'application/vnd.sqlite3' : 'application/json';
}

/** The path with its query string (values URL-encoded; undefined ones left out). */
export function pathWithQuery(path: string, query?: ApiRequest['query']): string {
  if (!query) return path;
  const parts = Object.entries(query)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return parts.length ? `${path}?${parts.join('&')}` : path;
}

/** An `ApiError` from a failed response (the PCE answers `[{token, message}]`). */
export function errorOf(req: ApiRequest, res: ApiResponse): ApiError {
  const items = Array.isArray(res.body) ? (res.body as { token?: string; message?: string }[]) : [];
  const first = items.find((i) => i && typeof i.message === 'string');
  const what = first
    ? items
        .map((i) => i.message)
        .filter(Boolean)
        .join('; ')
    : `the PCE answered ${res.status} to ${req.method} ${req.path}`;
  const hint = HINTS[res.status] ?? (res.status >= 500 ? 'The PCE failed: its log names the request; retry.' : '');
  return new ApiError(what, res.status, first?.token ?? `http_${res.status}`, hint);
}

/** A failure to reach the PCE at all (network, TLS). */
export function unreachable(target: string, cause: string): ApiError {
  return new ApiError(`cannot reach the PCE at ${target}: ${cause}`, 0, 'unreachable', HINTS[0]!);
}

/** Typed calls over a transport; every method throws `ApiError` on failure. */
export class PceClient {
  constructor(readonly transport: Transport) {}

  async call<T>(req: ApiRequest): Promise<{ body: T; headers: Record<string, string> }> {
    const res = await this.transport.send(req);
    if (res.status < 200 || res.status >= 300) throw errorOf(req, res);
    return { body: res.body as T, headers: res.headers };
  }
  async get<T>(path: string, query?: ApiRequest['query']): Promise<T> {
    return (await this.call<T>({ method: 'GET', path, ...(query ? { query } : {}) })).body;
  }
  async post<T>(path: string, body: unknown): Promise<T> {
    return (await this.call<T>({ method: 'POST', path, body })).body;
  }
  async put<T>(path: string, body: unknown): Promise<T> {
    return (await this.call<T>({ method: 'PUT', path, body })).body;
  }
  async del(path: string): Promise<void> {
    await this.call({ method: 'DELETE', path });
  }
  /** `href`s are org-relative (`/orgs/1/...`): the API path is the href itself. */
  async getHref<T>(href: string): Promise<T> {
    return this.get<T>(href);
  }
}
