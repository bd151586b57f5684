// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Where a lab keeps what it knows, so any process can run `status` or
 * `down`.
 *
 * Owns `LAB_ROOT` (default `/var/lib/bulkhead-lab`, or `$BULKHEAD_LAB_ROOT`):
 * - `LAB_ROOT/<name>/lab.json`: the plan (every name and address) and the
 *   lab daemon's pid; written before anything is created;
 * - `LAB_ROOT/<name>/processes.json`: pids of the daemon's children
 *   (containerd per node, dnsmasq, httpd);
 * - `LAB_ROOT/<name>/n<i>/`: a node's containerd config, root, state,
 *   runc root, socket, CNI config and `machine-id`;
 * - `LAB_ROOT/<name>/api/`: the API server's state, TLS material and token;
 *   `LAB_ROOT/<name>/kubeconfig`;
 * - `LAB_ROOT/.slots/<k>`: which lab holds address slot k (mkdir is the
 *   atomic claim; the file inside names the lab).
 * On disk (not tmpfs), so `lab up` after a crash finds the API state.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabPlan } from './plan.js';
import { MAX_SLOTS } from './plan.js';

export const LAB_ROOT = process.env.BULKHEAD_LAB_ROOT ?? '/var/lib/bulkhead-lab';

export const labDir = (name: string): string => join(LAB_ROOT, name);
export const nodeDir = (name: string, index: number): string => join(labDir(name), `n${index}`);
export const criSocket = (name: string, index: number): string => join(nodeDir(name, index), 'containerd.sock');
export const apiDir = (name: string): string => join(labDir(name), 'api');
export const kubeconfigPath = (name: string): string => join(labDir(name), 'kubeconfig');

/** What `lab.json` holds (written by `lab up` only). */
export interface LabRecord {
  plan: LabPlan;
  createdAt: string;
  labdPid?: number;
}

/** What `processes.json` holds: the lab daemon's children (written by the daemon only). */
export interface LabProcesses {
  /** containerd pid per node index. */
  containerd: Record<string, number>;
  dnsmasq?: number;
  httpd?: number;
}

export function readProcesses(name: string): LabProcesses {
  const file = join(labDir(name), 'processes.json');
  if (!existsSync(file)) return { containerd: {} };
  return JSON.parse(readFileSync(file, 'utf8')) as LabProcesses;
}

export function writeProcesses(name: string, p: LabProcesses): void {
  const tmp = join(labDir(name), `.processes.json.${process.pid}`);
  writeFileSync(tmp, JSON.stringify(p, null, 2) + '\n');
  renameSync(tmp, join(labDir(name), 'processes.json'));
}

export function readRecord(name: string): LabRecord | undefined {
  const file = join(labDir(name), 'lab.json');
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as LabRecord;
}

export function writeRecord(rec: LabRecord): void {
  const dir = labDir(rec.plan.name);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.lab.json.${process.pid}`);
  writeFileSync(tmp, JSON.stringify(rec, null, 2) + '\n');
  renameSync(tmp, join(dir, 'lab.json'));
}

/** Names of labs that have a directory under LAB_ROOT. */
export function listLabs(): string[] {
  if (!existsSync(LAB_ROOT)) return [];
  return readdirSync(LAB_ROOT, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
    .map((d) => d.name)
    .sort();
}

const slotDir = (k: number): string => join(LAB_ROOT, '.slots', String(k));

/**
 * Claim a free address slot for `name` (atomic: mkdir). A slot whose lab
 * directory no longer exists is stale and taken over. `busy(k)` vetoes slots
 * whose addresses something else on the host already uses.
 */
export function claimSlot(name: string, busy: (k: number) => boolean): number {
  mkdirSync(join(LAB_ROOT, '.slots'), { recursive: true, mode: 0o700 });
  for (let k = 0; k < MAX_SLOTS; k++) {
    if (slotOwner(k) === name) return k;
  }
  for (let k = 0; k < MAX_SLOTS; k++) {
    const owner = slotOwner(k);
    if (owner !== undefined && owner !== '' && !existsSync(labDir(owner))) releaseSlot(k, owner);
    if (busy(k)) continue;
    try {
      mkdirSync(slotDir(k));
    } catch {
      continue; // someone else holds it
    }
    writeFileSync(join(slotDir(k), 'lab'), name);
    return k;
  }
  throw new Error(
    `no free lab address slot (at most ${MAX_SLOTS} labs at once); remove one with \`bulkhead lab down\``,
  );
}

/** The lab holding slot k: undefined when free, '' while being claimed. */
export function slotOwner(k: number): string | undefined {
  if (!existsSync(slotDir(k))) return undefined;
  try {
    return readFileSync(join(slotDir(k), 'lab'), 'utf8').trim();
  } catch {
    return '';
  }
}

/** Release slot k if `name` holds it. */
export function releaseSlot(k: number, name: string): void {
  if (slotOwner(k) === name) rmSync(slotDir(k), { recursive: true, force: true });
}
