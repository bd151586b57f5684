// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * `/orgs/1/container_clusters` and their
 * `container_workload_profiles`. A cluster's token is shown once, at
 * creation (only its hash is kept). Each cluster has a default profile
 * (namespace null) whose settings new namespaces' profiles start from. A
 * profile made by hand names its namespace (`namespace`, or `name` when no
 * namespace is given) and stays unlinked until that namespace is reported.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { BulkheadError, invalid, notFound } from '../../api/errors.js';
import {
  EnforcementModeSchema,
  visibilityConflict,
  VisibilityLevelSchema,
  type ContainerCluster,
  type ContainerWorkloadProfile,
  type ProfileLabel,
} from '../../api/inventory-objects.js';
import { HrefRef, partialOf, readOnlyFields, strictObject, type LabelSummary } from '../../api/policy-objects.js';
import { hashClusterToken } from '../../store/clusters.js';
import type { Store } from '../../store/store.js';
import { syncNamespace } from '../container-workloads.js';
import { byPrincipal, recordEvent } from '../events.js';
import {
  checkOrg,
  labelSummary,
  matchesText,
  MaxResults,
  ORG_PATH,
  OrgIdParams,
  OrgParams,
  sendCollection,
} from './common.js';

const LabelMapPart = Type.Record(
  Type.String({ minLength: 1, maxLength: 317 }),
  Type.String({ minLength: 1, maxLength: 64 }),
);
const ClusterWrite = strictObject({
  ...readOnlyFields,
  name: Type.String({ minLength: 1, maxLength: 255 }),
  description: Type.Optional(Type.Union([Type.String({ maxLength: 4096 }), Type.Null()])),
  /** Kubernetes label key → Bulkhead label key, for pods and for nodes (POLICY.md "Identity"). */
  label_map: Type.Optional(strictObject({ pods: Type.Optional(LabelMapPart), nodes: Type.Optional(LabelMapPart) })),
});

/** Kubelink heartbeats every 5 s: a cluster silent for longer than this is offline. */
const KUBELINK_OFFLINE_AFTER_MS = 60_000;

/** `online` as of now: true only while Kubelink's heartbeats keep coming. */
function live(c: ContainerCluster): ContainerCluster {
  const last = c.last_connected ? Date.parse(c.last_connected) : 0;
  return { ...c, online: c.online && Date.now() - last < KUBELINK_OFFLINE_AFTER_MS };
}

/** Refuse a label map that names a label key that is not defined. */
async function checkLabelMap(
  s: Store,
  m: { pods?: Record<string, string>; nodes?: Record<string, string> } | undefined,
): Promise<{ pods: Record<string, string>; nodes: Record<string, string> }> {
  const keys = new Set((await s.db.selectFrom('label_dimensions').select('key').execute()).map((r) => r.key));
  for (const part of ['pods', 'nodes'] as const)
    for (const [k8s, key] of Object.entries(m?.[part] ?? {}))
      if (!keys.has(key))
        throw invalid(
          `label_map.${part}["${k8s}"]`,
          `label key ${key} is not defined; define it under label_dimensions or use role/app/env/loc`,
        );
  return { pods: m?.pods ?? {}, nodes: m?.nodes ?? {} };
}

const LabelAssignment = strictObject({
  key: Type.String({ minLength: 1 }),
  assignment: Type.Optional(HrefRef),
  restriction: Type.Optional(Type.Array(HrefRef)),
});

const ProfileWrite = strictObject({
  ...readOnlyFields,
  name: Type.Optional(Type.Union([Type.String({ maxLength: 255 }), Type.Null()])),
  namespace: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 253 }), Type.Null()])),
  description: Type.Optional(Type.Union([Type.String({ maxLength: 4096 }), Type.Null()])),
  managed: Type.Optional(Type.Boolean()),
  enforcement_mode: Type.Optional(EnforcementModeSchema),
  visibility_level: Type.Optional(VisibilityLevelSchema),
  labels: Type.Optional(Type.Array(LabelAssignment)),
  assign_labels: Type.Optional(Type.Array(HrefRef)),
  linked: Type.Optional(Type.Boolean()),
});
type ProfileWrite = Static<typeof ProfileWrite>;

/** Kubernetes namespace names (RFC 1123 label). */
const NAMESPACE_PATTERN = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

async function buildProfileLabels(store: Store, items: Static<typeof LabelAssignment>[]): Promise<ProfileLabel[]> {
  const out: ProfileLabel[] = [];
  const keys = new Set<string>();
  for (const [i, item] of items.entries()) {
    const f = `labels[${i}]`;
    if (keys.has(item.key)) throw invalid(`${f}.key`, `key ${item.key} appears twice; one entry per key`);
    keys.add(item.key);
    if ((item.assignment === undefined) === (item.restriction === undefined))
      throw invalid(f, 'give either `assignment` (a fixed label) or `restriction` (the labels annotations may pick)');
    const check = async (ref: { href: string }, field: string): Promise<LabelSummary> => {
      const l = await labelSummary(store, ref.href).catch(() => {
        throw invalid(field, `label ${ref.href} does not exist`);
      });
      if (l.key !== item.key) throw invalid(field, `label ${l.key}=${l.value} does not have key ${item.key}`);
      return l;
    };
    if (item.assignment) out.push({ key: item.key, assignment: await check(item.assignment, `${f}.assignment`) });
    else {
      const restriction = [];
      for (const [j, r] of item.restriction!.entries()) restriction.push(await check(r, `${f}.restriction[${j}]`));
      out.push({ key: item.key, restriction });
    }
  }
  return out;
}

async function buildProfile(
  store: Store,
  href: string,
  w: Partial<ProfileWrite>,
  prev: ContainerWorkloadProfile | undefined,
  defaults: ContainerWorkloadProfile | undefined,
): Promise<ContainerWorkloadProfile> {
  let labels = prev?.labels ?? defaults?.labels ?? [];
  if (w.labels) labels = await buildProfileLabels(store, w.labels);
  else if (w.assign_labels) {
    const items = [];
    for (const ref of w.assign_labels) {
      const l = await labelSummary(store, ref.href);
      items.push({ key: l.key, assignment: { href: l.href } });
    }
    labels = await buildProfileLabels(store, items);
  }
  const enforcement_mode = w.enforcement_mode ?? prev?.enforcement_mode ?? defaults?.enforcement_mode ?? 'idle';
  const visibility_level = w.visibility_level ?? prev?.visibility_level ?? defaults?.visibility_level ?? 'flow_summary';
  const field = w.visibility_level !== undefined ? 'visibility_level' : 'enforcement_mode';
  const conflict = visibilityConflict(enforcement_mode, visibility_level, field);
  if (conflict) throw invalid(field, conflict);
  const at = new Date().toISOString();
  return {
    href,
    name: w.name !== undefined ? w.name : (prev?.name ?? null),
    namespace: prev ? prev.namespace : (w.namespace ?? w.name ?? null),
    description: w.description !== undefined ? w.description : (prev?.description ?? defaults?.description ?? null),
    managed: w.managed ?? prev?.managed ?? defaults?.managed ?? false,
    enforcement_mode,
    visibility_level,
    labels,
    linked: prev?.linked ?? false,
    created_at: prev?.created_at ?? at,
    updated_at: at,
  };
}

const ProfileParams = Type.Object({ org: Type.String(), id: Type.String(), pid: Type.String() });
const ProfileQuery = Type.Object({
  namespace: Type.Optional(Type.String()),
  name: Type.Optional(Type.String()),
  managed: Type.Optional(Type.Boolean()),
  linked: Type.Optional(Type.Boolean()),
  max_results: MaxResults,
});

export async function clusterRoutes(app: FastifyInstance): Promise<void> {
  const { store } = app;
  const base = `${ORG_PATH}/container_clusters`;
  const tags = ['container_clusters'];

  const getCluster = async (s: Store, id: string): Promise<ContainerCluster> => {
    const c = await s.getDoc<ContainerCluster>('container_clusters', id);
    if (!c) throw notFound(`container cluster /orgs/1/container_clusters/${id}`);
    return c;
  };
  const profilesOf = async (s: Store, clusterId: string): Promise<{ id: string; p: ContainerWorkloadProfile }[]> => {
    const rows = await s.db
      .selectFrom('container_workload_profiles')
      .select(['id', 'body'])
      .where('cluster_id', '=', clusterId)
      .orderBy('created_at')
      .execute();
    return rows.map((r) => ({ id: r.id, p: JSON.parse(r.body) as ContainerWorkloadProfile }));
  };

  app.get<{ Params: Static<typeof OrgParams>; Querystring: { name?: string; max_results?: number } }>(
    base,
    {
      schema: {
        params: OrgParams,
        querystring: Type.Object({ name: Type.Optional(Type.String()), max_results: MaxResults }),
        tags,
      },
    },
    async (req, reply) => {
      checkOrg(req.params.org);
      const items = (await store.listDocs<ContainerCluster>('container_clusters')).filter((c) =>
        matchesText(c.name, req.query.name),
      );
      return sendCollection(reply, items.map(live), req.query.max_results);
    },
  );

  app.post<{ Params: Static<typeof OrgParams>; Body: Static<typeof ClusterWrite> }>(
    base,
    { schema: { params: OrgParams, body: ClusterWrite, tags }, config: { access: 'admin' } },
    async (req, reply) => {
      checkOrg(req.params.org);
      const id = randomUUID();
      const token = `${id.slice(0, 8)}_${randomBytes(32).toString('hex')}`;
      const at = new Date().toISOString();
      const cluster: ContainerCluster = {
        href: `/orgs/1/container_clusters/${id}`,
        name: req.body.name,
        description: req.body.description ?? null,
        manager_type: null,
        last_connected: null,
        kubelink_version: null,
        online: false,
        container_runtime: null,
        nodes: [],
        pod_networks: [],
        service_networks: [],
        errors: [],
        label_map: { pods: {}, nodes: {} },
        created_at: at,
        updated_at: at,
      };
      await store.tx(async (s) => {
        cluster.label_map = await checkLabelMap(s, req.body.label_map);
        if ((await s.listDocs<ContainerCluster>('container_clusters')).some((c) => c.name === cluster.name))
          throw new BulkheadError('BH_ERR_API_CONFLICT', `name: a container cluster named "${cluster.name}" exists`);
        await s.insertDoc('container_clusters', id, cluster, {
          token_hash: hashClusterToken(token),
        });
        const pid = randomUUID();
        const profile = await buildProfile(
          s,
          `${cluster.href}/container_workload_profiles/${pid}`,
          {},
          undefined,
          undefined,
        );
        profile.name = 'Default Profile';
        await s.insertDoc('container_workload_profiles', pid, profile, { cluster_id: id, namespace: null });
      });
      await recordEvent(store, {
        event_type: 'container_cluster.create',
        created_by: byPrincipal(req.principal),
        resource_changes: [{ resource: { href: cluster.href, name: cluster.name }, change_type: 'create' }],
      });
      // The token is in this answer only.
      return reply.status(201).send({ ...cluster, container_cluster_token: token });
    },
  );

  app.get<{ Params: Static<typeof OrgIdParams> }>(
    `${base}/:id`,
    { schema: { params: OrgIdParams, tags } },
    async (req) => {
      checkOrg(req.params.org);
      return live(await getCluster(store, req.params.id));
    },
  );

  const ClusterPatch = partialOf(ClusterWrite);
  app.put<{ Params: Static<typeof OrgIdParams>; Body: Static<typeof ClusterPatch> }>(
    `${base}/:id`,
    { schema: { params: OrgIdParams, body: ClusterPatch, tags }, config: { access: 'admin' } },
    async (req, reply) => {
      checkOrg(req.params.org);
      await store.tx(async (s) => {
        const c = await getCluster(s, req.params.id);
        const labelMap = req.body.label_map !== undefined ? await checkLabelMap(s, req.body.label_map) : undefined;
        await s.updateDoc('container_clusters', req.params.id, {
          ...c,
          name: req.body.name ?? c.name,
          description: req.body.description !== undefined ? req.body.description : c.description,
          ...(labelMap ? { label_map: labelMap } : {}),
          updated_at: new Date().toISOString(),
        });
        // Container workload labels follow a new label map at once.
        if (labelMap)
          for (const r of await s.db
            .selectFrom('container_workload_profiles')
            .select('namespace')
            .where('cluster_id', '=', req.params.id)
            .execute())
            if (r.namespace !== null) await syncNamespace(s, req.params.id, r.namespace);
      });
      return reply.status(204).send();
    },
  );

  app.delete<{ Params: Static<typeof OrgIdParams> }>(
    `${base}/:id`,
    { schema: { params: OrgIdParams, tags }, config: { access: 'admin' } },
    async (req, reply) => {
      checkOrg(req.params.org);
      const c = await store.tx(async (s) => {
        const cluster = await getCluster(s, req.params.id);
        await s.deleteDoc('container_clusters', req.params.id); // profiles and container workloads cascade
        return cluster;
      });
      await recordEvent(store, {
        event_type: 'container_cluster.delete',
        created_by: byPrincipal(req.principal),
        resource_changes: [{ resource: { href: c.href, name: c.name }, change_type: 'delete' }],
      });
      return reply.status(204).send();
    },
  );

  // ---------------------------------------------------------------- profiles

  const pbase = `${base}/:id/container_workload_profiles`;
  app.get<{ Params: Static<typeof OrgIdParams>; Querystring: Static<typeof ProfileQuery> }>(
    pbase,
    { schema: { params: OrgIdParams, querystring: ProfileQuery, tags } },
    async (req, reply) => {
      checkOrg(req.params.org);
      await getCluster(store, req.params.id);
      const q = req.query;
      const items = (await profilesOf(store, req.params.id))
        .map((r) => r.p)
        .filter(
          (p) =>
            (q.namespace === undefined || p.namespace === q.namespace) &&
            matchesText(p.name, q.name) &&
            (q.managed === undefined || p.managed === q.managed) &&
            (q.linked === undefined || p.linked === q.linked),
        );
      return sendCollection(reply, items, q.max_results);
    },
  );

  app.post<{ Params: Static<typeof OrgIdParams>; Body: ProfileWrite }>(
    pbase,
    { schema: { params: OrgIdParams, body: ProfileWrite, tags }, config: { access: 'admin' } },
    async (req, reply) => {
      checkOrg(req.params.org);
      const namespace = req.body.namespace ?? req.body.name ?? null;
      if (namespace === null)
        throw invalid('namespace', 'name the namespace (`namespace`, or `name` when no namespace is given)');
      if (!NAMESPACE_PATTERN.test(namespace))
        throw invalid(req.body.namespace ? 'namespace' : 'name', `"${namespace}" is not a Kubernetes namespace name`);
      const profile = await store.tx(async (s) => {
        const cluster = await getCluster(s, req.params.id);
        const existing = await profilesOf(s, req.params.id);
        const clash = existing.find((r) => r.p.namespace === namespace);
        if (clash)
          throw new BulkheadError('BH_ERR_API_CONFLICT', `namespace: ${namespace} already has profile ${clash.p.href}`);
        const defaults = existing.find((r) => r.p.namespace === null)?.p;
        const pid = randomUUID();
        const p = await buildProfile(
          s,
          `${cluster.href}/container_workload_profiles/${pid}`,
          { ...req.body, namespace },
          undefined,
          defaults,
        );
        await s.insertDoc('container_workload_profiles', pid, p, { cluster_id: req.params.id, namespace });
        return p;
      });
      return reply.status(201).send(profile);
    },
  );

  app.get<{ Params: Static<typeof ProfileParams> }>(
    `${pbase}/:pid`,
    { schema: { params: ProfileParams, tags } },
    async (req) => {
      checkOrg(req.params.org);
      const found = (await profilesOf(store, req.params.id)).find((r) => r.id === req.params.pid);
      if (!found)
        throw notFound(
          `profile /orgs/1/container_clusters/${req.params.id}/container_workload_profiles/${req.params.pid}`,
        );
      return found.p;
    },
  );

  const ProfilePatch = partialOf(ProfileWrite);
  app.put<{ Params: Static<typeof ProfileParams>; Body: Static<typeof ProfilePatch> }>(
    `${pbase}/:pid`,
    { schema: { params: ProfileParams, body: ProfilePatch, tags }, config: { access: 'admin' } },
    async (req, reply) => {
      checkOrg(req.params.org);
      await store.tx(async (s) => {
        const found = (await profilesOf(s, req.params.id)).find((r) => r.id === req.params.pid);
        if (!found) throw notFound(`profile ${req.params.pid} of container cluster ${req.params.id}`);
        if (req.body.namespace !== undefined && req.body.namespace !== found.p.namespace)
          throw invalid('namespace', "a profile's namespace cannot change");
        const p = await buildProfile(s, found.p.href, req.body, found.p, undefined);
        await s.updateDoc('container_workload_profiles', req.params.pid, p);
        // Its pods' container workloads follow at once (mode, labels, managed or not).
        if (p.namespace !== null) await syncNamespace(s, req.params.id, p.namespace);
      });
      return reply.status(204).send();
    },
  );

  app.delete<{ Params: Static<typeof ProfileParams> }>(
    `${pbase}/:pid`,
    { schema: { params: ProfileParams, tags }, config: { access: 'admin' } },
    async (req, reply) => {
      checkOrg(req.params.org);
      await store.tx(async (s) => {
        const found = (await profilesOf(s, req.params.id)).find((r) => r.id === req.params.pid);
        if (!found) throw notFound(`profile ${req.params.pid} of container cluster ${req.params.id}`);
        if (found.p.namespace === null) throw invalid('href', "a cluster's default profile cannot be deleted");
        await s.deleteDoc('container_workload_profiles', req.params.pid);
      });
      return reply.status(204).send();
    },
  );
}
