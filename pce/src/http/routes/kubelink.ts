// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Kubelink's side of the API (contract: pce/src/api/kubelink.ts): the
 * cluster's status and the Kubernetes objects it reports, each as its whole
 * state. Only the cluster's own token may write here, and only for that
 * cluster (`kubelinkOf`). What follows from the objects: http/kube-inventory.ts.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { invalid, notFound } from '../../api/errors.js';
import type { ContainerCluster } from '../../api/inventory-objects.js';
import {
  KUBE_KINDS,
  KUBE_SCHEMAS,
  KubelinkStatus,
  kubeKey,
  type KubeKind,
  type KubeListResult,
} from '../../api/kubelink.js';
import { deleteKubeObject, putKubeObject, replaceKubeKind, type Syncers } from '../kube-inventory.js';
import { ensureProfile, syncNamespace } from '../container-workloads.js';
import type { Store } from '../../store/store.js';
import { kubelinkOf } from '../plugins/auth.js';
import { checkOrg, ORG_PATH } from './common.js';

const SYNCERS: Syncers = { ensureProfile, syncNamespace };
const KindParams = Type.Object({
  org: Type.String(),
  id: Type.String(),
  kind: Type.Union(KUBE_KINDS.map((k) => Type.Literal(k))),
});
const KeyParams = Type.Object({
  org: Type.String(),
  id: Type.String(),
  kind: KindParams.properties.kind,
  key: Type.String({ minLength: 1, maxLength: 253 }),
});
const IdParams = Type.Object({ org: Type.String(), id: Type.String() });

const CHECKERS: Record<KubeKind, TypeCheck<TSchema>> = {
  nodes: TypeCompiler.Compile(KUBE_SCHEMAS.nodes),
  namespaces: TypeCompiler.Compile(KUBE_SCHEMAS.namespaces),
  pods: TypeCompiler.Compile(KUBE_SCHEMAS.pods),
  services: TypeCompiler.Compile(KUBE_SCHEMAS.services),
};

/** Validate a body against its kind's schema here: the kind comes from the path. */
function checkObject(kind: KubeKind, o: unknown, field: string): void {
  const c = CHECKERS[kind];
  if (c.Check(o)) return;
  const e = c.Errors(o).First();
  throw invalid(`${field}${e?.path ?? ''}`, e?.message ?? `is not a valid ${kind} object`);
}

export async function kubelinkRoutes(app: FastifyInstance): Promise<void> {
  const { store } = app;
  const base = `${ORG_PATH}/container_clusters/:id/kubelink`;
  const tags = ['kubelink'];
  const clusterOf = async (id: string, s: Store = store): Promise<ContainerCluster> => {
    const c = await s.getDoc<ContainerCluster>('container_clusters', id);
    if (!c) throw notFound(`container cluster /orgs/1/container_clusters/${id}`);
    return c;
  };

  app.put<{ Params: Static<typeof IdParams>; Body: KubelinkStatus }>(
    `${base}/status`,
    { schema: { params: IdParams, body: KubelinkStatus, tags }, config: { access: 'kubelink' } },
    async (req, reply) => {
      checkOrg(req.params.org);
      kubelinkOf(req, req.params.id);
      await store.tx(async (s) => {
        const c = await clusterOf(req.params.id, s);
        const b = req.body;
        await s.updateDoc('container_clusters', req.params.id, {
          ...c,
          online: true,
          last_connected: new Date().toISOString(),
          kubelink_version: b.kubelink_version,
          manager_type: b.manager_type,
          container_runtime: b.container_runtime ?? c.container_runtime,
          pod_networks: [...b.pod_networks].sort(),
          service_networks: [...b.service_networks].sort(),
        });
      });
      return reply.status(204).send();
    },
  );

  app.put<{ Params: Static<typeof KindParams>; Body: { items: unknown[] } }>(
    `${base}/objects/:kind`,
    {
      schema: {
        params: KindParams,
        body: Type.Object(
          { items: Type.Array(Type.Unknown(), { maxItems: 200_000 }) },
          { additionalProperties: false },
        ),
        tags,
      },
      config: { access: 'kubelink' },
      bodyLimit: 256 * 1024 * 1024,
    },
    async (req): Promise<KubeListResult> => {
      checkOrg(req.params.org);
      kubelinkOf(req, req.params.id);
      const kind = req.params.kind;
      const seen = new Set<string>();
      req.body.items.forEach((o, i) => {
        checkObject(kind, o, `items[${i}]`);
        const key = kubeKey(kind, o as { name?: string; uid?: string });
        if (seen.has(key)) throw invalid(`items[${i}]`, `${kind} ${key} appears twice`);
        seen.add(key);
      });
      await clusterOf(req.params.id);
      const r = await store.tx((s) => replaceKubeKind(s, req.params.id, kind, req.body.items as never[], SYNCERS));
      return { kind, ...r };
    },
  );

  app.put<{ Params: Static<typeof KeyParams>; Body: unknown }>(
    `${base}/objects/:kind/:key`,
    { schema: { params: KeyParams, tags }, config: { access: 'kubelink' } },
    async (req, reply) => {
      checkOrg(req.params.org);
      kubelinkOf(req, req.params.id);
      const kind = req.params.kind;
      checkObject(kind, req.body, 'body');
      const key = kubeKey(kind, req.body as { name?: string; uid?: string });
      if (key !== req.params.key) throw invalid('body', `the object's key is ${key}, the path says ${req.params.key}`);
      await clusterOf(req.params.id);
      await store.tx((s) => putKubeObject(s, req.params.id, kind, req.body as never, SYNCERS));
      return reply.status(204).send();
    },
  );

  app.delete<{ Params: Static<typeof KeyParams> }>(
    `${base}/objects/:kind/:key`,
    { schema: { params: KeyParams, tags }, config: { access: 'kubelink' } },
    async (req, reply) => {
      checkOrg(req.params.org);
      kubelinkOf(req, req.params.id);
      await store.tx((s) => deleteKubeObject(s, req.params.id, req.params.kind, req.params.key, SYNCERS));
      return reply.status(204).send(); // idempotent: deleting what is gone is fine
    },
  );
}
