// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The smaller collections: `/health` (public, no details), pairing profiles
 * and their pairing keys, events, API keys (`/users/{id}/api_keys`),
 * `settings/workloads` and `settings/traffic` (flow retention).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { BulkheadError, invalid, notFound } from '../../api/errors.js';
import {
  EnforcementModeSchema,
  visibilityConflict,
  VisibilityLevelSchema,
  type EnforcementMode,
  type VisibilityLevel,
} from '../../api/inventory-objects.js';
import { HrefRef, partialOf, readOnlyFields, strictObject, type LabelSummary } from '../../api/policy-objects.js';
import { createApiKey, deleteApiKey, listApiKeys, ROLES, type Role } from '../../store/api-keys.js';
import type { Store } from '../../store/store.js';
import { enforceRetention, reportedLoss, trafficSettings } from '../../traffic/store.js';
import { userOf } from '../plugins/auth.js';
import { byPrincipal, recordEvent, type PceEvent } from '../events.js';
import {
  checkOrg,
  resolveLabelRefs,
  matchesText,
  MaxResults,
  ORG_PATH,
  OrgIdParams,
  OrgParams,
  sendCollection,
} from './common.js';

const PairingProfileWrite = strictObject({
  ...readOnlyFields,
  name: Type.String({ minLength: 1, maxLength: 255 }),
  description: Type.Optional(Type.Union([Type.String({ maxLength: 4096 }), Type.Null()])),
  enabled: Type.Optional(Type.Boolean()),
  enforcement_mode: Type.Optional(EnforcementModeSchema),
  visibility_level: Type.Optional(VisibilityLevelSchema),
  labels: Type.Optional(Type.Array(HrefRef)),
  allowed_uses_per_key: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Literal('unlimited')])),
  key_lifespan: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Literal('unlimited')])),
  enforcement_mode_lock: Type.Optional(Type.Boolean()),
  visibility_level_lock: Type.Optional(Type.Boolean()),
  is_default: Type.Optional(Type.Boolean()),
});
type PairingProfileWrite = Static<typeof PairingProfileWrite>;

export interface PairingProfile {
  href: string;
  name: string;
  description: string | null;
  enabled: boolean;
  enforcement_mode: EnforcementMode;
  visibility_level: VisibilityLevel;
  labels: LabelSummary[];
  allowed_uses_per_key: number | 'unlimited';
  /** Seconds a pairing key stays valid, or unlimited. */
  key_lifespan: number | 'unlimited';
  total_use_count: number;
  last_pairing_at: string | null;
  created_at: string;
  updated_at: string;
}

/** Activation codes are kept as SHA-256 only; the C-VEN pairing (a later issue) looks them up by hash. */
export const hashActivationCode = (code: string): string => createHash('sha256').update(code).digest('hex');

async function buildPairingProfile(
  store: Store,
  href: string,
  w: Partial<PairingProfileWrite>,
  prev: PairingProfile | undefined,
): Promise<PairingProfile> {
  const labels = w.labels ? await resolveLabelRefs(store, w.labels, 'labels') : (prev?.labels ?? []);
  const enforcement_mode = w.enforcement_mode ?? prev?.enforcement_mode ?? 'visibility_only';
  const visibility_level = w.visibility_level ?? prev?.visibility_level ?? 'flow_summary';
  const field = w.visibility_level !== undefined ? 'visibility_level' : 'enforcement_mode';
  const conflict = visibilityConflict(enforcement_mode, visibility_level, field);
  if (conflict) throw invalid(field, conflict);
  const at = new Date().toISOString();
  return {
    href,
    name: w.name ?? prev?.name ?? '',
    description: w.description !== undefined ? w.description : (prev?.description ?? null),
    enabled: w.enabled ?? prev?.enabled ?? true,
    enforcement_mode,
    visibility_level,
    labels,
    allowed_uses_per_key: w.allowed_uses_per_key ?? prev?.allowed_uses_per_key ?? 'unlimited',
    key_lifespan: w.key_lifespan ?? prev?.key_lifespan ?? 'unlimited',
    total_use_count: prev?.total_use_count ?? 0,
    last_pairing_at: prev?.last_pairing_at ?? null,
    created_at: prev?.created_at ?? at,
    updated_at: at,
  };
}

const ApiKeyWrite = strictObject({
  name: Type.String({ minLength: 1, maxLength: 255 }),
  description: Type.Optional(Type.String({ maxLength: 4096 })),
  role: Type.Optional(Type.Union(ROLES.map((r) => Type.Literal(r)))),
});

const UserParams = Type.Object({ uid: Type.String() });
const UserKeyParams = Type.Object({ uid: Type.String(), kid: Type.String() });

const RANK: Record<Role, number> = { owner: 0, admin: 1, ruleset_manager: 2, read_only: 3 };

const EventQuery = Type.Object({
  event_type: Type.Optional(Type.String()),
  severity: Type.Optional(Type.String()),
  status: Type.Optional(Type.String()),
  'timestamp[gte]': Type.Optional(Type.String()),
  'timestamp[lte]': Type.Optional(Type.String()),
  max_results: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000 })),
});

const SettingsWrite = strictObject({
  href: Type.Optional(Type.String()),
  workload_disconnected_timeout_seconds: Type.Optional(
    Type.Array(
      strictObject({ scope: Type.Array(HrefRef), value: Type.Integer({ minimum: -1, maximum: 2 ** 31 - 1 }) }),
    ),
  ),
  workload_goodbye_timeout_seconds: Type.Optional(
    Type.Array(
      strictObject({ scope: Type.Array(HrefRef), value: Type.Integer({ minimum: -1, maximum: 2 ** 31 - 1 }) }),
    ),
  ),
});

const TrafficSettingsWrite = strictObject({
  href: Type.Optional(Type.String()),
  flow_retention_days: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })),
  max_stored_flows: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000_000 })),
  /** Read-only (what GET shows); ignored. */
  stored_flows: Type.Optional(Type.Integer()),
  flows_lost: Type.Optional(Type.Integer()),
  flows_lost_by_agent: Type.Optional(Type.Array(Type.Unknown())),
});

export async function adminRoutes(app: FastifyInstance): Promise<void> {
  const { store } = app;

  app.get('/api/v2/health', { config: { public: true }, schema: { tags: ['health'] } }, async () => ({ status: 'ok' }));

  // ---------------------------------------------------------------- pairing profiles

  const ppBase = `${ORG_PATH}/pairing_profiles`;
  const ppTags = ['pairing_profiles'];
  app.get<{ Params: Static<typeof OrgParams>; Querystring: { name?: string; max_results?: number } }>(
    ppBase,
    {
      schema: {
        params: OrgParams,
        querystring: Type.Object({ name: Type.Optional(Type.String()), max_results: MaxResults }),
        tags: ppTags,
      },
    },
    async (req, reply) => {
      checkOrg(req.params.org);
      const items = (await store.listDocs<PairingProfile>('pairing_profiles')).filter((p) =>
        matchesText(p.name, req.query.name),
      );
      return sendCollection(reply, items, req.query.max_results);
    },
  );
  app.post<{ Params: Static<typeof OrgParams>; Body: PairingProfileWrite }>(
    ppBase,
    { schema: { params: OrgParams, body: PairingProfileWrite, tags: ppTags }, config: { access: 'admin' } },
    async (req, reply) => {
      checkOrg(req.params.org);
      const p = await store.tx(async (s) => {
        const id = String(await s.nextId('pairing_profiles'));
        const profile = await buildPairingProfile(s, `/orgs/1/pairing_profiles/${id}`, req.body, undefined);
        await s.insertDoc('pairing_profiles', id, profile);
        return profile;
      });
      return reply.status(201).send(p);
    },
  );
  app.get<{ Params: Static<typeof OrgIdParams> }>(
    `${ppBase}/:id`,
    { schema: { params: OrgIdParams, tags: ppTags } },
    async (req) => {
      checkOrg(req.params.org);
      const p = await store.getDoc<PairingProfile>('pairing_profiles', req.params.id);
      if (!p) throw notFound(`pairing profile /orgs/1/pairing_profiles/${req.params.id}`);
      return p;
    },
  );
  const PpPatch = partialOf(PairingProfileWrite);
  app.put<{ Params: Static<typeof OrgIdParams>; Body: Static<typeof PpPatch> }>(
    `${ppBase}/:id`,
    { schema: { params: OrgIdParams, body: PpPatch, tags: ppTags }, config: { access: 'admin' } },
    async (req, reply) => {
      checkOrg(req.params.org);
      await store.tx(async (s) => {
        const prev = await s.getDoc<PairingProfile>('pairing_profiles', req.params.id);
        if (!prev) throw notFound(`pairing profile /orgs/1/pairing_profiles/${req.params.id}`);
        await s.updateDoc('pairing_profiles', req.params.id, await buildPairingProfile(s, prev.href, req.body, prev));
      });
      return reply.status(204).send();
    },
  );
  app.delete<{ Params: Static<typeof OrgIdParams> }>(
    `${ppBase}/:id`,
    { schema: { params: OrgIdParams, tags: ppTags }, config: { access: 'admin' } },
    async (req, reply) => {
      checkOrg(req.params.org);
      if (!(await store.deleteDoc('pairing_profiles', req.params.id)))
        throw notFound(`pairing profile /orgs/1/pairing_profiles/${req.params.id}`);
      return reply.status(204).send();
    },
  );
  app.post<{ Params: Static<typeof OrgIdParams> }>(
    `${ppBase}/:id/pairing_key`,
    { schema: { params: OrgIdParams, tags: ppTags }, config: { access: 'admin' } },
    async (req) => {
      checkOrg(req.params.org);
      const p = await store.getDoc<PairingProfile>('pairing_profiles', req.params.id);
      if (!p) throw notFound(`pairing profile /orgs/1/pairing_profiles/${req.params.id}`);
      if (!p.enabled) throw invalid('enabled', `pairing profile ${p.href} is disabled; enable it to make keys`);
      const code = randomBytes(24).toString('hex');
      const id = randomBytes(8).toString('hex');
      const at = new Date();
      const expires =
        p.key_lifespan === 'unlimited' ? null : new Date(at.getTime() + p.key_lifespan * 1000).toISOString();
      await store.db
        .insertInto('pairing_keys')
        .values({
          id,
          profile_id: req.params.id,
          code_hash: hashActivationCode(code),
          body: JSON.stringify({ uses: 0, allowed_uses: p.allowed_uses_per_key, expires_at: expires }),
          created_at: at.toISOString(),
        })
        .execute();
      await recordEvent(store, {
        event_type: 'pairing_profile.pairing_key',
        created_by: byPrincipal(req.principal),
        resource_changes: [{ resource: { href: p.href, name: p.name }, change_type: 'update' }],
      });
      return { activation_code: code };
    },
  );

  // ---------------------------------------------------------------- events

  app.get<{ Params: Static<typeof OrgParams>; Querystring: Static<typeof EventQuery> }>(
    `${ORG_PATH}/events`,
    { schema: { params: OrgParams, querystring: EventQuery, tags: ['events'] } },
    async (req, reply) => {
      checkOrg(req.params.org);
      const q = req.query;
      const all = await store.listEvents<PceEvent>(100_000);
      const items = all.filter(
        (e) =>
          (q.event_type === undefined || e.event_type === q.event_type) &&
          (q.severity === undefined || e.severity === q.severity) &&
          (q.status === undefined || e.status === q.status) &&
          (q['timestamp[gte]'] === undefined || e.timestamp >= q['timestamp[gte]']) &&
          (q['timestamp[lte]'] === undefined || e.timestamp <= q['timestamp[lte]']),
      );
      return sendCollection(reply, items, q.max_results);
    },
  );

  // ---------------------------------------------------------------- API keys

  /** A user manages their own keys; only the owner manages another user's. */
  const checkUser = (req: FastifyRequest, uid: string): void => {
    const p = userOf(req);
    if (p.userId !== uid && p.role !== 'owner')
      throw new BulkheadError('BH_ERR_API_FORBIDDEN', `only the owner may manage the API keys of user ${uid}`);
  };

  app.get<{ Params: Static<typeof UserParams> }>(
    '/api/v2/users/:uid/api_keys',
    { schema: { params: UserParams, tags: ['users'] }, config: { access: 'read' } },
    async (req, reply) => {
      checkUser(req, req.params.uid);
      return sendCollection(reply, await listApiKeys(store, req.params.uid), undefined);
    },
  );
  app.post<{ Params: Static<typeof UserParams>; Body: Static<typeof ApiKeyWrite> }>(
    '/api/v2/users/:uid/api_keys',
    { schema: { params: UserParams, body: ApiKeyWrite, tags: ['users'] }, config: { access: 'read' } },
    async (req, reply) => {
      checkUser(req, req.params.uid);
      if ((await store.getDoc('users', req.params.uid)) === undefined) throw notFound(`user /users/${req.params.uid}`);
      const role = req.body.role ?? userOf(req).role;
      if (RANK[role] < RANK[userOf(req).role])
        throw new BulkheadError('BH_ERR_API_FORBIDDEN', `a ${userOf(req).role} key cannot make a ${role} key`);
      const { record, secret } = await createApiKey(store, req.params.uid, role, req.body.name, req.body.description);
      await recordEvent(store, {
        event_type: 'api_key.create',
        created_by: byPrincipal(req.principal),
        resource_changes: [{ resource: { href: record.href, name: record.name }, change_type: 'create' }],
      });
      return reply.status(201).send({ ...record, secret });
    },
  );
  app.delete<{ Params: Static<typeof UserKeyParams> }>(
    '/api/v2/users/:uid/api_keys/:kid',
    { schema: { params: UserKeyParams, tags: ['users'] }, config: { access: 'read' } },
    async (req, reply) => {
      checkUser(req, req.params.uid);
      const keys = await listApiKeys(store, req.params.uid);
      const key = keys.find((k) => k.key_id === req.params.kid);
      if (!key || !(await deleteApiKey(store, req.params.uid, req.params.kid)))
        throw notFound(`API key /users/${req.params.uid}/api_keys/${req.params.kid}`);
      app.forgetCredentials(key.auth_username);
      await recordEvent(store, {
        event_type: 'api_key.delete',
        created_by: byPrincipal(req.principal),
        resource_changes: [{ resource: { href: key.href, name: key.name }, change_type: 'delete' }],
      });
      return reply.status(204).send();
    },
  );

  // ---------------------------------------------------------------- settings

  app.get<{ Params: Static<typeof OrgParams> }>(
    `${ORG_PATH}/settings/workloads`,
    { schema: { params: OrgParams, tags: ['settings'] } },
    async (req) => {
      checkOrg(req.params.org);
      return store.getDoc('settings', 'workloads');
    },
  );
  app.put<{ Params: Static<typeof OrgParams>; Body: Static<typeof SettingsWrite> }>(
    `${ORG_PATH}/settings/workloads`,
    { schema: { params: OrgParams, body: SettingsWrite, tags: ['settings'] }, config: { access: 'admin' } },
    async (req, reply) => {
      checkOrg(req.params.org);
      await store.tx(async (s) => {
        const prev = (await s.getDoc<Record<string, unknown>>('settings', 'workloads')) ?? {};
        const next = { ...prev, ...req.body, href: '/orgs/1/settings/workloads' };
        for (const field of ['workload_disconnected_timeout_seconds', 'workload_goodbye_timeout_seconds'] as const)
          for (const [i, v] of (req.body[field] ?? []).entries())
            if (v.value !== -1 && v.value < 300)
              throw invalid(`${field}[${i}].value`, 'must be -1 (never) or at least 300');
        await s.updateDoc('settings', 'workloads', next);
      });
      return reply.status(204).send();
    },
  );

  // Flow retention (ours): by age and by size. Lowering a bound prunes at once.
  app.get<{ Params: Static<typeof OrgParams> }>(
    `${ORG_PATH}/settings/traffic`,
    { schema: { params: OrgParams, tags: ['settings'] } },
    async (req) => {
      checkOrg(req.params.org);
      return { ...(await trafficSettings(store)), ...(await reportedLoss(store)) };
    },
  );
  app.put<{ Params: Static<typeof OrgParams>; Body: Static<typeof TrafficSettingsWrite> }>(
    `${ORG_PATH}/settings/traffic`,
    {
      schema: { params: OrgParams, body: TrafficSettingsWrite, tags: ['settings'] },
      config: { access: 'admin', policyNeutral: true },
    },
    async (req, reply) => {
      checkOrg(req.params.org);
      await store.tx(async (s) => {
        const { stored_flows: _n, ...prev } = await trafficSettings(s);
        const { stored_flows: _ignored, flows_lost: _l, flows_lost_by_agent: _b, ...body } = req.body;
        const next = { ...prev, ...body, href: '/orgs/1/settings/traffic' };
        if (!(await s.updateDoc('settings', 'traffic', next))) await s.insertDoc('settings', 'traffic', next);
        await enforceRetention(s);
      });
      return reply.status(204).send();
    },
  );
}
