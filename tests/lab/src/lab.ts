// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * `lab up` and `lab down`: the order in which a lab is made and unmade.
 *
 * up: claim an address slot, write the plan (lab.json) before creating
 * anything, refuse names that already exist (not ours), then underlay,
 * outside world, nodes (namespace, routes, SNAT, containerd, image) in
 * parallel, then the lab daemon (API server, controllers, kubelets). A lab
 * whose processes died is torn down and brought up again on the same plan,
 * keeping the API server's state (crash recovery).
 *
 * down: the lab daemon first (so no kubelet recreates pods), then every
 * node's sandboxes through CRI and its containerd, the outside world's
 * processes, mounts under the lab directory, namespaces and links, cgroups,
 * then the directory and the slot. Each step tolerates a missing object, so
 * down also cleans a lab that crashed or never finished coming up.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildImage } from './node/image.js';
import { nodeDirs, teardownRuntime } from './node/containerd.js';
import {
  conflicts,
  createNodeNetwork,
  createOutsideNetwork,
  createUnderlay,
  removeNetwork,
  rootCIDRs,
} from './node/net.js';
import { cidrsOverlap, planLab, slotCIDRs, type LabPlan } from './plan.js';
import { alive, processesMentioning, removeCgroupTree, stopProcess, unmountUnder } from './proc.js';
import { sleep, spawnDetached } from './sh.js';
import {
  apiDir,
  claimSlot,
  labDir,
  nodeDir,
  readProcesses,
  readRecord,
  releaseSlot,
  writeRecord,
  type LabRecord,
} from './state.js';

/** The package root (one level above both src/ and dist/). */
const PKG_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const LABD_ENTRY = join(PKG_ROOT, 'dist', 'labd.js');

export interface UpOptions {
  name: string;
  nodes: number;
  log?: (line: string) => void;
}

export interface UpResult {
  record: LabRecord;
  recovered: boolean;
  ms: number;
}

/** cgroup parent of every sandbox on a node (cgroupfs driver). */
export const cgroupParent = (lab: string, node: number): string => `/bh-lab-${lab}/n${node}`;

/** True when the lab daemon and every containerd of the lab run. */
export function labRunning(rec: LabRecord): boolean {
  const dir = labDir(rec.plan.name);
  if (!alive(rec.labdPid, dir)) return false;
  const procs = readProcesses(rec.plan.name);
  return rec.plan.nodes.every((n) => alive(procs.containerd[String(n.index)], nodeDir(rec.plan.name, n.index)));
}

export async function labUp(opts: UpOptions): Promise<UpResult> {
  const t0 = Date.now();
  const log = opts.log ?? (() => undefined);
  const existing = readRecord(opts.name);
  let recovered = false;
  let plan: LabPlan;
  if (existing) {
    if (labRunning(existing)) return { record: existing, recovered: false, ms: Date.now() - t0 };
    log(`lab ${opts.name}: processes gone; recovering on the same plan, keeping the API state`);
    await teardown(existing, { keepData: true });
    plan = existing.plan;
    recovered = true;
  } else {
    const used = await rootCIDRs();
    const slot = claimSlot(opts.name, (k) => slotCIDRs(k).some((c) => used.some((u) => cidrsOverlap(c, u))));
    plan = planLab(opts.name, slot, opts.nodes);
  }
  const rec: LabRecord = { plan, createdAt: existing?.createdAt ?? new Date().toISOString() };
  writeRecord(rec);
  try {
    const taken = await conflicts(plan);
    if (taken.length)
      throw new Error(
        `lab ${plan.name}: ${taken.join(', ')} already exist and are not this lab's; pick another --name`,
      );
    const dir = labDir(plan.name);
    log(`building the busybox image`);
    await buildImage(join(dir, 'image')); // the daemon imports it into each node's containerd
    log(`underlay ${plan.bridge} ${plan.underlayCIDR}`);
    await createUnderlay(plan);
    await createOutsideNetwork(plan);
    await Promise.all(
      plan.nodes.map(async (n) => {
        await createNodeNetwork(plan, n);
        const nd = nodeDir(plan.name, n.index);
        mkdirSync(nd, { recursive: true, mode: 0o700 });
        const mid = nodeDirs(nd).machineId;
        if (!existsSync(mid)) writeFileSync(mid, randomBytes(16).toString('hex') + '\n');
        log(`node ${n.name} ${n.ip} pods ${n.podCIDR}`);
      }),
    );
    mkdirSync(apiDir(plan.name), { recursive: true, mode: 0o700 });
    rec.labdPid = await spawnDetached(
      [process.execPath, LABD_ENTRY, '--name', plan.name, '--dir', dir],
      join(dir, 'labd.log'),
    );
    writeRecord(rec);
    await waitLabd(plan.name, rec.labdPid);
    log(`API server ${plan.apiServer.url}`);
    return { record: rec, recovered, ms: Date.now() - t0 };
  } catch (err) {
    await teardown(rec, { keepData: recovered }).catch(() => undefined);
    throw err;
  }
}

/** The daemon writes `api/ready` once it serves and its kubelets run. */
async function waitLabd(name: string, pid: number, timeoutMs = 60_000): Promise<void> {
  const ready = join(apiDir(name), 'ready');
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (existsSync(ready) && Number(readFileSync(ready, 'utf8')) === pid) return;
    if (!alive(pid, labDir(name))) {
      const logText = existsSync(join(labDir(name), 'labd.log'))
        ? readFileSync(join(labDir(name), 'labd.log'), 'utf8')
        : '';
      throw new Error(`lab daemon exited during start: ${logText.trim().split('\n').slice(-3).join(' | ')}`);
    }
    await sleep(25);
  }
  throw new Error(`lab daemon not ready after ${timeoutMs} ms`);
}

export interface DownReport {
  /** What was still there after down (empty when clean). */
  leftovers: string[];
  ms: number;
}

/** Remove the lab named `name` (also a half-made or crashed one). */
export async function labDown(name: string): Promise<DownReport> {
  const t0 = Date.now();
  const rec = readRecord(name);
  if (!rec) {
    if (existsSync(labDir(name))) {
      // A directory without a plan: only our processes and mounts can be in it.
      for (const p of processesMentioning(labDir(name))) await stopProcess(p, labDir(name), 2000);
      const left = await unmountUnder(labDir(name));
      if (left.length === 0) rmSync(labDir(name), { recursive: true, force: true });
      return { leftovers: left.map((m) => `mount ${m}`), ms: Date.now() - t0 };
    }
    return { leftovers: [], ms: Date.now() - t0 };
  }
  const leftovers = await teardown(rec, { keepData: false });
  return { leftovers, ms: Date.now() - t0 };
}

async function teardown(rec: LabRecord, opts: { keepData: boolean }): Promise<string[]> {
  const { plan } = rec;
  const dir = labDir(plan.name);
  // The daemon removes every sandbox through CRI and stops its children on SIGTERM.
  if (rec.labdPid) await stopProcess(rec.labdPid, dir, 60_000);
  const procs = readProcesses(plan.name);
  await Promise.all(
    plan.nodes.map((n) => teardownRuntime(n, nodeDir(plan.name, n.index), procs.containerd[String(n.index)])),
  );
  for (const pid of [procs.dnsmasq, procs.httpd]) if (pid) await stopProcess(pid, dir, 2000);
  for (const p of processesMentioning(dir)) await stopProcess(p, dir, 2000);
  const left: string[] = [];
  left.push(...(await unmountUnder(dir)).map((m) => `mount ${m}`));
  await removeNetwork(plan);
  left.push(...removeCgroupTree(`bh-lab-${plan.name}`).map((c) => `cgroup ${c}`));
  left.push(...(await conflicts(plan)));
  if (left.length === 0) {
    if (opts.keepData) {
      for (const n of plan.nodes) {
        // The node keeps its identity across recovery: only its machine id survives.
        const nd = nodeDir(plan.name, n.index);
        const mid = nodeDirs(nd).machineId;
        const id = existsSync(mid) ? readFileSync(mid, 'utf8') : undefined;
        rmSync(nd, { recursive: true, force: true });
        rmSync(join(dir, 'processes.json'), { force: true });
        if (id) {
          mkdirSync(nd, { recursive: true, mode: 0o700 });
          writeFileSync(mid, id);
        }
      }
      rmSync(join(apiDir(plan.name), 'ready'), { force: true });
    } else {
      rmSync(dir, { recursive: true, force: true });
      releaseSlot(plan.slot, plan.name);
    }
  }
  return left;
}
