// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The wire contract between Kubelink and the PCE: the cluster's status and
 * the Kubernetes objects Kubelink reports, each as its whole current state
 * (level-based, never a delta).
 *
 * Owns: every message shape Kubelink sends. Pure: no I/O.
 * Credentials: HTTP Basic, user `kubelink_<cluster id>`, secret the
 * cluster's token (shown once when the cluster is created); good only for
 * that cluster's paths (403 otherwise).
 * Paths (under `/api/v2/orgs/1/container_clusters/{id}/kubelink`):
 * - `PUT /status` — `KubelinkStatus` (heartbeat; the cluster goes online);
 * - `PUT /objects/{kind}` — `{items: [...]}`: the whole set of a kind; objects
 *   missing from it are gone (first sync, resync after an outage);
 * - `PUT /objects/{kind}/{key}` — one object's whole state;
 * - `DELETE /objects/{kind}/{key}` — it is gone.
 * Kinds and keys: `nodes` and `namespaces` by name, `pods` and `services` by uid.
 */
import { Type, type Static } from '@sinclair/typebox';
import { strictObject } from './policy-objects.js';

export const KUBE_KINDS = ['nodes', 'namespaces', 'pods', 'services'] as const;
export type KubeKind = (typeof KUBE_KINDS)[number];

/** User name prefix of Kubelink credentials (`kubelink_<cluster id>`). */
export const KUBELINK_USER_PREFIX = 'kubelink_';

const Name = Type.String({ minLength: 1, maxLength: 253 });
const Uid = Type.String({ pattern: '^[0-9a-zA-Z][0-9a-zA-Z-]{0,63}$' });
const StringMap = Type.Record(Type.String({ maxLength: 317 }), Type.String({ maxLength: 65536 }));

export const KubeNode = strictObject({
  name: Name,
  uid: Type.Optional(Uid),
  /** `spec.podCIDR`; null when the node has none yet. */
  pod_cidr: Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Null()]),
  /** `status.nodeInfo.machineID`: ties the node's C-VEN to it. */
  machine_id: Type.Union([Type.String({ maxLength: 128 }), Type.Null()]),
  addresses: Type.Array(
    strictObject({ type: Type.String({ maxLength: 64 }), address: Type.String({ maxLength: 253 }) }),
    { maxItems: 32 },
  ),
  labels: StringMap,
  kubelet_version: Type.Optional(Type.String({ maxLength: 64 })),
  container_runtime: Type.Optional(Type.String({ maxLength: 128 })),
});
export type KubeNode = Static<typeof KubeNode>;

export const KubeNamespace = strictObject({
  name: Name,
  uid: Type.Optional(Uid),
  labels: StringMap,
  annotations: StringMap,
});
export type KubeNamespace = Static<typeof KubeNamespace>;

export const KubePod = strictObject({
  uid: Uid,
  namespace: Name,
  name: Name,
  node_name: Type.Union([Name, Type.Null()]),
  ip: Type.Union([Type.String({ maxLength: 64 }), Type.Null()]),
  host_network: Type.Boolean(),
  labels: StringMap,
  annotations: StringMap,
  /** The controlling owner reference (a ReplicaSet, a StatefulSet...), or null. */
  owner: Type.Union([strictObject({ kind: Type.String({ maxLength: 64 }), name: Name }), Type.Null()]),
});
export type KubePod = Static<typeof KubePod>;

export const KubeServicePort = strictObject({
  name: Type.Optional(Type.String({ maxLength: 63 })),
  /** The service's port. */
  port: Type.Integer({ minimum: 1, maximum: 65535 }),
  /** The port the pods listen on (what their tables enforce); a named port resolved by the endpoints, else `port`. */
  target_port: Type.Integer({ minimum: 1, maximum: 65535 }),
  protocol: Type.Union([Type.Literal('TCP'), Type.Literal('UDP'), Type.Literal('SCTP')]),
});

export const KubeService = strictObject({
  uid: Uid,
  namespace: Name,
  name: Name,
  type: Type.String({ maxLength: 32 }),
  cluster_ip: Type.Union([Type.String({ maxLength: 64 }), Type.Null()]),
  ports: Type.Array(KubeServicePort, { maxItems: 256 }),
  labels: StringMap,
  annotations: StringMap,
  /** The ready endpoints behind it (from its EndpointSlices). */
  backends: Type.Array(strictObject({ ip: Type.String({ maxLength: 64 }), pod_uid: Type.Union([Uid, Type.Null()]) }), {
    maxItems: 10_000,
  }),
});
export type KubeService = Static<typeof KubeService>;

export const KUBE_SCHEMAS = {
  nodes: KubeNode,
  namespaces: KubeNamespace,
  pods: KubePod,
  services: KubeService,
} as const;
export type KubeObjectOf<K extends KubeKind> = Static<(typeof KUBE_SCHEMAS)[K]>;

/** The key an object is kept under. */
export function kubeKey(kind: KubeKind, o: { name?: string; uid?: string }): string {
  return kind === 'nodes' || kind === 'namespaces' ? o.name! : o.uid!;
}

export const KubelinkStatus = strictObject({
  kubelink_version: Type.String({ maxLength: 64 }),
  /** The Kubernetes version, as `GET /version` answers (`v1.30.0`). */
  manager_type: Type.String({ maxLength: 128 }),
  container_runtime: Type.Optional(Type.Union([Type.String({ maxLength: 128 }), Type.Null()])),
  pod_networks: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 1024 }),
  service_networks: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 64 }),
  /** False until every informer has synced once. */
  synced: Type.Boolean(),
});
export type KubelinkStatus = Static<typeof KubelinkStatus>;

/** What the PCE answers a full list with. */
export interface KubeListResult {
  kind: KubeKind;
  stored: number;
  removed: number;
}
