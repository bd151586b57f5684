// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * `/orgs/1/workloads` (nodes, and unmanaged workloads made by hand with
 * labels and interfaces or a public IP), their `bulk_create`, `bulk_update`
 * and `bulk_delete`, and the read-only `/orgs/1/container_workloads`.
 * Workloads take effect at once. Nodes are created by their C-VEN's pairing,
 * not here.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { NodePolicyView, WorkloadAgent } from '../../api/agent.js';
import { BulkheadError, invalid, notFound } from '../../api/errors.js';
import {
  EnforcementModeSchema,
  visibilityConflict,
  VisibilityLevelSchema,
  type VisibilityLevel,
} from '../../api/inventory-objects.js';
import { HrefRef, readOnlyFields, strictObject, partialOf } from '../../api/policy-objects.js';
import { parseAddress } from '../../domain/address.js';
import type { WorkloadDoc } from '../policy-engine.js';
import type { Store } from '../../store/store.js';
import { userOf } from '../plugins/auth.js';
import {
  checkOrg,
  resolveLabelRefs,
  matchesText,
  MaxResults,
  ORG_PATH,
  OrgIdParams,
  OrgParams,
  refuseIfReferenced,
  sendCollection,
} from './common.js';

const Interface = strictObject({
  name: Type.String({ minLength: 1, maxLength: 64 }),
  address: Type.String({ minLength: 1 }),
  cidr_block: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 128 }), Type.Null()])),
  default_gateway_address: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  link_state: Type.Optional(Type.String()),
});

export const WorkloadWrite = strictObject({
  ...readOnlyFields,
  name: Type.Optional(Type.Union([Type.String({ maxLength: 255 }), Type.Null()])),
  hostname: Type.Optional(Type.Union([Type.String({ maxLength: 255 }), Type.Null()])),
  description: Type.Optional(Type.Union([Type.String({ maxLength: 4096 }), Type.Null()])),
  labels: Type.Optional(Type.Array(HrefRef)),
  interfaces: Type.Optional(Type.Array(Interface)),
  public_ip: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  service_principal_name: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  os_type: Type.Optional(Type.String()),
  os_id: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  data_center: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  external_data_set: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  external_data_reference: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  enforcement_mode: Type.Optional(EnforcementModeSchema),
  visibility_level: Type.Optional(VisibilityLevelSchema),
  online: Type.Optional(Type.Boolean()),
  managed: Type.Optional(Type.Boolean()),
});
type WorkloadWrite = Static<typeof WorkloadWrite>;

export interface Workload extends WorkloadDoc {
  name: string | null;
  hostname: string | null;
  description: string | null;
  interfaces: { name: string; address: string; cidr_block?: number | null }[];
  public_ip: string | null;
  managed: boolean;
  online: boolean;
  visibility_level: VisibilityLevel;
  os_type: string;
  external_data_set: string | null;
  external_data_reference: string | null;
  created_at: string;
  updated_at: string;
  created_by: { href: string };
  updated_by: { href: string };
}

const WorkloadQuery = Type.Object({
  name: Type.Optional(Type.String()),
  hostname: Type.Optional(Type.String()),
  labels: Type.Optional(Type.String()),
  managed: Type.Optional(Type.Boolean()),
  enforcement_mode: Type.Optional(EnforcementModeSchema),
  ip_address: Type.Optional(Type.String()),
  max_results: MaxResults,
});

/** Illumio's `labels` filter: a JSON list of lists of hrefs; inner lists AND, the outer list ORs. */
function parseLabelFilter(text: string | undefined): string[][] | undefined {
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalid('labels', 'must be JSON: a list of lists of label hrefs, e.g. [["/orgs/1/labels/1"]]');
  }
  if (!Array.isArray(parsed) || !parsed.every((g) => Array.isArray(g) && g.every((h) => typeof h === 'string')))
    throw invalid('labels', 'must be a list of lists of label hrefs, e.g. [["/orgs/1/labels/1"]]');
  return parsed as string[][];
}

/** Validate and build a workload from what a client wrote (create when `prev` is undefined). */
async function buildWorkload(
  store: Store,
  id: string,
  w: Partial<WorkloadWrite>,
  prev: Workload | undefined,
  userHref: string,
  field = '',
): Promise<Workload> {
  const f = (name: string): string => (field ? `${field}.${name}` : name);
  if (prev === undefined && !w.name && !w.hostname) throw invalid(f('name'), 'a workload needs a name or a hostname');
  if (prev?.managed && (w.interfaces !== undefined || w.hostname !== undefined))
    throw invalid(f('interfaces'), 'interfaces and hostname of a node are reported by its C-VEN, not set by hand');
  if (w.managed === true && !prev?.managed)
    throw invalid(f('managed'), 'a workload becomes managed by pairing a C-VEN, not through the API');
  const labels = w.labels ? await resolveLabelRefs(store, w.labels, f('labels')) : (prev?.labels ?? []);
  const interfaces = w.interfaces ?? prev?.interfaces ?? [];
  interfaces.forEach((i, n) => {
    if (!parseAddress(i.address, false))
      throw invalid(f(`interfaces[${n}].address`), `"${i.address}" is not an IPv4 or IPv6 address`);
  });
  const publicIp = w.public_ip !== undefined ? w.public_ip : (prev?.public_ip ?? null);
  if (publicIp && !parseAddress(publicIp, false)) throw invalid(f('public_ip'), `"${publicIp}" is not an IP address`);
  const at = new Date().toISOString();
  const managed = prev?.managed ?? false;
  if (!managed && w.enforcement_mode !== undefined && w.enforcement_mode !== 'idle')
    throw invalid(f('enforcement_mode'), 'an unmanaged workload enforces nothing; its mode is idle');
  const setField = w.visibility_level !== undefined ? 'visibility_level' : 'enforcement_mode';
  const conflict = visibilityConflict(
    w.enforcement_mode ?? prev?.enforcement_mode ?? 'idle',
    w.visibility_level ?? prev?.visibility_level ?? 'flow_summary',
    setField,
  );
  if (conflict) throw invalid(f(setField), conflict);
  return {
    href: `/orgs/1/workloads/${id}`,
    name: w.name !== undefined ? w.name : (prev?.name ?? null),
    hostname: w.hostname !== undefined ? w.hostname : (prev?.hostname ?? null),
    description: w.description !== undefined ? w.description : (prev?.description ?? null),
    labels,
    interfaces: interfaces.map((i) => ({ name: i.name, address: i.address, cidr_block: i.cidr_block ?? null })),
    public_ip: publicIp,
    managed,
    online: prev?.online ?? false,
    enforcement_mode: w.enforcement_mode ?? prev?.enforcement_mode ?? 'idle',
    visibility_level: w.visibility_level ?? prev?.visibility_level ?? 'flow_summary',
    os_type: w.os_type ?? prev?.os_type ?? 'linux',
    external_data_set: w.external_data_set !== undefined ? w.external_data_set : (prev?.external_data_set ?? null),
    external_data_reference:
      w.external_data_reference !== undefined ? w.external_data_reference : (prev?.external_data_reference ?? null),
    node: null,
    created_at: prev?.created_at ?? at,
    updated_at: at,
    created_by: prev?.created_by ?? { href: userHref },
    updated_by: { href: userHref },
  };
}

const BULK_MAX = 1000;
const BulkCreate = Type.Array(WorkloadWrite, { maxItems: BULK_MAX });
const BulkUpdate = Type.Array(Type.Intersect([partialOf(WorkloadWrite), Type.Object({ href: Type.String() })]), {
  maxItems: BULK_MAX,
});
const BulkDelete = Type.Array(Type.Object({ href: Type.String() }), { maxItems: BULK_MAX });

interface BulkResult {
  href: string | null;
  status: 'created' | 'updated' | 'deleted' | 'failed';
  errors: { token: string; message: string }[];
}

const bulkError = (e: unknown): BulkResult['errors'] => {
  if (e instanceof BulkheadError) return e.details;
  throw e;
};

export async function workloadRoutes(app: FastifyInstance): Promise<void> {
  const { store } = app;
  const base = `${ORG_PATH}/workloads`;
  const tags = ['workloads'];

  app.get<{ Params: Static<typeof OrgParams>; Querystring: Static<typeof WorkloadQuery> }>(
    base,
    { schema: { params: OrgParams, querystring: WorkloadQuery, tags } },
    async (req, reply) => {
      checkOrg(req.params.org);
      const q = req.query;
      const labelFilter = parseLabelFilter(q.labels);
      const items = (await store.listDocs<Workload>('workloads')).filter(
        (w) =>
          matchesText(w.name, q.name) &&
          matchesText(w.hostname, q.hostname) &&
          (q.managed === undefined || w.managed === q.managed) &&
          (q.enforcement_mode === undefined || w.enforcement_mode === q.enforcement_mode) &&
          (q.ip_address === undefined ||
            w.public_ip === q.ip_address ||
            w.interfaces.some((i) => i.address === q.ip_address)) &&
          (labelFilter === undefined ||
            labelFilter.some((group) => group.every((h) => w.labels.some((l) => l.href === h)))),
      );
      return sendCollection(reply, items, q.max_results);
    },
  );

  app.post<{ Params: Static<typeof OrgParams>; Body: WorkloadWrite }>(
    base,
    { schema: { params: OrgParams, body: WorkloadWrite, tags }, config: { access: 'admin' } },
    async (req, reply) => {
      checkOrg(req.params.org);
      const id = randomUUID();
      const w = await buildWorkload(store, id, req.body, undefined, userOf(req).userHref);
      await store.insertDoc('workloads', id, w);
      return reply.status(201).send(w);
    },
  );

  app.get<{ Params: Static<typeof OrgIdParams> }>(
    `${base}/:id`,
    { schema: { params: OrgIdParams, tags } },
    async (req) => {
      checkOrg(req.params.org);
      const w = await store.getDoc<Workload>('workloads', req.params.id);
      if (!w) throw notFound(`workload /orgs/1/workloads/${req.params.id}`);
      return w;
    },
  );

  // What a node's C-VEN enforces: its compiled policy, as pushed to it, and the implicit rules it reported.
  app.get<{ Params: Static<typeof OrgIdParams> }>(
    `${base}/:id/policy`,
    { schema: { params: OrgIdParams, tags } },
    async (req): Promise<NodePolicyView> => {
      checkOrg(req.params.org);
      const w = await store.getDoc<Workload & { agent?: WorkloadAgent }>('workloads', req.params.id);
      if (!w) throw notFound(`workload /orgs/1/workloads/${req.params.id}`);
      if (!w.agent) throw invalid('workload', `${w.href} has no agent: only nodes with a C-VEN have a node policy`);
      const p = await app.engine.agentPolicy(w.href);
      return { ...p, implicit_rules: w.agent.implicit_rules ?? [] };
    },
  );

  const Patch = partialOf(WorkloadWrite);
  app.put<{ Params: Static<typeof OrgIdParams>; Body: Static<typeof Patch> }>(
    `${base}/:id`,
    { schema: { params: OrgIdParams, body: Patch, tags }, config: { access: 'admin' } },
    async (req, reply) => {
      checkOrg(req.params.org);
      await store.tx(async (s) => {
        const prev = await s.getDoc<Workload>('workloads', req.params.id);
        if (!prev) throw notFound(`workload /orgs/1/workloads/${req.params.id}`);
        await s.updateDoc(
          'workloads',
          req.params.id,
          await buildWorkload(s, req.params.id, req.body, prev, userOf(req).userHref),
        );
      });
      return reply.status(204).send();
    },
  );

  const deleteOne = async (s: Store, id: string): Promise<void> => {
    const href = `/orgs/1/workloads/${id}`;
    const prev = await s.getDoc<Workload>('workloads', id);
    if (!prev) throw notFound(`workload ${href}`);
    if (prev.managed)
      throw invalid(
        'href',
        `${href} is a node with a C-VEN; unpair the agent (bulkhead cven unpair) instead of deleting it`,
      );
    await refuseIfReferenced(s, href, 'workload');
    await s.deleteDoc('workloads', id);
  };

  app.delete<{ Params: Static<typeof OrgIdParams> }>(
    `${base}/:id`,
    { schema: { params: OrgIdParams, tags }, config: { access: 'admin' } },
    async (req, reply) => {
      checkOrg(req.params.org);
      await store.tx((s) => deleteOne(s, req.params.id));
      return reply.status(204).send();
    },
  );

  // Bulk operations: each item succeeds or fails on its own, as Illumio's.
  app.put<{ Params: Static<typeof OrgParams>; Body: Static<typeof BulkCreate> }>(
    `${base}/bulk_create`,
    { schema: { params: OrgParams, body: BulkCreate, tags }, config: { access: 'admin' } },
    async (req) => {
      checkOrg(req.params.org);
      const results: BulkResult[] = [];
      for (const [i, item] of req.body.entries()) {
        const id = randomUUID();
        try {
          const w = await buildWorkload(store, id, item, undefined, userOf(req).userHref, `[${i}]`);
          await store.insertDoc('workloads', id, w);
          results.push({ href: w.href, status: 'created', errors: [] });
        } catch (e) {
          results.push({ href: null, status: 'failed', errors: bulkError(e) });
        }
      }
      return results;
    },
  );

  app.put<{ Params: Static<typeof OrgParams>; Body: Static<typeof BulkUpdate> }>(
    `${base}/bulk_update`,
    { schema: { params: OrgParams, body: BulkUpdate, tags }, config: { access: 'admin' } },
    async (req) => {
      checkOrg(req.params.org);
      const results: BulkResult[] = [];
      for (const [i, item] of req.body.entries()) {
        const id = item.href.slice(item.href.lastIndexOf('/') + 1);
        try {
          await store.tx(async (s) => {
            const prev = await s.getDoc<Workload>('workloads', id);
            if (!prev) throw notFound(`[${i}].href: workload ${item.href}`);
            await s.updateDoc('workloads', id, await buildWorkload(s, id, item, prev, userOf(req).userHref, `[${i}]`));
          });
          results.push({ href: item.href, status: 'updated', errors: [] });
        } catch (e) {
          results.push({ href: item.href, status: 'failed', errors: bulkError(e) });
        }
      }
      return results;
    },
  );

  app.put<{ Params: Static<typeof OrgParams>; Body: Static<typeof BulkDelete> }>(
    `${base}/bulk_delete`,
    { schema: { params: OrgParams, body: BulkDelete, tags }, config: { access: 'admin' } },
    async (req) => {
      checkOrg(req.params.org);
      const results: BulkResult[] = [];
      for (const item of req.body) {
        try {
          await store.tx((s) => deleteOne(s, item.href.slice(item.href.lastIndexOf('/') + 1)));
          results.push({ href: item.href, status: 'deleted', errors: [] });
        } catch (e) {
          results.push({ href: item.href, status: 'failed', errors: bulkError(e) });
        }
      }
      return results;
    },
  );

  // Container workloads: reported by C-VENs (a later issue); readable here.
  const CwQuery = Type.Object({
    name: Type.Optional(Type.String()),
    namespace: Type.Optional(Type.String()),
    max_results: MaxResults,
  });
  app.get<{ Params: Static<typeof OrgParams>; Querystring: Static<typeof CwQuery> }>(
    `${ORG_PATH}/container_workloads`,
    { schema: { params: OrgParams, querystring: CwQuery, tags: ['container_workloads'] } },
    async (req, reply) => {
      checkOrg(req.params.org);
      const items = (await store.listDocs<Workload & { namespace: string }>('container_workloads')).filter(
        (w) =>
          matchesText(w.name, req.query.name) &&
          (req.query.namespace === undefined || w.namespace === req.query.namespace),
      );
      return sendCollection(reply, items, req.query.max_results);
    },
  );
  app.get<{ Params: Static<typeof OrgIdParams> }>(
    `${ORG_PATH}/container_workloads/:id`,
    { schema: { params: OrgIdParams, tags: ['container_workloads'] } },
    async (req) => {
      checkOrg(req.params.org);
      const w = await store.getDoc('container_workloads', req.params.id);
      if (!w) throw notFound(`container workload /orgs/1/container_workloads/${req.params.id}`);
      return w;
    },
  );
}
