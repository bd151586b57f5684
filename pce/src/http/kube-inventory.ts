// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * What Kubelink reports (contract: pce/src/api/kubelink.ts), kept per
 * cluster in `kube_objects`, and what follows from it:
 * - nodes → the cluster's `nodes` (name, pod subnet, machine id) and its
 *   `errors` (a machine id on two nodes);
 * - namespaces → a profile per namespace (created from the cluster's default
 *   profile, the same one a C-VEN's report would create), unlinked when gone;
 * - pods → the metadata container workload labels are computed from (the
 *   API's current labels win over the sandbox's, which never change);
 * - services of managed namespaces → virtual services kept by Kubelink:
 *   active at once (written to the draft and the active version alike, so
 *   they are never pending), not editable by users.
 *
 * Owns: those derivations. Each runs inside the caller's transaction.
 */
import { createHash } from 'node:crypto';
import type { ContainerCluster, ContainerWorkloadProfile } from '../api/inventory-objects.js';
import {
  kubeKey,
  type KubeKind,
  type KubeNamespace,
  type KubeNode,
  type KubePod,
  type KubeService,
} from '../api/kubelink.js';
import type { LabelSummary, VirtualService } from '../api/policy-objects.js';
import { podLabels } from '../domain/pod-labels.js';
import type { Store } from '../store/store.js';

type AnyKube = KubeNode | KubeNamespace | KubePod | KubeService;

/** Label maps of a cluster (Kubernetes label key → Bulkhead label key). */
export interface ClusterLabelMap {
  pods: Record<string, string>;
  nodes: Record<string, string>;
}

export function labelMapOf(c: ContainerCluster | undefined): ClusterLabelMap {
  const m = (c as (ContainerCluster & { label_map?: Partial<ClusterLabelMap> }) | undefined)?.label_map;
  return { pods: m?.pods ?? {}, nodes: m?.nodes ?? {} };
}

function namespaceOf(kind: KubeKind, o: AnyKube): string | null {
  return kind === 'pods' || kind === 'services' ? (o as KubePod).namespace : null;
}

export async function listKube<T extends AnyKube>(
  s: Store,
  clusterId: string,
  kind: KubeKind,
  namespace?: string,
): Promise<T[]> {
  let q = s.db.selectFrom('kube_objects').select('body').where('cluster_id', '=', clusterId).where('kind', '=', kind);
  if (namespace !== undefined) q = q.where('namespace', '=', namespace);
  return (await q.orderBy('obj_key').execute()).map((r) => JSON.parse(r.body) as T);
}

async function getKube<T extends AnyKube>(
  s: Store,
  clusterId: string,
  kind: KubeKind,
  key: string,
): Promise<T | undefined> {
  const r = await s.db
    .selectFrom('kube_objects')
    .select('body')
    .where('cluster_id', '=', clusterId)
    .where('kind', '=', kind)
    .where('obj_key', '=', key)
    .executeTakeFirst();
  return r ? (JSON.parse(r.body) as T) : undefined;
}

async function removeKube(s: Store, clusterId: string, kind: KubeKind, key: string): Promise<void> {
  await s.db
    .deleteFrom('kube_objects')
    .where('cluster_id', '=', clusterId)
    .where('kind', '=', kind)
    .where('obj_key', '=', key)
    .execute();
}

async function writeKube(s: Store, clusterId: string, kind: KubeKind, o: AnyKube): Promise<void> {
  const key = kubeKey(kind, o as { name?: string; uid?: string });
  await removeKube(s, clusterId, kind, key);
  await s.db
    .insertInto('kube_objects')
    .values({
      cluster_id: clusterId,
      kind,
      obj_key: key,
      namespace: namespaceOf(kind, o),
      body: JSON.stringify(o),
      updated_at: new Date().toISOString(),
    })
    .execute();
}

/** Store one object's state and bring what follows from it up to date. */
export async function putKubeObject(
  s: Store,
  clusterId: string,
  kind: KubeKind,
  o: AnyKube,
  sync: Syncers,
): Promise<void> {
  const key = kubeKey(kind, o as { name?: string; uid?: string });
  const prev = await getKube(s, clusterId, kind, key);
  if (prev && JSON.stringify(prev) === JSON.stringify(o)) return; // level-based: nothing changed
  await writeKube(s, clusterId, kind, o);
  await derive(
    s,
    clusterId,
    kind,
    new Set([prev, o].flatMap((x) => (x ? [namespaceOf(kind, x) ?? (x as KubeNamespace).name] : []))),
    sync,
  );
}

/** An object is gone. Returns false when it was not known. */
export async function deleteKubeObject(
  s: Store,
  clusterId: string,
  kind: KubeKind,
  key: string,
  sync: Syncers,
): Promise<boolean> {
  const prev = await getKube(s, clusterId, kind, key);
  if (!prev) return false;
  await removeKube(s, clusterId, kind, key);
  await derive(s, clusterId, kind, new Set([namespaceOf(kind, prev) ?? (prev as KubeNamespace).name]), sync);
  return true;
}

/** The whole set of a kind: what is missing from `items` is gone. */
export async function replaceKubeKind(
  s: Store,
  clusterId: string,
  kind: KubeKind,
  items: AnyKube[],
  sync: Syncers,
): Promise<{ stored: number; removed: number }> {
  const before = new Map<string, AnyKube>();
  for (const o of await listKube(s, clusterId, kind))
    before.set(kubeKey(kind, o as { name?: string; uid?: string }), o);
  const touched = new Set<string>();
  const seen = new Set<string>();
  let stored = 0;
  for (const o of items) {
    const key = kubeKey(kind, o as { name?: string; uid?: string });
    seen.add(key);
    const prev = before.get(key);
    if (prev && JSON.stringify(prev) === JSON.stringify(o)) continue;
    await writeKube(s, clusterId, kind, o);
    stored++;
    for (const x of [prev, o]) if (x) touched.add(namespaceOf(kind, x) ?? (x as KubeNamespace).name);
  }
  let removed = 0;
  for (const [key, prev] of before) {
    if (seen.has(key)) continue;
    await removeKube(s, clusterId, kind, key);
    removed++;
    touched.add(namespaceOf(kind, prev) ?? (prev as KubeNamespace).name);
  }
  if (kind === 'nodes' || stored + removed > 0) await derive(s, clusterId, kind, touched, sync);
  return { stored, removed };
}

/** The container workload side, passed in so this module does not import container-workloads.ts (which imports it). */
export interface Syncers {
  ensureProfile(s: Store, clusterId: string, namespace: string): Promise<ContainerWorkloadProfile>;
  syncNamespace(s: Store, clusterId: string, namespace: string): Promise<unknown>;
}

async function derive(s: Store, clusterId: string, kind: KubeKind, touched: Set<string>, sync: Syncers): Promise<void> {
  if (kind === 'nodes') return syncClusterNodes(s, clusterId);
  if (kind === 'namespaces') {
    const present = new Set((await listKube<KubeNamespace>(s, clusterId, 'namespaces')).map((n) => n.name));
    for (const ns of touched) {
      if (present.has(ns)) await sync.ensureProfile(s, clusterId, ns);
      else await unlinkProfile(s, clusterId, ns);
    }
    return;
  }
  // pods and services: the namespace's container workloads (labels) and virtual services.
  for (const ns of [...touched].sort()) {
    await sync.ensureProfile(s, clusterId, ns);
    await sync.syncNamespace(s, clusterId, ns); // calls syncServices at its end
  }
}

async function unlinkProfile(s: Store, clusterId: string, namespace: string): Promise<void> {
  const rows = await s.db
    .selectFrom('container_workload_profiles')
    .select(['id', 'body'])
    .where('cluster_id', '=', clusterId)
    .where('namespace', '=', namespace)
    .execute();
  for (const r of rows) {
    const p = JSON.parse(r.body) as ContainerWorkloadProfile;
    if (!p.linked) continue;
    p.linked = false;
    await s.updateDoc('container_workload_profiles', r.id, p);
  }
}

/** The cluster's `nodes` and machine-id `errors` from the reported nodes. */
async function syncClusterNodes(s: Store, clusterId: string): Promise<void> {
  const cluster = await s.getDoc<ContainerCluster>('container_clusters', clusterId);
  if (!cluster) return;
  const nodes = await listKube<KubeNode>(s, clusterId, 'nodes');
  const byMachine = new Map<string, string[]>();
  for (const n of nodes)
    if (n.machine_id) byMachine.set(n.machine_id, [...(byMachine.get(n.machine_id) ?? []), n.name]);
  const errors = [...byMachine]
    .filter(([, names]) => names.length > 1)
    .map(([id, names]) => ({
      token: 'duplicate_machine_id',
      message: `nodes ${names.join(', ')} report the same machine id ${id}: their C-VENs cannot be told apart; give each node its own /etc/machine-id`,
    }));
  const next: ContainerCluster = {
    ...cluster,
    nodes: nodes.map((n) => ({ name: n.name, pod_subnet: n.pod_cidr, machine_id: n.machine_id })),
    container_runtime: nodes.find((n) => n.container_runtime)?.container_runtime ?? cluster.container_runtime,
    errors,
  };
  if (JSON.stringify(next) !== JSON.stringify(cluster)) await s.updateDoc('container_clusters', clusterId, next);
}

/** Kubernetes pod metadata by uid for a namespace (the API's, through Kubelink). */
export async function kubePodsOf(s: Store, clusterId: string, namespace: string): Promise<Map<string, KubePod>> {
  return new Map((await listKube<KubePod>(s, clusterId, 'pods', namespace)).map((p) => [p.uid, p]));
}

/** Create the labels a label map names that do not exist yet; returns the new ones. */
export async function createMissingLabels(
  s: Store,
  missing: { key: string; value: string }[],
): Promise<LabelSummary[]> {
  const out: LabelSummary[] = [];
  for (const m of missing) {
    if (await s.findLabel(m.key, m.value)) continue;
    const id = String(await s.nextId('labels'));
    const at = new Date().toISOString();
    const label = {
      href: `/orgs/1/labels/${id}`,
      key: m.key,
      value: m.value,
      external_data_set: 'bulkhead.kubelink',
      external_data_reference: null,
      created_at: at,
      updated_at: at,
      created_by: { system: {} },
      updated_by: { system: {} },
    };
    await s.insertDoc('labels', id, label, { key: m.key, value: m.value });
    out.push({ href: label.href, key: m.key, value: m.value });
  }
  return out;
}

const PROTO: Record<string, number> = { TCP: 6, UDP: 17, SCTP: 132 };
const KUBELINK_SET = 'bulkhead.kubelink';

function vsId(clusterId: string, namespace: string, name: string): string {
  return `k8s-${createHash('sha256').update(`${clusterId}/${namespace}/${name}`).digest('hex').slice(0, 16)}`;
}

/**
 * The virtual services of one namespace's Kubernetes services: present and
 * current while the namespace is managed, gone otherwise. Backends are the
 * container workloads of the ready endpoints.
 */
export async function syncServices(
  s: Store,
  clusterId: string,
  namespace: string,
  profile: ContainerWorkloadProfile,
  labelCtx: {
    existing: ReadonlyMap<string, LabelSummary>;
    keys: ReadonlySet<string>;
    labelMap: Record<string, string>;
  },
  workloadHrefs: ReadonlySet<string>,
): Promise<void> {
  const cluster = await s.getDoc<ContainerCluster>('container_clusters', clusterId);
  const services = profile.managed ? await listKube<KubeService>(s, clusterId, 'services', namespace) : [];
  const active = await s.activeVersion();
  const versions = [0, active > 0 ? active : -1];
  const ref = (o: { external_data_reference?: string | null }) => o.external_data_reference ?? '';
  const prefix = `${clusterId}/${namespace}/`;
  const existing = [
    ...(await s.listPolicy<VirtualService & { external_data_set?: string; external_data_reference?: string }>(
      'virtual_services',
      0,
    )),
  ].filter(([, v]) => v.managed_by === 'kubelink' && v.external_data_set === KUBELINK_SET && ref(v).startsWith(prefix));
  const wanted = new Set<string>();
  const at = new Date().toISOString();
  for (const svc of services) {
    const id = vsId(clusterId, namespace, svc.name);
    wanted.add(id);
    const prev = existing.find(([eid]) => eid === id)?.[1];
    const ports = [
      ...new Map(
        svc.ports.map((p) => [`${p.protocol}/${p.target_port}`, { port: p.target_port, proto: PROTO[p.protocol]! }]),
      ).values(),
    ].sort((a, b) => a.proto - b.proto || a.port - b.port);
    const labels = podLabels(
      profile.labels,
      { labels: svc.labels, annotations: svc.annotations },
      labelCtx.existing,
      labelCtx.keys,
      labelCtx.labelMap,
    ).labels;
    const backends = [
      ...new Set(
        svc.backends.flatMap((b) =>
          b.pod_uid && workloadHrefs.has(`/orgs/1/container_workloads/${b.pod_uid}`)
            ? [`/orgs/1/container_workloads/${b.pod_uid}`]
            : [],
        ),
      ),
    ]
      .sort()
      .map((href) => ({ href }));
    const body = {
      href: `/orgs/1/sec_policy/draft/virtual_services/${id}`,
      name: `${svc.name}.${namespace} (${cluster?.name ?? clusterId})`,
      description: `Kubernetes service ${namespace}/${svc.name}, kept by Kubelink`,
      apply_to: 'internal_bridge_network' as const,
      service: null,
      service_ports: ports,
      service_addresses: svc.cluster_ip && svc.cluster_ip !== 'None' ? [{ ip: svc.cluster_ip }] : [],
      labels,
      ip_overrides: [],
      backends,
      managed_by: 'kubelink' as const,
      external_data_set: KUBELINK_SET,
      external_data_reference: `${prefix}${svc.name}`,
      created_at: prev?.created_at ?? at,
      updated_at: at,
      update_type: null,
    };
    if (prev) {
      const { updated_at: _a, ...was } = prev;
      const { updated_at: _b, ...now } = body;
      if (JSON.stringify(was) === JSON.stringify(now)) continue;
    }
    for (const v of versions) await s.setVersionObject('virtual_services', id, v, JSON.stringify(body));
  }
  for (const [id] of existing)
    if (!wanted.has(id)) for (const v of versions) await s.setVersionObject('virtual_services', id, v, undefined);
}
