// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Processes, mounts and cgroups the lab owns, found by what they reference
 * (the lab's directory) rather than by name, so `lab down` never stops or
 * unmounts anything another lab or program made.
 */
import { existsSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { run, sleep } from './sh.js';

export function cmdline(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return undefined;
  }
}

/** True while `pid` runs and its command line mentions `marker` (guards against pid reuse). */
export function alive(pid: number | undefined, marker: string): boolean {
  if (!pid || pid <= 0) return false;
  const c = cmdline(pid);
  if (!c) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (/\) Z /.test(stat)) return false; // zombie
  } catch {
    return false;
  }
  return c.some((a) => a.includes(marker));
}

/**
 * True once `pid`, a child we just started, has exited (gone or a zombie).
 * Unlike `alive`, it does not read the command line, which is briefly empty
 * while the child execs (nsenter → containerd), so a start is not mistaken
 * for an exit.
 */
export function exited(pid: number): boolean {
  try {
    return /\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

/**
 * Programs the lab itself runs. Other programs may name lab paths too (a
 * C-VEN is given a node's CRI socket, Kubelink the lab's kubeconfig): the
 * lab never stops those.
 */
const LAB_PROGRAM = /^(containerd|containerd-shim.*|runc|dnsmasq|busybox|sleep)$/;

function isLabProgram(argv: string[]): boolean {
  const exe = (argv[0] ?? '').split('/').pop() ?? '';
  return LAB_PROGRAM.test(exe) || argv.some((a) => a.endsWith('/labd.js'));
}

/** Pids of the lab's own programs whose command line mentions `marker` (other than this process). */
export function processesMentioning(marker: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    if (alive(pid, marker) && isLabProgram(cmdline(pid) ?? [])) out.push(pid);
  }
  return out;
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL; returns once gone. */
export async function stopProcess(pid: number, marker: string, graceMs = 5000): Promise<void> {
  if (!alive(pid, marker)) return reaped(pid);
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const until = Date.now() + graceMs;
  while (Date.now() < until) {
    if (!alive(pid, marker)) return reaped(pid);
    await sleep(25);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  for (let i = 0; i < 200 && alive(pid, marker); i++) await sleep(10);
  await reaped(pid);
}

/** Wait (up to 1 s) until a dead process is reaped; a parent's libuv reaps its own children. */
async function reaped(pid: number): Promise<void> {
  for (let i = 0; i < 100 && existsSync(`/proc/${pid}`); i++) await sleep(10);
}

const unescapeMount = (s: string): string =>
  s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** Mount points at or below `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
  const text = readFileSync('/proc/self/mountinfo', 'utf8');
  const pts = new Set<string>();
  for (const line of text.split('\n')) {
    const mp = line.split(' ')[4];
    if (!mp) continue;
    const p = unescapeMount(mp);
    if (p === dir || p.startsWith(dir + '/')) pts.add(p);
  }
  return [...pts].sort((a, b) => b.length - a.length);
}

/** Unmount everything below `dir` (lazily when busy); returns what is still mounted. */
export async function unmountUnder(dir: string): Promise<string[]> {
  for (let round = 0; round < 3; round++) {
    const mps = mountsUnder(dir);
    if (mps.length === 0) return [];
    for (const mp of mps) {
      const r = await run(['umount', mp], { allowFail: true });
      if (r.code !== 0) await run(['umount', '-l', mp], { allowFail: true });
    }
  }
  return mountsUnder(dir);
}

const CGROUP_ROOT = '/sys/fs/cgroup';

/** Every cgroup hierarchy's directory for `rel` (v1 controllers and the unified v2 mount). */
export function cgroupDirs(rel: string): string[] {
  if (!existsSync(CGROUP_ROOT)) return [];
  const out: string[] = [];
  for (const h of readdirSync(CGROUP_ROOT)) {
    const d = join(CGROUP_ROOT, h, rel);
    if (existsSync(d)) out.push(d);
  }
  if (existsSync(join(CGROUP_ROOT, 'cgroup.procs')) && existsSync(join(CGROUP_ROOT, rel)))
    out.push(join(CGROUP_ROOT, rel));
  return out;
}

/** Remove a cgroup subtree (depth first); cgroups holding processes stay and are returned. */
export function removeCgroupTree(rel: string): string[] {
  const left: string[] = [];
  const rm = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) rm(join(d, e.name));
    try {
      rmdirSync(d);
    } catch {
      left.push(d);
    }
  };
  for (const d of cgroupDirs(rel)) rm(d);
  return left;
}
