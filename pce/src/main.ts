// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Process entry of the PCE: data directory → store → TLS → `buildApp` →
 * listen. The only wiring point. Writes the owner API key once, 0600, and
 * never logs a secret.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BulkheadError } from './api/errors.js';
import { buildApp } from './http/app.js';
import { certificateNames, ensureTls } from './http/tls.js';
import { createApiKey } from './store/api-keys.js';
import { openStore } from './store/seed.js';
import type { Store } from './store/store.js';

export interface ServeOptions {
  dataDir: string;
  listen: { host: string; port: number }[];
  rateLimitPerMin: number;
  logLevel: string;
}

export const DEFAULT_LISTEN = '127.0.0.1:8443';
export const databaseFile = (dataDir: string): string => join(dataDir, 'pce.sqlite');
export const ownerKeyFile = (dataDir: string): string => join(dataDir, 'owner-api-key.json');

/** `HOST:PORT` or `[V6]:PORT`. @throws BulkheadError BH_ERR_CONFIG naming the value. */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 1 || port > 65535)
    throw new BulkheadError('BH_ERR_CONFIG', `--listen ${text}: expected HOST:PORT, e.g. 127.0.0.1:8443 or [::1]:8443`);
  return { host: (m[1] ?? m[2])!, port };
}

/** Create the owner's API key at first start and write it once (mode 0600). */
async function ensureOwnerKey(store: Store, dataDir: string): Promise<void> {
  const file = ownerKeyFile(dataDir);
  if (existsSync(file)) return;
  const { record, secret } = await createApiKey(store, '1', 'owner', 'owner (first start)');
  writeFileSync(file, JSON.stringify({ auth_username: record.auth_username, secret }, null, 2) + '\n', {
    mode: 0o600,
    flag: 'wx',
  });
}

export async function serve(opts: ServeOptions): Promise<() => Promise<void>> {
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const store = await openStore(databaseFile(opts.dataDir));
  await ensureOwnerKey(store, opts.dataDir);
  const tls = await ensureTls(opts.dataDir, certificateNames(opts.listen.map((l) => l.host)));
  const apps: Awaited<ReturnType<typeof buildApp>>[] = [];
  for (const [i, l] of opts.listen.entries()) {
    const app = await buildApp({
      store,
      rateLimitPerMin: opts.rateLimitPerMin,
      https: { key: tls.key, cert: tls.cert },
      logger: i === 0 ? { level: opts.logLevel } : false,
      consoleDir: fileURLToPath(new URL('./console', import.meta.url)),
    });
    try {
      await app.listen({ host: l.host, port: l.port });
    } catch (cause) {
      throw new BulkheadError('BH_ERR_CONFIG', `cannot listen on ${l.host}:${l.port}: ${(cause as Error).message}`, {
        cause,
      });
    }
    apps.push(app);
  }
  const urls = opts.listen.map((l) => `https://${l.host.includes(':') ? `[${l.host}]` : l.host}:${l.port}`);
  process.stdout.write(
    `PCE listening on ${urls.join(', ')}\n` +
      `  CA certificate: ${tls.caFile}\n  owner API key:  ${ownerKeyFile(opts.dataDir)}\n`,
  );
  return async () => {
    for (const app of apps) await app.close();
    await store.db.destroy();
  };
}
