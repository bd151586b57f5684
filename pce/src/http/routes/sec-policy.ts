// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * `/orgs/1/sec_policy`: provisioning (POST), versions (GET, GET /{N}),
 * pending changes, reverting the draft (`PUT /sec_policy/delete`, as
 * Illumio), and `policy_check` against the draft or the active policy.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { notFound } from '../../api/errors.js';
import {
  HrefRef,
  PROVISIONABLE_KINDS,
  ProvisionRequest,
  strictObject,
  type PolicyVersion,
  type ProvisionableKind,
} from '../../api/policy-objects.js';
import { planProvision, pendingChanges, type Change, type VersionContent } from '../../domain/provision.js';
import { userOf } from '../plugins/auth.js';
import { byPrincipal, recordEvent } from '../events.js';
import type { CheckActor } from '../policy-engine.js';
import type { Store } from '../../store/store.js';
import { checkOrg, MaxResults, ORG_PATH, OrgParams, sendCollection } from './common.js';

const RevertRequest = strictObject({ change_subset: Type.Optional(ProvisionRequest.properties.change_subset) });

const CheckActorSchema = strictObject({
  workload: Type.Optional(HrefRef),
  ip: Type.Optional(Type.String({ minLength: 1 })),
  labels: Type.Optional(Type.Array(HrefRef, { minItems: 1 })),
});
const PolicyCheckRequest = strictObject({
  source: CheckActorSchema,
  destination: CheckActorSchema,
  service: strictObject({
    port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
    proto: Type.Integer({ minimum: 0, maximum: 255 }),
    icmp_type: Type.Optional(Type.Integer({ minimum: 0, maximum: 255 })),
    icmp_code: Type.Optional(Type.Integer({ minimum: 0, maximum: 255 })),
  }),
});

function pendingBody(
  changes: Change[],
): Record<ProvisionableKind, { href: string; name: string; update_type: string }[]> {
  const out = {} as Record<ProvisionableKind, { href: string; name: string; update_type: string }[]>;
  for (const kind of PROVISIONABLE_KINDS) out[kind] = [];
  for (const c of changes) out[c.kind].push({ href: c.href, name: c.name, update_type: c.update_type });
  return out;
}

export async function secPolicyRoutes(app: FastifyInstance): Promise<void> {
  const { store, engine } = app;

  /** Inside a transaction, pass its store: the root store would wait for the transaction forever. */
  const draftAndActive = async (
    s: Store,
  ): Promise<{ draft: VersionContent; active: VersionContent; version: number }> => {
    const version = await s.activeVersion();
    return {
      draft: await engine.loadContent(0, s),
      active: await engine.loadContent(version > 0 ? version : -1, s),
      version,
    };
  };

  app.get<{ Params: Static<typeof OrgParams> }>(
    `${ORG_PATH}/sec_policy/pending`,
    { schema: { params: OrgParams, tags: ['sec_policy'] } },
    async (req) => {
      checkOrg(req.params.org);
      const { draft, active } = await draftAndActive(store);
      return pendingBody(pendingChanges(draft, active));
    },
  );

  app.post<{ Params: Static<typeof OrgParams>; Body: ProvisionRequest }>(
    `${ORG_PATH}/sec_policy`,
    { schema: { params: OrgParams, body: ProvisionRequest, tags: ['sec_policy'] }, config: { access: 'admin' } },
    async (req, reply) => {
      checkOrg(req.params.org);
      const before = await engine.compiler('active');
      const result = await store.tx(async (s) => {
        const { draft, active, version } = await draftAndActive(s);
        const { changes, next } = planProvision(draft, active, req.body.change_subset);
        const newVersion = version + 1;
        await s.copyVersion(version > 0 ? version : -1, newVersion);
        for (const c of changes) {
          const obj = draft[c.kind].get(c.id);
          await s.setVersionObject(c.kind, c.id, newVersion, obj ? JSON.stringify(obj) : undefined);
        }
        const counts = {} as Record<ProvisionableKind, number>;
        for (const kind of PROVISIONABLE_KINDS) counts[kind] = next[kind].size;
        const pv: PolicyVersion = {
          href: `/orgs/1/sec_policy/${newVersion}`,
          version: newVersion,
          commit_message: req.body.update_description ?? '',
          created_at: new Date().toISOString(),
          created_by: { href: userOf(req).userHref, name: userOf(req).username },
          workloads_affected: 0,
          object_counts: counts,
        };
        await s.insertVersion(newVersion, pv);
        return { pv, changes };
      });
      engine.invalidate();
      // Which workloads' compiled policy differs between the old and new active versions.
      const after = await engine.compiler('active');
      let affected = 0;
      for (const w of await engine.inventory()) {
        if (w.kind === 'unmanaged') continue;
        const a = JSON.stringify(before.compiler.policyFor(w).policy);
        const b = JSON.stringify(after.compiler.policyFor(w).policy);
        if (a !== b) affected += 1;
      }
      result.pv.workloads_affected = affected;
      await store.db
        .updateTable('policy_versions')
        .set({ body: JSON.stringify(result.pv) })
        .where('version', '=', result.pv.version)
        .execute();
      await recordEvent(store, {
        event_type: 'sec_policy.create',
        created_by: byPrincipal(req.principal),
        resource_changes: result.changes.map((c) => ({
          resource: { href: c.href, name: c.name },
          change_type: c.update_type,
        })),
        info: { version: result.pv.version, commit_message: result.pv.commit_message, workloads_affected: affected },
      });
      return reply.status(201).send(result.pv);
    },
  );

  app.get<{ Params: Static<typeof OrgParams>; Querystring: { max_results?: number } }>(
    `${ORG_PATH}/sec_policy`,
    { schema: { params: OrgParams, querystring: Type.Object({ max_results: MaxResults }), tags: ['sec_policy'] } },
    async (req, reply) => {
      checkOrg(req.params.org);
      return sendCollection(reply, await store.listVersions<PolicyVersion>(), req.query.max_results);
    },
  );

  const VersionParams = Type.Object({ org: Type.String(), version: Type.String({ pattern: '^(active|[0-9]+)$' }) });
  app.get<{ Params: Static<typeof VersionParams> }>(
    `${ORG_PATH}/sec_policy/:version`,
    { schema: { params: VersionParams, tags: ['sec_policy'] } },
    async (req) => {
      checkOrg(req.params.org);
      const n = req.params.version === 'active' ? await store.activeVersion() : Number(req.params.version);
      const pv = n > 0 ? await store.getVersion<PolicyVersion>(n) : undefined;
      if (!pv) throw notFound(`policy version ${req.params.version}`);
      return pv;
    },
  );

  app.put<{ Params: Static<typeof OrgParams>; Body: Static<typeof RevertRequest> }>(
    `${ORG_PATH}/sec_policy/delete`,
    { schema: { params: OrgParams, body: RevertRequest, tags: ['sec_policy'] }, config: { access: 'policy' } },
    async (req, reply) => {
      checkOrg(req.params.org);
      const reverted = await store.tx(async (s) => {
        const { draft, active } = await draftAndActive(s);
        let changes = pendingChanges(draft, active);
        const subset = req.body.change_subset as Record<string, { href: string }[] | undefined> | undefined;
        if (subset) {
          const wanted = new Set(Object.values(subset).flatMap((refs) => (refs ?? []).map((r) => r.href)));
          changes = changes.filter((c) => wanted.has(c.href));
        }
        for (const c of changes) {
          const was = active[c.kind].get(c.id);
          await s.setVersionObject(c.kind, c.id, 0, was ? JSON.stringify(was) : undefined);
        }
        return changes;
      });
      await recordEvent(store, {
        event_type: 'sec_policy.restore',
        created_by: byPrincipal(req.principal),
        resource_changes: reverted.map((c) => ({ resource: { href: c.href, name: c.name }, change_type: 'update' })),
      });
      return reply.status(204).send();
    },
  );

  const CheckParams = Type.Object({
    org: Type.String(),
    pv: Type.Union([Type.Literal('draft'), Type.Literal('active')]),
  });
  app.post<{ Params: Static<typeof CheckParams>; Body: Static<typeof PolicyCheckRequest> }>(
    `${ORG_PATH}/sec_policy/:pv/policy_check`,
    {
      schema: { params: CheckParams, body: PolicyCheckRequest, tags: ['sec_policy'] },
      config: { access: 'read' },
    },
    async (req) => {
      checkOrg(req.params.org);
      return engine.policyCheck(
        req.params.pv,
        req.body.source as CheckActor,
        req.body.destination as CheckActor,
        req.body.service,
      );
    },
  );
}
