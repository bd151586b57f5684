// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// Privileged: runs `bulkhead probe` (built: cven/dist) on a veth of a new network namespace (root).
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createPodNs, tcState } from '../test-support/netns.js';

const isRoot = process.getuid?.() === 0;
const root = fileURLToPath(new URL('../../../', import.meta.url));

/** The cven part's commands as the dispatcher mounts them, in a process of their own. */
const CLI = `
import { Command } from 'commander';
import { commands } from '@bulkhead/cven/cli';
const program = new Command('bulkhead').exitOverride();
for (const c of commands) program.addCommand(c);
try { await program.parseAsync(process.argv.slice(1), { from: 'user' }); }
catch (err) { const usage = String(err.code).startsWith('commander.'); if (!usage) process.stderr.write('bulkhead: ' + err.message + '\\n'); process.exitCode = usage ? 2 : (err.exitCode ?? 1); }
`;

function startProbe(args: string[]) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CLI, '--', 'probe', ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (b: Buffer) => (out.stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out.stderr += b.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const attached = async (): Promise<void> => {
    for (let i = 0; i < 100 && !out.stderr.includes('attached'); i++) await new Promise((r) => setTimeout(r, 100));
    if (!out.stderr.includes('attached')) throw new Error(`probe did not attach: ${out.stderr}`);
  };
  return { child, out, exited, attached };
}

describe.skipIf(!isRoot)('bulkhead probe (privileged)', () => {
  it('prints flows as JSON lines with counts since attach and detaches cleanly on SIGINT', async () => {
    const pod = await createPodNs();
    onTestFinished(() => pod.destroy());
    let received = 0;
    const server = createServer((s) => s.on('data', (b) => (received += b.length)).on('end', () => s.end()));
    onTestFinished(() => new Promise<void>((r) => server.close(() => r())));
    await new Promise<void>((r) => server.listen(0, pod.hostIp, r));
    const port = (server.address() as AddressInfo).port;
    const probe = startProbe(['--interface', pod.hostIf, '--json']);
    onTestFinished(() => void probe.child.kill('SIGKILL'));
    await probe.attached();

    await pod.python(
      'import socket,sys\nc=socket.create_connection((sys.argv[1],int(sys.argv[2])))\nc.sendall(b"x"*300000)\nc.shutdown(1)\nc.recv(1)',
      [pod.hostIp, String(port)],
    );
    await new Promise((r) => setTimeout(r, 1500)); // one drain interval
    probe.child.kill('SIGINT');
    expect(await probe.exited).toBe(0);

    const lines = probe.out.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const toServer = lines.filter(
      (l) => l.kind === 'flow' && (l.destination as { port?: number }).port === port && l.direction === 'from_pod',
    );
    expect(toServer.length).toBeGreaterThan(0);
    const last = toServer.at(-1)!;
    expect(last).toMatchObject({ protocol: 'tcp', interface: pod.hostIf, source: { ip: pod.podIp } });
    expect(last.bytes as number).toBeGreaterThanOrEqual(received);
    expect(lines.at(-1)).toMatchObject({ kind: 'loss', flows_evicted: 0 });
    expect(probe.out.stderr).toMatch(/^attached /);
    expect(await tcState(pod.hostIf)).toEqual({ hasClsact: false, filters: '' });
  });

  it('stops by itself after --seconds with exit code 0', async () => {
    const pod = await createPodNs();
    onTestFinished(() => pod.destroy());
    const probe = startProbe(['--interface', pod.hostIf, '--seconds', '1']);
    onTestFinished(() => void probe.child.kill('SIGKILL'));
    expect(await probe.exited).toBe(0);
    expect(probe.out.stderr).toContain(`attached ${pod.hostIf}`);
    expect(probe.out.stderr).toContain(`detached ${pod.hostIf}`);
    expect(await tcState(pod.hostIf)).toEqual({ hasClsact: false, filters: '' });
  });

  it('tells the user how to find interfaces when the one named does not exist', async () => {
    const probe = startProbe(['--interface', 'bh-nosuchif', '--seconds', '1']);
    expect(await probe.exited).toBe(1);
    expect(probe.out.stderr).toMatch(/interface bh-nosuchif does not exist.*ip -br link/);
  });
});
