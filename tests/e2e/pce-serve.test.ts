// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// End to end: the built `bulkhead` program as a user runs it (needs `npm run
// build`, which `npm test` does first). Real HTTPS, real SQLite, real kill -9.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'bulkhead.js');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

interface Res {
  status: number;
  body: unknown;
}

function call(url: string, ca: Buffer, method: string, path: string, auth?: string, body?: unknown): Promise<Res> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      `${url}/api/v2${path}`,
      {
        method,
        ca,
        headers: {
          ...(auth ? { authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {}),
          ...(data ? { 'content-type': 'application/json' } : {}),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
      },
    );
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

async function startServer(dir: string, port: number): Promise<{ proc: ChildProcess; ca: Buffer; url: string }> {
  const proc = spawn(
    process.execPath,
    [BIN, 'pce', 'serve', '--data-dir', dir, '--listen', `127.0.0.1:${port}`, '--log-level', 'warn'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(proc);
  let output = '';
  proc.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const url = `https://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (output.includes('PCE listening')) {
      const ca = readFileSync(join(dir, 'tls', 'ca.pem'));
      return { proc, ca, url };
    }
    if (proc.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`pce serve did not start: ${output}`);
}

describe('bulkhead pce serve (built program)', () => {
  it('serves HTTPS with its own CA, writes the owner key 0600, and keeps an acknowledged write across kill -9', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bh-e2e-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const port = await freePort();
    let s = await startServer(dir, port);
    expect(statSync(join(dir, 'owner-api-key.json')).mode & 0o777).toBe(0o600);
    const key = JSON.parse(readFileSync(join(dir, 'owner-api-key.json'), 'utf8')) as {
      auth_username: string;
      secret: string;
    };
    const auth = `${key.auth_username}:${key.secret}`;
    expect((await call(s.url, s.ca, 'GET', '/health')).status).toBe(200);
    const created = await call(s.url, s.ca, 'POST', '/orgs/1/labels', auth, { key: 'env', value: 'prod' });
    expect(created.status).toBe(201);
    const href = (created.body as { href: string }).href;
    expect((await call(s.url, s.ca, 'PUT', href, auth, { value: 'production' })).status).toBe(204);
    s.proc.kill('SIGKILL');
    await new Promise((r) => s.proc.once('exit', r));
    s = await startServer(dir, port);
    const read = await call(s.url, s.ca, 'GET', href, auth);
    expect((read.body as { value: string }).value).toBe('production');
    // The same CA after a restart: the old ca.pem still verifies the server.
    expect(readFileSync(join(dir, 'tls', 'ca.pem')).equals(s.ca)).toBe(true);
  });

  it('creates an API key from the command line that works at once on a running server', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bh-e2e-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const s = await startServer(dir, await freePort());
    const out = spawnSync(
      process.execPath,
      [BIN, 'pce', 'api-key', 'create', '--data-dir', dir, '--role', 'read_only', '--name', 'e2e'],
      {
        encoding: 'utf8',
      },
    );
    expect(out.status).toBe(0);
    const key = JSON.parse(out.stdout) as { auth_username: string; secret: string };
    const auth = `${key.auth_username}:${key.secret}`;
    expect((await call(s.url, s.ca, 'GET', '/orgs/1/labels', auth)).status).toBe(200);
    expect((await call(s.url, s.ca, 'POST', '/orgs/1/labels', auth, { key: 'role', value: 'x' })).status).toBe(403);
  });
});

describe('bulkhead command line', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });

  it('prints help for every subcommand and exits 0', () => {
    for (const args of [
      ['--help'],
      ['pce', '--help'],
      ['pce', 'serve', '--help'],
      ['pce', 'api-key', 'create', '--help'],
    ]) {
      const r = run(...args);
      expect(r.status, args.join(' ')).toBe(0);
      expect(r.stdout).toContain('Usage: bulkhead');
    }
  });

  it('exits 2 with a message on bad usage', () => {
    const unknown = run('nonsense');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'nonsense'");
    const missing = run('pce', 'serve');
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('--data-dir');
    const badRole = run('pce', 'api-key', 'create', '--data-dir', '/tmp/x', '--role', 'god', '--name', 'n');
    expect(badRole.status).toBe(2);
  });

  it('exits 1 naming the problem when the listen address is malformed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bh-e2e-'));
    try {
      const r = run('pce', 'serve', '--data-dir', dir, '--listen', 'localhost');
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('--listen localhost: expected HOST:PORT');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
