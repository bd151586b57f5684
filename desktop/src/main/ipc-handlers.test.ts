// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// The main process's IPC handlers without Electron, against a real PCE over HTTPS (the built
// `bulkhead pce serve`). The OS keychain cannot run here: `StandInKeychain` plays safeStorage
// (it encrypts with a key of its own), and the test checks the secret never lands in clear.
import { spawn, type ChildProcess } from 'node:child_process';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionStore } from './connection-store.js';
import type { SecretBox } from './electron-api.js';
import { createIpcHandlers, isTrustedCaller } from './ipc-handlers.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const BIN = join(ROOT, 'bin', 'bulkhead.js');
const APP = { senderFrame: { url: 'app://bulkhead/index.html' } };

/** A stand-in for Electron's safeStorage (AES-256-GCM with a key held in memory). */
class StandInKeychain implements SecretBox {
  readonly #key = randomBytes(32);
  available = true;
  isEncryptionAvailable() {
    return this.available;
  }
  encryptString(plain: string): Buffer {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.#key, iv);
    const body = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
    return Buffer.concat([iv, c.getAuthTag(), body]);
  }
  decryptString(b: Buffer): string {
    const d = createDecipheriv('aes-256-gcm', this.#key, b.subarray(0, 12));
    d.setAuthTag(b.subarray(12, 28));
    return Buffer.concat([d.update(b.subarray(28)), d.final()]).toString('utf8');
  }
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });

describe.skipIf(!existsSync(join(ROOT, 'pce', 'dist', 'cli.js')))('desktop IPC handlers against a real PCE', () => {
  let dir: string;
  let pce: ChildProcess;
  let url: string;
  let ca: string;
  let key: { auth_username: string; secret: string };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bh-desktop-'));
    const port = await freePort();
    url = `https://127.0.0.1:${port}`;
    pce = spawn(
      process.execPath,
      [BIN, 'pce', 'serve', '--data-dir', join(dir, 'pce'), '--listen', `127.0.0.1:${port}`],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const t = setTimeout(() => reject(new Error(`the PCE did not start: ${out}`)), 30_000);
      pce.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('PCE listening')) {
          clearTimeout(t);
          resolve();
        }
      });
      pce.on('exit', (code) => reject(new Error(`the PCE exited ${code}: ${out}`)));
    });
    ca = readFileSync(join(dir, 'pce', 'tls', 'ca.pem'), 'utf8');
    key = JSON.parse(readFileSync(join(dir, 'pce', 'owner-api-key.json'), 'utf8'));
  }, 40_000);

  afterAll(() => {
    pce?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  const setup = () => {
    const keychain = new StandInKeychain();
    const store = new ConnectionStore(mkdtempSync(join(dir, 'user-')), keychain);
    const saved: { name: string; bytes: Uint8Array }[] = [];
    const h = createIpcHandlers({
      connections: store,
      saveFile: async (name, bytes) => (saved.push({ name, bytes }), `/tmp/${name}`),
      openFile: async () => null,
    });
    return { keychain, store, saved, h };
  };

  it('saves a connection with its secret encrypted, and makes the PCE request for the renderer', async () => {
    const { store, h } = setup();
    const c = (await h.handle('bulkhead:connections:save', APP, {
      name: 'lab',
      url: `${url}/`,
      ca,
      username: key.auth_username,
      secret: key.secret,
    })) as { id: string; url: string };
    expect(c.url).toBe(url);
    expect(readFileSync(store.file, 'utf8')).not.toContain(key.secret);
    expect(statSync(store.file).mode & 0o777).toBe(0o600);
    expect(JSON.stringify(await h.handle('bulkhead:connections:list', APP, undefined))).not.toContain(key.secret);

    const r = (await h.handle('bulkhead:pce:request', APP, {
      connectionId: c.id,
      request: { method: 'POST', path: '/orgs/1/labels', body: { key: 'app', value: 'desk' } },
    })) as { status: number; body: { href: string } };
    expect(r.status).toBe(201);
    const list = (await h.handle('bulkhead:pce:request', APP, {
      connectionId: c.id,
      request: { method: 'GET', path: '/orgs/1/labels', query: { max_results: 100 } },
    })) as { body: { value: string }[] };
    expect(list.body.map((l) => l.value)).toContain('desk');

    // An edit without a secret keeps the stored one.
    await h.handle('bulkhead:connections:save', APP, { id: c.id, name: 'lab 2', url, ca, username: key.auth_username });
    const again = (await h.handle('bulkhead:pce:request', APP, {
      connectionId: c.id,
      request: { method: 'GET', path: '/orgs/1/labels' },
    })) as { status: number };
    expect(again.status).toBe(200);
    await h.handle('bulkhead:connections:remove', APP, { id: c.id });
    expect(await h.handle('bulkhead:connections:list', APP, undefined)).toEqual([]);
  });

  it('refuses callers that are not the app and arguments that do not validate', async () => {
    const { h } = setup();
    expect(isTrustedCaller({ senderFrame: { url: 'https://evil.example/' } })).toBe(false);
    expect(isTrustedCaller({ senderFrame: null })).toBe(false);
    await expect(
      h.handle('bulkhead:connections:list', { senderFrame: { url: 'https://evil.example/' } }, undefined),
    ).rejects.toThrow(/is not the app/);
    await expect(
      h.handle('bulkhead:pce:request', APP, {
        connectionId: 'x',
        request: { method: 'GET', path: 'http://elsewhere/' },
      }),
    ).rejects.toThrow(/request.path/);
    await expect(h.handle('bulkhead:shell:exec', APP, {})).rejects.toThrow(/no such channel/);
  });

  it('says what went wrong: a wrong CA, a wrong secret, no keychain', async () => {
    const { h, keychain } = setup();
    const noCa = (await h.handle('bulkhead:connections:save', APP, {
      name: 'system CAs',
      url,
      ca: '', // the system's CAs, which do not know the PCE's own CA
      username: key.auth_username,
      secret: key.secret,
    })) as { id: string };
    await expect(
      h.handle('bulkhead:pce:request', APP, {
        connectionId: noCa.id,
        request: { method: 'GET', path: '/orgs/1/labels' },
      }),
    ).rejects.toThrow(/cannot reach the PCE at .*certificate/);
    const bad = (await h.handle('bulkhead:connections:save', APP, {
      name: 'bad',
      url,
      ca,
      username: key.auth_username,
      secret: 'wrong',
    })) as { id: string };
    const r = (await h.handle('bulkhead:pce:request', APP, {
      connectionId: bad.id,
      request: { method: 'GET', path: '/orgs/1/labels' },
    })) as { status: number; body: { message: string }[] };
    expect(r.status).toBe(401);
    expect(r.body[0]!.message).toMatch(/user name or secret is wrong/);
    keychain.available = false;
    await expect(
      h.handle('bulkhead:connections:save', APP, { name: 'x', url, ca, username: key.auth_username, secret: 's' }),
    ).rejects.toThrow(/keychain is not available/);
  });
});
