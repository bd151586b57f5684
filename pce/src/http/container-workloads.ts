// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * From reported pods to container workloads. One profile per (cluster,
 * namespace), created the first time the namespace is reported, from the
 * cluster's default profile. Pods on the pod network of a managed namespace
 * become container workloads, labelled per POLICY.md (domain/pod-labels.ts);
 * host-network pods are their node; pods of unmanaged namespaces are not
 * workloads.
 *
 * Owns: the `pods` table's meaning (the last report of every pod, by uid),
 * and keeping `container_workloads` equal to what pods + profiles say
 * (level-based: `syncNamespace` recomputes a namespace whole). Call inside a
 * transaction.
 */
import { randomUUID } from 'node:crypto';
import type { PodReport } from '../api/agent.js';
import type { ContainerCluster, ContainerWorkloadProfile } from '../api/inventory-objects.js';
import type { LabelSummary } from '../api/policy-objects.js';
import { podLabels } from '../domain/pod-labels.js';
import { createMissingLabels, kubePodsOf, labelMapOf, syncServices } from './kube-inventory.js';
import type { Store } from '../store/store.js';

export interface ContainerWorkload {
  href: string;
  name: string;
  namespace: string;
  pod_uid: string;
  labels: LabelSummary[];
  interfaces: { name: string; address: string }[];
  enforcement_mode: ContainerWorkloadProfile['enforcement_mode'];
  visibility_level: ContainerWorkloadProfile['visibility_level'];
  container_cluster: { href: string };
  node: { href: string };
  container_workload_profile: { href: string };
  /** Annotations that named labels but were not applied, with why. */
  label_warnings: string[];
  online: boolean;
  created_at: string;
  updated_at: string;
}

/** A reported pod as kept in `pods`. */
export interface PodRecord extends PodReport {
  node_workload: string;
  cluster_id: string;
}

async function profilesOf(s: Store, clusterId: string): Promise<{ id: string; p: ContainerWorkloadProfile }[]> {
  const rows = await s.db
    .selectFrom('container_workload_profiles')
    .select(['id', 'body'])
    .where('cluster_id', '=', clusterId)
    .execute();
  return rows.map((r) => ({ id: r.id, p: JSON.parse(r.body) as ContainerWorkloadProfile }));
}

/** The namespace's profile, created from the cluster's default profile when missing; marked linked. */
export async function ensureProfile(s: Store, clusterId: string, namespace: string): Promise<ContainerWorkloadProfile> {
  const all = await profilesOf(s, clusterId);
  const found = all.find((r) => r.p.namespace === namespace);
  if (found) {
    if (!found.p.linked) {
      found.p.linked = true;
      await s.updateDoc('container_workload_profiles', found.id, found.p);
    }
    return found.p;
  }
  const defaults = all.find((r) => r.p.namespace === null)?.p;
  const id = randomUUID();
  const at = new Date().toISOString();
  const profile: ContainerWorkloadProfile = {
    href: `/orgs/1/container_clusters/${clusterId}/container_workload_profiles/${id}`,
    name: null,
    namespace,
    description: null,
    managed: defaults?.managed ?? false,
    enforcement_mode: defaults?.enforcement_mode ?? 'idle',
    visibility_level: defaults?.visibility_level ?? 'flow_summary',
    labels: defaults?.labels ?? [],
    linked: true,
    created_at: at,
    updated_at: at,
  };
  await s.insertDoc('container_workload_profiles', id, profile, { cluster_id: clusterId, namespace });
  return profile;
}

/** Why a pod is not a container workload, or null when it is one. */
export function notAWorkload(pod: PodReport, profile: ContainerWorkloadProfile): string | null {
  if (pod.host_network) return 'host network: the pod is its node';
  if (!profile.managed) return `namespace ${pod.namespace} is not managed`;
  if (!pod.ip) return 'no pod IP yet';
  return null;
}

/**
 * Make the container workloads of one namespace equal what its pods and its
 * profile say. Returns the container workload href per pod uid.
 */
export async function syncNamespace(s: Store, clusterId: string, namespace: string): Promise<Map<string, string>> {
  const profile = await ensureProfile(s, clusterId, namespace);
  const pods = (
    await s.db
      .selectFrom('pods')
      .select('body')
      .where('cluster_id', '=', clusterId)
      .where('namespace', '=', namespace)
      .execute()
  ).map((r) => JSON.parse(r.body) as PodRecord);
  const cluster = await s.getDoc<ContainerCluster>('container_clusters', clusterId);
  const labelMap = labelMapOf(cluster).pods;
  // The API's current metadata (through Kubelink) wins over the sandbox's, which never changes after it starts.
  const kubePods = await kubePodsOf(s, clusterId, namespace);
  const metaOf = (pod: PodRecord): { labels: Record<string, string>; annotations: Record<string, string> } => {
    const k = kubePods.get(pod.uid);
    return k ? { labels: k.labels, annotations: k.annotations } : pod;
  };
  const keys = new Set((await s.db.selectFrom('label_dimensions').select('key').execute()).map((r) => r.key));
  if (Object.keys(labelMap).length > 0) {
    // The label map creates the labels it needs (POLICY.md "Identity").
    const labelsNow = await s.listDocs<LabelSummary>('labels');
    const have = new Map(labelsNow.map((l) => [`${l.key}=${l.value}`, l]));
    for (const pod of pods)
      await createMissingLabels(s, podLabels(profile.labels, metaOf(pod), have, keys, labelMap).missing);
  }
  const labels = await s.listDocs<LabelSummary>('labels');
  const existing = new Map(labels.map((l) => [`${l.key}=${l.value}`, { href: l.href, key: l.key, value: l.value }]));
  const current = (
    await s.db.selectFrom('container_workloads').select(['id', 'body']).where('cluster_id', '=', clusterId).execute()
  )
    .map((r) => ({ id: r.id, w: JSON.parse(r.body) as ContainerWorkload }))
    .filter((r) => r.w.namespace === namespace);
  const byUid = new Map(current.map((r) => [r.w.pod_uid, r]));
  const result = new Map<string, string>();
  const at = new Date().toISOString();
  for (const pod of pods) {
    if (notAWorkload(pod, profile) !== null) continue;
    const { labels: podLabelList, ignored } = podLabels(profile.labels, metaOf(pod), existing, keys, labelMap);
    const prev = byUid.get(pod.uid);
    const id = prev?.id ?? pod.uid;
    const w: ContainerWorkload = {
      href: `/orgs/1/container_workloads/${id}`,
      name: pod.name,
      namespace,
      pod_uid: pod.uid,
      labels: podLabelList,
      interfaces: [{ name: 'eth0', address: pod.ip! }],
      enforcement_mode: profile.enforcement_mode,
      visibility_level: profile.visibility_level,
      container_cluster: { href: `/orgs/1/container_clusters/${clusterId}` },
      node: { href: pod.node_workload },
      container_workload_profile: { href: profile.href },
      label_warnings: ignored,
      online: true,
      created_at: prev?.w.created_at ?? at,
      updated_at: at,
    };
    result.set(pod.uid, w.href);
    if (prev) {
      byUid.delete(pod.uid);
      const { updated_at: _a, ...was } = prev.w;
      const { updated_at: _b, ...now } = w;
      if (JSON.stringify(was) !== JSON.stringify(now)) await s.updateDoc('container_workloads', id, w);
    } else await s.insertDoc('container_workloads', id, w, { cluster_id: clusterId });
  }
  for (const gone of byUid.values()) await s.deleteDoc('container_workloads', gone.id);
  await syncServices(s, clusterId, namespace, profile, { existing, keys, labelMap }, new Set(result.values()));
  return result;
}

/**
 * Replace the pods a node reported (level-based) and bring the container
 * workloads of every namespace touched up to date.
 */
export async function reportPods(
  s: Store,
  clusterId: string,
  nodeWorkloadHref: string,
  pods: PodReport[],
): Promise<{ uid: string; container_workload: string | null; reason?: string }[]> {
  const nodeId = nodeWorkloadHref.slice(nodeWorkloadHref.lastIndexOf('/') + 1);
  const before = await s.db
    .selectFrom('pods')
    .select(['id', 'namespace'])
    .where('node_workload_id', '=', nodeId)
    .execute();
  const namespaces = new Set(before.map((r) => r.namespace));
  const reported = new Set(pods.map((p) => p.uid));
  for (const r of before) if (!reported.has(r.id)) await s.deleteDoc('pods', r.id);
  const known = new Set(before.map((r) => r.id));
  for (const pod of pods) {
    namespaces.add(pod.namespace);
    const record: PodRecord = { ...pod, node_workload: nodeWorkloadHref, cluster_id: clusterId };
    if (known.has(pod.uid)) await s.updateDoc('pods', pod.uid, record, { namespace: pod.namespace });
    else {
      // A pod uid is unique in a cluster; a pod moving between nodes replaces its old row.
      await s.deleteDoc('pods', pod.uid);
      await s.insertDoc('pods', pod.uid, record, {
        cluster_id: clusterId,
        node_workload_id: nodeId,
        namespace: pod.namespace,
      });
    }
  }
  const hrefs = new Map<string, string>();
  for (const ns of [...namespaces].sort())
    for (const [uid, href] of await syncNamespace(s, clusterId, ns)) hrefs.set(uid, href);
  const out = [];
  for (const pod of pods) {
    const href = hrefs.get(pod.uid) ?? null;
    if (href) out.push({ uid: pod.uid, container_workload: href });
    else {
      const profile = await ensureProfile(s, clusterId, pod.namespace);
      out.push({ uid: pod.uid, container_workload: null, reason: notAWorkload(pod, profile) ?? 'unknown' });
    }
  }
  return out;
}
