// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Saved PCE connections (the desktop app keeps several): their shape and
 * validation, shared by the renderer's form and the main process, which
 * validates again before it stores or uses one. The secret is never part
 * of a `Connection`: the main process keeps it encrypted (safeStorage).
 * Pure.
 */

export interface Connection {
  id: string;
  name: string;
  /** `https://host:port` (no path). */
  url: string;
  /** PEM of the PCE's CA (`DIR/tls/ca.pem`); empty: the system's CAs. */
  ca: string;
  /** The API key's user name (`api_...`). */
  username: string;
}

/** What the form submits: a connection and the key's secret. */
export interface ConnectionInput extends Omit<Connection, 'id'> {
  id?: string;
  secret: string;
}

const PEM = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;

/** The field-named problems of a connection (empty when it is valid). */
export function connectionProblems(c: Partial<ConnectionInput>, opts: { secretRequired: boolean }): string[] {
  const out: string[] = [];
  if (!c.name?.trim()) out.push('name: give the connection a name');
  else if (c.name.length > 80) out.push('name: at most 80 characters');
  let url: URL | undefined;
  try {
    url = new URL(c.url ?? '');
  } catch {
    out.push('url: not a URL; write it as https://host:8443');
  }
  if (url) {
    if (url.protocol !== 'https:') out.push('url: the PCE speaks HTTPS only; write https://…');
    if (url.pathname !== '/' || url.search || url.hash) out.push('url: only scheme, host and port (no path)');
    if (url.username || url.password) out.push('url: no credentials in the URL; use the API key fields');
  }
  if (c.ca && !PEM.test(c.ca)) out.push('ca: not a PEM certificate (-----BEGIN CERTIFICATE-----)');
  if (!c.username?.trim()) out.push('username: the API key user name is required');
  else if (!/^[A-Za-z0-9_.-]{1,128}$/.test(c.username)) out.push('username: letters, digits, _ . - only');
  if (opts.secretRequired && !c.secret) out.push('secret: the API key secret is required');
  if (c.secret && c.secret.length > 1024) out.push('secret: too long');
  return out;
}

/** Read an API key file (`bulkhead pce api-key create` output: `{auth_username, secret}`). */
export function parseApiKeyFile(text: string): { username: string; secret: string } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new Error('the key file is not JSON; it should hold {"auth_username": …, "secret": …}');
  }
  const o = v as { auth_username?: unknown; secret?: unknown };
  if (typeof o?.auth_username !== 'string' || typeof o.secret !== 'string')
    throw new Error('the key file lacks auth_username or secret');
  return { username: o.auth_username, secret: o.secret };
}

/** `https://host:port` from what a user typed (trailing slashes removed). */
export function normalizeUrl(url: string): string {
  return url.trim().replace(/\/+$/, '');
}
