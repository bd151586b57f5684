// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * One lab node's containerd: write its config, start it inside the node's
 * network namespace in its own session, wait until CRI answers with the
 * network ready, import the lab image; and the reverse, which removes every
 * sandbox through CRI before stopping containerd (pods outlive their
 * containerd otherwise), then sweeps what a crash may have left (shims,
 * runc containers).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CriClient } from '../cri/client.js';
import { alive, exited, processesMentioning, stopProcess } from '../proc.js';
import { run, sleep, spawnDetached } from '../sh.js';
import { renderCniConflist, renderContainerdConfig, type NodeDirs } from './config.js';
import { importImage } from './image.js';
import { netnsPath } from './net.js';
import type { NodePlan } from '../plan.js';

export function nodeDirs(dir: string): NodeDirs & { config: string; log: string; machineId: string } {
  return {
    root: join(dir, 'root'),
    state: join(dir, 'state'),
    runcRoot: join(dir, 'runc'),
    socket: join(dir, 'containerd.sock'),
    cniConfDir: join(dir, 'cni'),
    config: join(dir, 'containerd.toml'),
    log: join(dir, 'containerd.log'),
    machineId: join(dir, 'machine-id'),
  };
}

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Write config files and start containerd in the node's namespace; returns its pid once CRI is ready. */
export async function startContainerd(node: NodePlan, dir: string, netnsName = node.name): Promise<number> {
  const d = nodeDirs(dir);
  for (const p of [d.root, d.state, d.runcRoot, d.cniConfDir]) mkdirSync(p, { recursive: true, mode: 0o700 });
  writeFileSync(d.config, renderContainerdConfig(d));
  writeFileSync(join(d.cniConfDir, '10-bulkhead-lab.conflist'), renderCniConflist(node.podCIDR, node.podGateway));
  const argv = existsSync(netnsPath(netnsName))
    ? ['nsenter', `--net=${netnsPath(netnsName)}`, 'containerd', '--config', d.config]
    : ['containerd', '--config', d.config];
  const pid = await spawnDetached(argv, d.log, { ...process.env, PATH: `${PATH}:${process.env.PATH ?? ''}` });
  await waitReady(d.socket, pid, d.config);
  return pid;
}

/** Poll CRI Status until RuntimeReady and NetworkReady (containerd boots in ~20 ms). */
async function waitReady(socket: string, pid: number, marker: string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < until) {
    if (exited(pid) && !processesMentioning(marker).length)
      throw new Error(`containerd (${marker}) exited during start; see its log next to the config`);
    if (existsSync(socket)) {
      const cri = new CriClient(socket, 2000);
      try {
        const s = await cri.status();
        const conds = s.status.conditions;
        if (
          conds.find((c) => c.type === 'RuntimeReady')?.status &&
          conds.find((c) => c.type === 'NetworkReady')?.status
        )
          return;
        last = JSON.stringify(conds.filter((c) => !c.status));
      } catch (err) {
        last = (err as Error).message;
      } finally {
        cri.close();
      }
    }
    await sleep(20);
  }
  throw new Error(`containerd on ${socket} not ready after ${timeoutMs} ms: ${last}`);
}

export async function prepareNode(dir: string, tarball: string): Promise<void> {
  await importImage(nodeDirs(dir).socket, tarball);
}

/** Stop and remove every sandbox on this containerd through CRI. Returns how many were removed. */
export async function removeAllSandboxes(socket: string): Promise<number> {
  const cri = new CriClient(socket, 10_000);
  try {
    const boxes = await cri.listPodSandbox();
    await Promise.all(
      boxes.map(async (b) => {
        await cri.stopPodSandbox(b.id).catch(() => undefined);
        await cri.removePodSandbox(b.id);
      }),
    );
    return boxes.length;
  } finally {
    cri.close();
  }
}

/**
 * Tear a node's runtime down: sandboxes through CRI (restarting containerd
 * from its state when it died, so CNI releases addresses and unmounts), then
 * containerd, then anything left mentioning the node directory (shims), then
 * runc containers under the node's runc root.
 */
export async function teardownRuntime(
  node: NodePlan,
  dir: string,
  pid: number | undefined,
  netnsName = node.name,
): Promise<void> {
  const d = nodeDirs(dir);
  if (!existsSync(d.config)) return;
  let ctdPid = pid;
  if (!alive(ctdPid, d.config) && existsSync(d.state)) {
    try {
      ctdPid = await startContainerd(node, dir, netnsName);
    } catch {
      ctdPid = undefined; // fall through to the sweep below
    }
  }
  if (alive(ctdPid, d.config)) {
    try {
      await removeAllSandboxes(d.socket);
    } catch {
      // swept below
    }
    await stopProcess(ctdPid!, d.config, 10_000);
  }
  for (const p of processesMentioning(dir)) await stopProcess(p, dir, 2000);
  const runcRoot = join(d.runcRoot, 'k8s.io');
  if (existsSync(runcRoot)) {
    const ls = await run(['runc', '--root', runcRoot, 'list', '-q'], { allowFail: true });
    for (const id of ls.stdout.split('\n').filter(Boolean))
      await run(['runc', '--root', runcRoot, 'delete', '-f', id], { allowFail: true });
  }
}
