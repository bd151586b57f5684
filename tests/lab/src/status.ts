// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * `lab status`: what the lab is, read from its plan and from each node's
 * containerd over CRI (so pod IPs and network namespace paths are the
 * runtime's, not a copy). The `--json` shape is issue 3's contract:
 * `{nodes: [{name, netns, ip, podCIDR, machineId, criSocket}],
 *   pods: [{namespace, name, node, ip, netnsPath, labels}],
 *   apiServer: {url, kubeconfig}}` plus a few more fields.
 */
import { existsSync, readFileSync } from 'node:fs';
import { CriClient, sandboxDetails } from './cri/client.js';
import { labRunning } from './lab.js';
import { nodeDirs } from './node/containerd.js';
import { netnsPath } from './node/net.js';
import { kubeconfigPath, labDir, nodeDir, readRecord } from './state.js';

export interface LabStatus {
  name: string;
  running: boolean;
  dir: string;
  nodes: {
    name: string;
    netns: string;
    netnsPath: string;
    ip: string;
    podCIDR: string;
    machineId: string;
    criSocket: string;
  }[];
  pods: {
    namespace: string;
    name: string;
    uid: string;
    node: string;
    ip: string;
    netnsPath: string;
    labels: Record<string, string>;
  }[];
  apiServer: { url: string; kubeconfig: string };
  underlay: { bridge: string; cidr: string; hostIp: string };
  clusterCIDR: string;
  serviceCIDR: string;
  outside: { netns: string; ip: string; dns: string };
}

const K8S_LABEL = /^io\.kubernetes\./;

export async function labStatus(name: string): Promise<LabStatus | undefined> {
  const rec = readRecord(name);
  if (!rec) return undefined;
  const { plan } = rec;
  const nodes = plan.nodes.map((n) => {
    const d = nodeDirs(nodeDir(name, n.index));
    return {
      name: n.name,
      netns: n.name,
      netnsPath: netnsPath(n.name),
      ip: n.ip,
      podCIDR: n.podCIDR,
      machineId: existsSync(d.machineId) ? readFileSync(d.machineId, 'utf8').trim() : '',
      criSocket: d.socket,
    };
  });
  const pods: LabStatus['pods'] = [];
  await Promise.all(
    nodes.map(async (n) => {
      if (!existsSync(n.criSocket)) return;
      const cri = new CriClient(n.criSocket, 5000);
      try {
        for (const b of await cri.listPodSandbox({ state: 'SANDBOX_READY' })) {
          const d = await sandboxDetails(cri, b.id).catch(() => undefined);
          if (!d) continue;
          pods.push({
            namespace: b.metadata.namespace,
            name: b.metadata.name,
            uid: b.metadata.uid,
            node: n.name,
            ip: d.ip,
            netnsPath: d.netnsPath,
            labels: Object.fromEntries(Object.entries(b.labels).filter(([k]) => !K8S_LABEL.test(k))),
          });
        }
      } catch {
        // containerd down: its pods are not listed
      } finally {
        cri.close();
      }
    }),
  );
  pods.sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
  return {
    name,
    running: labRunning(rec),
    dir: labDir(name),
    nodes,
    pods,
    apiServer: { url: plan.apiServer.url, kubeconfig: kubeconfigPath(name) },
    underlay: { bridge: plan.bridge, cidr: plan.underlayCIDR, hostIp: plan.hostIp },
    clusterCIDR: plan.clusterCIDR,
    serviceCIDR: plan.serviceCIDR,
    outside: { netns: plan.outside.netns, ip: plan.outside.ip, dns: plan.outside.ip },
  };
}

/** Find a pod's sandbox (by namespace/name) on any node of the lab. */
export async function findPod(
  name: string,
  namespace: string,
  pod: string,
): Promise<LabStatus['pods'][number] | undefined> {
  const s = await labStatus(name);
  return s?.pods.find((p) => p.namespace === namespace && p.name === pod);
}
