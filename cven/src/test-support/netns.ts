// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Test support (privileged): a "pod" made of a network namespace and a veth
 * pair, the host side in the test's own namespace, as a CNI plugin leaves
 * it. Used by `*.privileged.test.ts` only.
 *
 * Owns: unique names (`bh-` + random) and the removal of everything it
 * creates (`destroy()`, idempotent; deleting the namespace deletes the
 * veth pair with it).
 * Addresses: a random /30 in 198.19.128.0/17 and a random /64 in
 * fd62:6800::/32 (benchmarking and ULA ranges, routed nowhere), so
 * parallel tests do not collide. No traffic leaves the veth pair.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface PodNs {
  /** Namespace name (`ip netns`), also its /run/netns path's basename. */
  readonly ns: string;
  readonly netnsPath: string;
  /** Inode of the pod's network namespace (what drop records carry). */
  readonly netnsIno: number;
  /** Host-side veth name and index (in the test's namespace). */
  readonly hostIf: string;
  readonly hostIfindex: number;
  readonly hostIp: string;
  readonly podIp: string;
  readonly hostIp6: string;
  readonly podIp6: string;
  /** Run a command inside the pod's namespace (nsenter: /sys stays the host's). */
  exec(cmd: string, args: string[], timeoutMs?: number): Promise<{ stdout: string; stderr: string }>;
  /** Run a Python 3 program inside the pod's namespace. */
  python(program: string, args?: string[], timeoutMs?: number): Promise<string>;
  destroy(): Promise<void>;
}

/** `bh-` + random hex: unique per call, short enough for an interface name with a suffix. */
export function uniqueName(prefix = 'bh-'): string {
  return prefix + randomBytes(4).toString('hex');
}

async function ip(...args: string[]): Promise<string> {
  return (await run('ip', args)).stdout;
}

/**
 * Create a pod namespace with `eth0` and its host-side veth, both up,
 * with IPv4 and IPv6 addresses. Register `destroy` before asserting.
 */
export async function createPodNs(): Promise<PodNs> {
  const ns = uniqueName();
  const hostIf = `${ns}h`;
  const r = randomBytes(3);
  const third = 128 + ((r[0] ?? 0) & 0x7f);
  const fourth = ((r[1] ?? 0) & 0x3f) * 4;
  const hostIp = `198.19.${third}.${fourth + 1}`;
  const podIp = `198.19.${third}.${fourth + 2}`;
  const net6 = `fd62:6800:${(r[2] ?? 0).toString(16)}:${randomBytes(2).readUInt16BE().toString(16)}`; // no leading zeros: as formatAddress() prints it
  const hostIp6 = `${net6}::1`;
  const podIp6 = `${net6}::2`;

  let destroyed = false;
  const destroy = async (): Promise<void> => {
    if (destroyed) return;
    destroyed = true;
    await run('ip', ['netns', 'del', ns]).catch(() => undefined);
    await run('ip', ['link', 'del', hostIf]).catch(() => undefined);
  };

  try {
    await ip('netns', 'add', ns);
    await ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    await ip('addr', 'add', `${hostIp}/30`, 'dev', hostIf);
    await ip('-6', 'addr', 'add', `${hostIp6}/64`, 'dev', hostIf, 'nodad');
    await ip('link', 'set', hostIf, 'up');
    await ip('-n', ns, 'addr', 'add', `${podIp}/30`, 'dev', 'eth0');
    await ip('-n', ns, '-6', 'addr', 'add', `${podIp6}/64`, 'dev', 'eth0', 'nodad');
    await ip('-n', ns, 'link', 'set', 'eth0', 'up');
    await ip('-n', ns, 'link', 'set', 'lo', 'up');
  } catch (err) {
    await destroy();
    throw err;
  }
  const netnsPath = `/run/netns/${ns}`;
  const links = JSON.parse(await ip('-j', 'link', 'show', 'dev', hostIf)) as { ifindex: number }[];
  const exec = (cmd: string, args: string[], timeoutMs = 20_000) =>
    run('nsenter', [`--net=${netnsPath}`, cmd, ...args], { timeout: timeoutMs, maxBuffer: 16 << 20 });
  return {
    ns,
    netnsPath,
    netnsIno: statSync(netnsPath).ino,
    hostIf,
    hostIfindex: links[0]?.ifindex ?? 0,
    hostIp,
    podIp,
    hostIp6,
    podIp6,
    exec,
    python: async (program, args = [], timeoutMs) =>
      (await exec('python3', ['-c', program, ...args], timeoutMs)).stdout,
    destroy,
  };
}

/** `tc` state of an interface: our filters and whether a clsact qdisc is there. */
export async function tcState(ifname: string): Promise<{ hasClsact: boolean; filters: string }> {
  const qdisc = await run('tc', ['qdisc', 'show', 'dev', ifname]);
  const ingress = await run('tc', ['filter', 'show', 'dev', ifname, 'ingress']);
  const egress = await run('tc', ['filter', 'show', 'dev', ifname, 'egress']);
  return { hasClsact: qdisc.stdout.includes('clsact'), filters: (ingress.stdout + egress.stdout).trim() };
}

/** IDs of the BPF programs and maps bpftool lists with a `bh_` name. */
export async function bpfObjectIds(): Promise<{ progs: number[]; maps: number[] }> {
  const ids = async (what: 'prog' | 'map'): Promise<number[]> => {
    const { stdout } = await run('bpftool', ['-j', what, 'show']);
    return (JSON.parse(stdout || '[]') as { id: number; name?: string }[])
      .filter((o) => o.name?.startsWith('bh_'))
      .map((o) => o.id);
  };
  return { progs: await ids('prog'), maps: await ids('map') };
}
