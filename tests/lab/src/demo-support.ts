// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Helpers shared by the end-to-end tests and benchmarks that run on a
 * demo (PCE + lab + agents): free ports, connections from inside a pod's
 * network namespace, waiting for a condition, and the PCE objects a test
 * builds through the API.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { labApi } from './client.js';
import { applyFile } from './manifests.js';
import type { Demo } from './demo.js';

const run = promisify(execFile);
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** A short unique name (lab names become interface names: keep them short). */
export function shortName(prefix: string): string {
  return prefix + randomBytes(2).toString('hex');
}

/**
 * Open TCP to ip:port from inside a network namespace; "pong" when the
 * server answered, "timed_out" otherwise (waits at most `seconds`).
 */
export async function tcpFrom(netnsPath: string, ip: string, port: number, seconds = 2): Promise<string> {
  try {
    const r = await run(
      'nsenter',
      [`--net=${netnsPath}`, 'timeout', String(seconds), 'bash', '-c', `exec 3<>/dev/tcp/${ip}/${port}; cat <&3`],
      { timeout: (seconds + 3) * 1000 },
    );
    return r.stdout.trim() || 'empty';
  } catch (err) {
    return ((err as { stdout?: string }).stdout ?? '').trim() || 'timed_out';
  }
}

/** "connected" when a TCP connection to ip:port opens from inside the namespace within `seconds`, else "timed_out". */
export async function tcpConnect(netnsPath: string, ip: string, port: number, seconds = 2): Promise<string> {
  try {
    await run(
      'nsenter',
      [`--net=${netnsPath}`, 'timeout', String(seconds), 'bash', '-c', `exec 3<>/dev/tcp/${ip}/${port}`],
      {
        timeout: (seconds + 3) * 1000,
      },
    );
    return 'connected';
  } catch {
    return 'timed_out';
  }
}

/** Poll `fn` until it returns a truthy value; throws with `what` after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  fn: () => Promise<T>,
  timeoutMs = 20_000,
  everyMs = 100,
): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(everyMs);
  }
}

/** Apply YAML to the demo's lab API server. */
export async function labApply(demo: Demo, yaml: string): Promise<void> {
  const file = join(demo.dir, `apply-${randomBytes(3).toString('hex')}.yaml`);
  writeFileSync(file, yaml);
  await applyFile(labApi(demo.lab.name), file, () => undefined);
}

/** The API call, failing the test on any status but the expected ones. */
export async function must<T>(
  demo: Demo,
  method: string,
  path: string,
  body?: unknown,
  ok = [200, 201, 204],
): Promise<T> {
  const r = await demo.api<T>(method, path, body);
  if (!ok.includes(r.status)) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export async function label(demo: Demo, key: string, value: string): Promise<string> {
  const found = await must<{ href: string; key: string; value: string }[]>(
    demo,
    'GET',
    `/orgs/1/labels?key=${key}&value=${encodeURIComponent(value)}`,
  );
  const hit = found.find((l) => l.key === key && l.value === value);
  if (hit) return hit.href;
  return (await must<{ href: string }>(demo, 'POST', '/orgs/1/labels', { key, value })).href;
}

/** The profile of a namespace, once an agent has reported it. */
export async function profileOf(demo: Demo, namespace: string): Promise<string> {
  return eventually(`the profile of namespace ${namespace}`, async () => {
    const ps = await must<{ href: string; namespace: string | null }[]>(
      demo,
      'GET',
      `${demo.clusterHref}/container_workload_profiles`,
    );
    return ps.find((p) => p.namespace === namespace)?.href;
  });
}

export async function provision(demo: Demo, note: string): Promise<number> {
  const r = await must<{ href: string }>(demo, 'POST', '/orgs/1/sec_policy', { update_description: note });
  return Number(r.href.slice(r.href.lastIndexOf('/') + 1));
}

/** A busybox pod spec line for the lab: TCP servers answering "pong" on each port. */
export function podYaml(
  namespace: string,
  name: string,
  opts: { role?: string; ports?: number[]; node?: string; labels?: Record<string, string> } = {},
): string {
  const servers = (opts.ports ?? []).map((p) => `/bin/busybox nc -ll -p ${p} -e /bin/busybox echo pong &`).join(' ');
  const cmd = servers ? `${servers} wait` : 'exec /bin/busybox sleep 3600';
  const meta = [
    opts.role ? `annotations: {bulkhead.io/role: ${opts.role}}` : '',
    opts.labels
      ? `labels: {${Object.entries(opts.labels)
          .map(([k, v]) => `${k}: ${v}`)
          .join(', ')}}`
      : '',
  ]
    .filter(Boolean)
    .join(', ');
  return `---
apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${namespace}${meta ? `, ${meta}` : ''}}
spec:
  ${opts.node ? `nodeName: ${opts.node}` : ''}
  containers: [{name: c, image: busybox, command: ["/bin/busybox", "sh", "-c", "${cmd}"]}]
`;
}

/** A numeric `--name N` command-line flag of a benchmark, or `dflt`. */
export function numberArg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}

/** User + system CPU of a process so far, in clock ticks (100 a second). */
export function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(f[11]) + Number(f[12]);
}

/** Resident memory of a process, MiB. */
export function rssMiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}
