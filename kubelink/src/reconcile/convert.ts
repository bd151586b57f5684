// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Kubernetes objects → the shapes Kubelink reports (pce/src/api/kubelink.ts).
 * Pure: the reconcilers call these with what the informers' caches hold.
 * A Service's ports are reported with the port its pods listen on (named
 * target ports resolved through its EndpointSlices), since that is what the
 * pods' tables enforce; its backends are the ready endpoints of its slices.
 */
import type { V1Namespace, V1Node, V1Pod, V1Service, V1EndpointSlice } from '@kubernetes/client-node';
import type { KubeNamespace, KubeNode, KubePod, KubeService } from '@bulkhead/pce/api';

const map = (m: Record<string, string> | undefined): Record<string, string> => ({ ...(m ?? {}) });

export function toKubeNode(n: V1Node): KubeNode {
  const out: KubeNode = {
    name: n.metadata!.name!,
    pod_cidr: n.spec?.podCIDR ?? null,
    machine_id: n.status?.nodeInfo?.machineID || null,
    addresses: (n.status?.addresses ?? []).map((a) => ({ type: a.type, address: a.address })),
    labels: map(n.metadata?.labels),
  };
  if (n.metadata?.uid) out.uid = n.metadata.uid;
  if (n.status?.nodeInfo?.kubeletVersion) out.kubelet_version = n.status.nodeInfo.kubeletVersion;
  if (n.status?.nodeInfo?.containerRuntimeVersion) out.container_runtime = n.status.nodeInfo.containerRuntimeVersion;
  return out;
}

export function toKubeNamespace(n: V1Namespace): KubeNamespace {
  const out: KubeNamespace = {
    name: n.metadata!.name!,
    labels: map(n.metadata?.labels),
    annotations: map(n.metadata?.annotations),
  };
  if (n.metadata?.uid) out.uid = n.metadata.uid;
  return out;
}

export function toKubePod(p: V1Pod): KubePod {
  const owner = (p.metadata?.ownerReferences ?? []).find((o) => o.controller) ?? p.metadata?.ownerReferences?.[0];
  return {
    uid: p.metadata!.uid!,
    namespace: p.metadata!.namespace!,
    name: p.metadata!.name!,
    node_name: p.spec?.nodeName ?? null,
    ip: p.status?.podIP ?? null,
    host_network: p.spec?.hostNetwork === true,
    labels: map(p.metadata?.labels),
    annotations: map(p.metadata?.annotations),
    owner: owner ? { kind: owner.kind, name: owner.name } : null,
  };
}

const PROTOCOLS = new Set(['TCP', 'UDP', 'SCTP']);

export function toKubeService(s: V1Service, slices: readonly V1EndpointSlice[]): KubeService {
  const backends = new Map<string, { ip: string; pod_uid: string | null }>();
  const namedPorts = new Map<string, number>();
  for (const sl of slices) {
    for (const p of sl.ports ?? []) if (p.name && p.port) namedPorts.set(p.name, p.port);
    for (const e of sl.endpoints ?? []) {
      if (e.conditions?.ready === false) continue;
      const uid = e.targetRef?.kind === 'Pod' ? (e.targetRef.uid ?? null) : null;
      for (const ip of e.addresses ?? []) backends.set(ip, { ip, pod_uid: uid });
    }
  }
  const ports = (s.spec?.ports ?? [])
    .filter((p) => PROTOCOLS.has(p.protocol ?? 'TCP'))
    .map((p) => {
      const tp = p.targetPort as number | string | undefined;
      const target =
        typeof tp === 'number'
          ? tp
          : typeof tp === 'string' && /^\d+$/.test(tp)
            ? Number(tp)
            : typeof tp === 'string'
              ? (namedPorts.get(p.name ?? '') ?? p.port)
              : p.port;
      const out: KubeService['ports'][number] = {
        port: p.port,
        target_port: target,
        protocol: (p.protocol ?? 'TCP') as 'TCP' | 'UDP' | 'SCTP',
      };
      if (p.name) out.name = p.name;
      return out;
    });
  return {
    uid: s.metadata!.uid!,
    namespace: s.metadata!.namespace!,
    name: s.metadata!.name!,
    type: s.spec?.type ?? 'ClusterIP',
    cluster_ip: s.spec?.clusterIP ?? null,
    ports,
    labels: map(s.metadata?.labels),
    annotations: map(s.metadata?.annotations),
    backends: [...backends.values()].sort((a, b) => (a.ip < b.ip ? -1 : 1)),
  };
}
