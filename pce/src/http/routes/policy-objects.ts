// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The provisionable collections under `/orgs/1/sec_policy/{pv}/`:
 * label_groups, services, ip_lists, virtual_services, rule_sets, and each
 * ruleset's sec_rules and deny_rules.
 *
 * GET reads the draft, the active version or version N; POST, PUT and DELETE
 * touch only the draft (POLICY.md "Provisioning"). Objects read from a
 * version carry that version's hrefs (`/sec_policy/active/...`).
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static, type TObject } from '@sinclair/typebox';
import { BulkheadError, invalid, notFound } from '../../api/errors.js';
import {
  DenyRuleWrite,
  IpListWrite,
  LabelGroupWrite,
  partialOf,
  RuleSetWrite,
  SecRuleWrite,
  ServiceWrite,
  VirtualServiceWrite,
  type DenyRule,
  type ProvisionableKind,
  type RuleSet,
  type SecRule,
  type UpdateType,
} from '../../api/policy-objects.js';
import {
  buildDenyRule,
  buildIpList,
  buildLabelGroup,
  buildRuleSet,
  buildSecRule,
  buildService,
  buildVirtualService,
} from '../../domain/policy.js';
import { inVersion, type Lookup } from '../../domain/refs.js';
import { BUILTIN_HREFS } from '../../store/seed.js';
import type { Store } from '../../store/store.js';
import {
  checkOrg,
  labelSummary,
  lookupFor,
  matchesText,
  MaxResults,
  ORG_PATH,
  parseVersionRef,
  refuseIfReferenced,
  requireDraft,
  rowVersion,
  sendCollection,
} from './common.js';

interface Named {
  href: string;
  name: string;
  update_type?: UpdateType;
  managed_by?: string;
}

interface BuildContext {
  store: Store;
  href: string;
  prev: Named | undefined;
  at: string;
  lookup: Lookup;
}

interface KindSpec {
  kind: ProvisionableKind;
  noun: string;
  write: TObject;
  build(ctx: BuildContext, write: Record<string, unknown>): Promise<Named>;
}

const labelOf = (store: Store) => (href: string) => labelSummary(store, href);

const nextRuleHref = (store: Store, ruleSetHref: string) => async (kind: 'sec_rules' | 'deny_rules') =>
  `${ruleSetHref}/${kind}/${await store.nextId(kind)}`;

const SPECS: KindSpec[] = [
  {
    kind: 'label_groups',
    noun: 'label group',
    write: LabelGroupWrite,
    build: (c, w) => buildLabelGroup(c.href, w as LabelGroupWrite, c.prev as never, c.at, c.lookup, labelOf(c.store)),
  },
  {
    kind: 'services',
    noun: 'service',
    write: ServiceWrite,
    build: async (c, w) => buildService(c.href, w as ServiceWrite, c.prev as never, c.at),
  },
  {
    kind: 'ip_lists',
    noun: 'IP list',
    write: IpListWrite,
    build: async (c, w) => buildIpList(c.href, w as IpListWrite, c.prev as never, c.at),
  },
  {
    kind: 'virtual_services',
    noun: 'virtual service',
    write: VirtualServiceWrite,
    build: (c, w) =>
      buildVirtualService(c.href, w as VirtualServiceWrite, c.prev as never, c.at, c.lookup, labelOf(c.store)),
  },
  {
    kind: 'rule_sets',
    noun: 'ruleset',
    write: RuleSetWrite,
    build: (c, w) =>
      buildRuleSet(c.href, w as RuleSetWrite, c.prev as never, c.at, c.lookup, nextRuleHref(c.store, c.href)),
  },
];

const PvParams = Type.Object({ org: Type.String(), pv: Type.String() });
const PvIdParams = Type.Object({ org: Type.String(), pv: Type.String(), id: Type.String() });
const RuleParams = Type.Object({ org: Type.String(), pv: Type.String(), id: Type.String(), rid: Type.String() });
const ListQuery = Type.Object({
  name: Type.Optional(Type.String()),
  key: Type.Optional(Type.String()),
  max_results: MaxResults,
});

/** `update_type` of a draft object compared with the active one. */
function updateType(draft: unknown, active: unknown): UpdateType {
  if (active === undefined) return 'create';
  return JSON.stringify(draft) === JSON.stringify(active) ? null : 'update';
}

export async function policyObjectRoutes(app: FastifyInstance): Promise<void> {
  const { store } = app;

  /** Objects of a kind in the version named by `pv`, with hrefs and update_type for that version. */
  async function readKind(kind: ProvisionableKind, pv: string): Promise<Map<string, Named>> {
    const ref = parseVersionRef(pv);
    const rows = await store.listPolicy<Named>(kind, await rowVersion(store, ref));
    if (ref !== 'draft') {
      const out = new Map<string, Named>();
      for (const [id, o] of rows) out.set(id, inVersion({ ...o, update_type: null }, ref));
      return out;
    }
    const active = await store.listPolicy<Named>(kind, await rowVersion(store, 'active'));
    for (const [id, o] of rows) o.update_type = updateType(o, active.get(id));
    return rows;
  }

  async function ensureUniqueName(s: Store, kind: ProvisionableKind, name: string, selfHref?: string): Promise<void> {
    for (const o of (await s.listPolicy<Named>(kind, 0)).values())
      if (o.name === name && o.href !== selfHref)
        throw new BulkheadError('BH_ERR_API_CONFLICT', `name: "${name}" is already used by ${o.href}`);
  }

  function editable(spec: KindSpec, obj: Named): void {
    if (BUILTIN_HREFS.has(obj.href)) throw invalid('href', `${obj.name} is built in and cannot be changed or deleted`);
    if (obj.managed_by === 'kubelink')
      throw invalid('href', `${obj.href} is kept by Kubelink from a Kubernetes service and cannot be edited`);
    void spec;
  }

  for (const spec of SPECS) {
    const base = `${ORG_PATH}/sec_policy/:pv/${spec.kind}`;
    const tags = [spec.kind];
    const patch = partialOf(spec.write);

    app.get<{ Params: Static<typeof PvParams>; Querystring: Static<typeof ListQuery> }>(
      base,
      { schema: { params: PvParams, querystring: ListQuery, tags } },
      async (req, reply) => {
        checkOrg(req.params.org);
        const items = [...(await readKind(spec.kind, req.params.pv)).values()].filter(
          (o) =>
            matchesText(o.name, req.query.name) &&
            (req.query.key === undefined || (o as unknown as { key?: string }).key === req.query.key),
        );
        return sendCollection(reply, items, req.query.max_results);
      },
    );

    app.get<{ Params: Static<typeof PvIdParams> }>(
      `${base}/:id`,
      { schema: { params: PvIdParams, tags } },
      async (req) => {
        checkOrg(req.params.org);
        const obj = (await readKind(spec.kind, req.params.pv)).get(req.params.id);
        if (!obj) throw notFound(`${spec.noun} /orgs/1/sec_policy/${req.params.pv}/${spec.kind}/${req.params.id}`);
        return obj;
      },
    );

    app.post<{ Params: Static<typeof PvParams>; Body: Record<string, unknown> }>(
      base,
      { schema: { params: PvParams, body: spec.write, tags }, config: { access: 'policy' } },
      async (req, reply) => {
        checkOrg(req.params.org);
        requireDraft(req.params.pv);
        const created = await store.tx(async (s) => {
          await ensureUniqueName(s, spec.kind, String(req.body.name));
          const id = String(await s.nextId(spec.kind));
          const href = `/orgs/1/sec_policy/draft/${spec.kind}/${id}`;
          const at = new Date().toISOString();
          const obj = await spec.build({ store: s, href, prev: undefined, at, lookup: lookupFor(s) }, req.body);
          await s.putDraft(spec.kind, id, obj);
          return obj;
        });
        return reply.status(201).send({ ...created, update_type: 'create' });
      },
    );

    app.put<{ Params: Static<typeof PvIdParams>; Body: Record<string, unknown> }>(
      `${base}/:id`,
      { schema: { params: PvIdParams, body: patch, tags }, config: { access: 'policy' } },
      async (req, reply) => {
        checkOrg(req.params.org);
        requireDraft(req.params.pv);
        await store.tx(async (s) => {
          const prev = await s.getPolicy<Named>(spec.kind, req.params.id, 0);
          if (!prev) throw notFound(`${spec.noun} /orgs/1/sec_policy/draft/${spec.kind}/${req.params.id}`);
          editable(spec, prev);
          if (req.body.name !== undefined) await ensureUniqueName(s, spec.kind, String(req.body.name), prev.href);
          const at = new Date().toISOString();
          const obj = await spec.build({ store: s, href: prev.href, prev, at, lookup: lookupFor(s) }, req.body);
          await s.putDraft(spec.kind, req.params.id, obj);
        });
        return reply.status(204).send();
      },
    );

    app.delete<{ Params: Static<typeof PvIdParams> }>(
      `${base}/:id`,
      { schema: { params: PvIdParams, tags }, config: { access: 'policy' } },
      async (req, reply) => {
        checkOrg(req.params.org);
        requireDraft(req.params.pv);
        await store.tx(async (s) => {
          const prev = await s.getPolicy<Named>(spec.kind, req.params.id, 0);
          if (!prev) throw notFound(`${spec.noun} /orgs/1/sec_policy/draft/${spec.kind}/${req.params.id}`);
          editable(spec, prev);
          await refuseIfReferencedInDraft(s, prev.href, spec.noun);
          await s.deleteDraft(spec.kind, req.params.id);
        });
        return reply.status(204).send();
      },
    );
  }

  // ---------------------------------------------------------------- rules of a ruleset

  const RULE_KINDS = [
    { path: 'sec_rules', field: 'rules', write: SecRuleWrite, build: buildSecRule, noun: 'rule' },
    { path: 'deny_rules', field: 'deny_rules', write: DenyRuleWrite, build: buildDenyRule, noun: 'deny rule' },
  ] as const;

  for (const rk of RULE_KINDS) {
    const base = `${ORG_PATH}/sec_policy/:pv/rule_sets/:id/${rk.path}`;
    const tags = ['rule_sets'];
    const patch = partialOf(rk.write as TObject);
    type AnyRule = SecRule | DenyRule;

    const loadRuleSet = async (s: Store, pv: string, id: string): Promise<RuleSet> => {
      const rs = (await readKind('rule_sets', pv)).get(id) as RuleSet | undefined;
      if (!rs) throw notFound(`ruleset /orgs/1/sec_policy/${pv}/rule_sets/${id}`);
      void s;
      return rs;
    };
    const rulesOf = (rs: RuleSet): AnyRule[] => rs[rk.field] as AnyRule[];

    app.get<{ Params: Static<typeof PvIdParams>; Querystring: { max_results?: number } }>(
      base,
      { schema: { params: PvIdParams, querystring: Type.Object({ max_results: MaxResults }), tags } },
      async (req, reply) => {
        checkOrg(req.params.org);
        const rs = await loadRuleSet(store, req.params.pv, req.params.id);
        return sendCollection(reply, rulesOf(rs), req.query.max_results);
      },
    );

    app.get<{ Params: Static<typeof RuleParams> }>(
      `${base}/:rid`,
      { schema: { params: RuleParams, tags } },
      async (req) => {
        checkOrg(req.params.org);
        const rs = await loadRuleSet(store, req.params.pv, req.params.id);
        const rule = rulesOf(rs).find((r) => r.href.endsWith(`/${rk.path}/${req.params.rid}`));
        if (!rule) throw notFound(`${rk.noun} ${rs.href}/${rk.path}/${req.params.rid}`);
        return rule;
      },
    );

    app.post<{ Params: Static<typeof PvIdParams>; Body: Record<string, unknown> }>(
      base,
      { schema: { params: PvIdParams, body: rk.write, tags }, config: { access: 'policy' } },
      async (req, reply) => {
        checkOrg(req.params.org);
        requireDraft(req.params.pv);
        const rule = await store.tx(async (s) => {
          const rs = await s.getPolicy<RuleSet>('rule_sets', req.params.id, 0);
          if (!rs) throw notFound(`ruleset /orgs/1/sec_policy/draft/rule_sets/${req.params.id}`);
          const href = await nextRuleHref(s, rs.href)(rk.path);
          const at = new Date().toISOString();
          const built = await rk.build(href, req.body as never, undefined, at, lookupFor(s));
          (rs[rk.field] as AnyRule[]).push(built);
          rs.updated_at = at;
          await s.putDraft('rule_sets', req.params.id, rs);
          return built;
        });
        return reply.status(201).send({ ...rule, update_type: 'create' });
      },
    );

    app.put<{ Params: Static<typeof RuleParams>; Body: Record<string, unknown> }>(
      `${base}/:rid`,
      { schema: { params: RuleParams, body: patch, tags }, config: { access: 'policy' } },
      async (req, reply) => {
        checkOrg(req.params.org);
        requireDraft(req.params.pv);
        await store.tx(async (s) => {
          const rs = await s.getPolicy<RuleSet>('rule_sets', req.params.id, 0);
          if (!rs) throw notFound(`ruleset /orgs/1/sec_policy/draft/rule_sets/${req.params.id}`);
          const rules = rs[rk.field] as AnyRule[];
          const i = rules.findIndex((r) => r.href.endsWith(`/${rk.path}/${req.params.rid}`));
          if (i < 0) throw notFound(`${rk.noun} ${rs.href}/${rk.path}/${req.params.rid}`);
          const at = new Date().toISOString();
          rules[i] = await rk.build(rules[i]!.href, req.body as never, rules[i] as never, at, lookupFor(s));
          rs.updated_at = at;
          await s.putDraft('rule_sets', req.params.id, rs);
        });
        return reply.status(204).send();
      },
    );

    app.delete<{ Params: Static<typeof RuleParams> }>(
      `${base}/:rid`,
      { schema: { params: RuleParams, tags }, config: { access: 'policy' } },
      async (req, reply) => {
        checkOrg(req.params.org);
        requireDraft(req.params.pv);
        await store.tx(async (s) => {
          const rs = await s.getPolicy<RuleSet>('rule_sets', req.params.id, 0);
          if (!rs) throw notFound(`ruleset /orgs/1/sec_policy/draft/rule_sets/${req.params.id}`);
          const rules = rs[rk.field] as AnyRule[];
          const i = rules.findIndex((r) => r.href.endsWith(`/${rk.path}/${req.params.rid}`));
          if (i < 0) throw notFound(`${rk.noun} ${rs.href}/${rk.path}/${req.params.rid}`);
          rules.splice(i, 1);
          rs.updated_at = new Date().toISOString();
          await s.putDraft('rule_sets', req.params.id, rs);
        });
        return reply.status(204).send();
      },
    );
  }
}

/**
 * Deleting from the draft is refused while other draft objects still name the
 * object. Active references do not block it: provisioning the deletion
 * checks them (the references must be provisioned away with it).
 */
async function refuseIfReferencedInDraft(s: Store, href: string, noun: string): Promise<void> {
  const refs = (await s.findReferences(href, href)).filter((r) => r.where !== 'active');
  if (refs.length > 0) await refuseIfReferenced(s, href, noun);
}
