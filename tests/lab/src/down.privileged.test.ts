// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// Privileged: whole labs made and unmade (root). After `lab down` nothing
// of the lab remains: namespaces, links, routes, processes, mounts,
// cgroups, files, address slot. Also after its processes were killed.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { describe, expect, it, onTestFinished } from 'vitest';
import { labApi } from './client.js';
import { labDown, labUp } from './lab.js';
import { linkExists, netnsExists } from './node/net.js';
import type { LabPlan } from './plan.js';
import { cgroupDirs, mountsUnder, processesMentioning } from './proc.js';
import { ipJson } from './sh.js';
import { labDir, readProcesses, slotOwner } from './state.js';
import { labStatus } from './status.js';

const root = process.getuid?.() === 0;
const newName = (): string => `bh-d${randomBytes(3).toString('hex')}`;

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Everything of the lab still on the host (empty when clean). */
async function remains(plan: LabPlan, pids: number[]): Promise<string[]> {
  const left: string[] = [];
  for (const ns of [plan.outside.netns, ...plan.nodes.map((n) => n.name)])
    if (await netnsExists(ns)) left.push(`netns ${ns}`);
  for (const l of [plan.bridge, plan.outside.hostVeth, ...plan.nodes.map((n) => n.hostVeth)])
    if (await linkExists(l)) left.push(`link ${l}`);
  const routes = await ipJson<{ dst: string }>(['route']);
  for (const n of plan.nodes) if (routes.some((r) => r.dst === n.podCIDR)) left.push(`route ${n.podCIDR}`);
  for (const p of processesMentioning(labDir(plan.name))) left.push(`process ${p}`);
  for (const p of pids) if (existsSync(`/proc/${p}`)) left.push(`pid ${p}`);
  for (const m of mountsUnder(labDir(plan.name))) left.push(`mount ${m}`);
  for (const c of cgroupDirs(`bh-lab-${plan.name}`)) left.push(`cgroup ${c}`);
  if (existsSync(labDir(plan.name))) left.push(`dir ${labDir(plan.name)}`);
  if (slotOwner(plan.slot) === plan.name) left.push(`slot ${plan.slot}`);
  return left;
}

async function startPod(name: string, pod: string): Promise<void> {
  const api = labApi(name);
  await api.call('POST', '/api/v1/namespaces', { metadata: { name: 'bh-down' } });
  const r = await api.call('POST', '/api/v1/namespaces/bh-down/pods', {
    metadata: { name: pod, labels: { app: pod } },
    spec: { containers: [{ name: 'c', image: 'busybox', command: ['/bin/busybox', 'httpd', '-f', '-p', '80'] }] },
  });
  expect(r.status).toBe(201);
}

const running = (name: string, pod: string) => async (): Promise<string | undefined> =>
  (await labStatus(name))?.pods.find((p) => p.name === pod && p.ip)?.ip;

function kill9(pids: (number | undefined)[]): void {
  for (const p of pids) if (p) process.kill(p, 'SIGKILL');
}

describe.skipIf(!root)('lab down (privileged)', () => {
  it('leaves no namespace, link, route, process, mount, cgroup or file of the lab', async () => {
    const name = newName();
    onTestFinished(async () => void (await labDown(name)));
    const { record } = await labUp({ name, nodes: 2 });
    await startPod(name, 'web');
    await until('pod running', running(name, 'web'));

    // Kubelink's view while it runs: the client library's informer sees the pod with its IP.
    const kc = new k8s.KubeConfig();
    kc.loadFromFile((await labStatus(name))!.apiServer.kubeconfig);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const informer = k8s.makeInformer(kc, '/api/v1/pods', () => core.listPodForAllNamespaces());
    onTestFinished(() => informer.stop());
    await informer.start();
    await until(
      'informer sees the pod IP',
      async () => informer.list('bh-down').find((p) => p.status?.podIP)?.status?.podIP,
    );
    await informer.stop();

    const procs = readProcesses(name);
    const pids = [record.labdPid!, ...Object.values(procs.containerd), procs.dnsmasq!, procs.httpd!];
    const r = await labDown(name);
    expect(r.leftovers).toEqual([]);
    expect(await remains(record.plan, pids)).toEqual([]);
  });

  it('recovers a lab whose processes were killed, keeping its API objects', async () => {
    const name = newName();
    onTestFinished(async () => void (await labDown(name)));
    const { record } = await labUp({ name, nodes: 1 });
    await startPod(name, 'survivor');
    await until('pod running', running(name, 'survivor'));
    const procs = readProcesses(name);
    kill9([record.labdPid, ...Object.values(procs.containerd)]);
    await until('lab seen as down', async () => ((await labStatus(name))?.running === false ? true : undefined));

    const again = await labUp({ name, nodes: 1 });
    expect(again.recovered).toBe(true);
    expect(await until('pod back', running(name, 'survivor'))).toMatch(/^198\.19\./);
    const p2 = readProcesses(name);
    const pids = [again.record.labdPid!, ...Object.values(p2.containerd), p2.dnsmasq!, p2.httpd!];
    expect((await labDown(name)).leftovers).toEqual([]);
    expect(await remains(record.plan, pids)).toEqual([]);
  });

  it('cleans up after a lab whose processes died, pods and all', async () => {
    const name = newName();
    onTestFinished(async () => void (await labDown(name)));
    const { record } = await labUp({ name, nodes: 1 });
    await startPod(name, 'orphan');
    await until('pod running', running(name, 'orphan'));
    const procs = readProcesses(name);
    kill9([record.labdPid, ...Object.values(procs.containerd), procs.dnsmasq, procs.httpd]);
    expect((await labDown(name)).leftovers).toEqual([]);
    expect(await remains(record.plan, [])).toEqual([]);
  });
});
