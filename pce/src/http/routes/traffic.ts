// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Traffic routes: the C-VEN's flow upload (its own credentials, idempotent
 * batches, acknowledged once durable) and the explorer in Illumio's shape
 * (`traffic_flows/async_queries`: create, poll, download as JSON or CSV).
 * Queries run at once; a query is `completed` when its answer is created.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { invalid, notFound } from '../../api/errors.js';
import { FlowBatch, TrafficQuery, type AsyncQuery, type TrafficFlow } from '../../api/traffic.js';
import { appGroups, flowsCsv } from '../../api/traffic-views.js';
import { ingestBatch, queryFlows } from '../../traffic/store.js';
import { snapshotBytes } from '../../traffic/snapshot.js';
import { agentOf } from '../plugins/auth.js';
import { checkOrg, ORG_PATH, OrgIdParams, OrgParams } from './common.js';

const AgentParams = Type.Object({ org: Type.String(), id: Type.String() });

/** Times as UTC ISO strings (what the store compares); refuses what is not a time. */
function normalized(q: TrafficQuery): TrafficQuery {
  for (const f of ['start_date', 'end_date'] as const)
    if (Number.isNaN(Date.parse(q[f]))) throw invalid(f, `"${q[f]}" is not an RFC 3339 time`);
  return { ...q, start_date: new Date(q.start_date).toISOString(), end_date: new Date(q.end_date).toISOString() };
}

function serviceOf(f: TrafficFlow): { proto: number; port?: number; icmp_type?: number; icmp_code?: number } {
  const { proto, port } = f.service;
  return proto === 1 || proto === 58 ? { proto, icmp_type: port >> 8, icmp_code: port & 0xff } : { proto, port };
}

export async function trafficRoutes(app: FastifyInstance): Promise<void> {
  const { store } = app;
  const base = `${ORG_PATH}/traffic_flows/async_queries`;
  const tags = ['traffic'];

  app.post<{ Params: Static<typeof AgentParams>; Body: FlowBatch }>(
    `${ORG_PATH}/agents/:id/flows`,
    {
      schema: { params: AgentParams, body: FlowBatch, tags },
      config: { access: 'agent', policyNeutral: true },
      bodyLimit: 64 * 1024 * 1024,
    },
    async (req) => {
      checkOrg(req.params.org);
      const { agent } = agentOf(req, req.params.id);
      const counted = await store.tx((s) => ingestBatch(s, agent.id, req.body));
      return { batch_id: req.body.batch_id, accepted: true, duplicate: !counted };
    },
  );

  app.post<{ Params: Static<typeof OrgParams>; Body: TrafficQuery }>(
    base,
    { schema: { params: OrgParams, body: TrafficQuery, tags }, config: { access: 'read', policyNeutral: true } },
    async (req, reply) => {
      checkOrg(req.params.org);
      const q = req.body;
      for (const f of ['start_date', 'end_date'] as const)
        if (Number.isNaN(Date.parse(q[f]))) throw invalid(f, `"${q[f]}" is not an RFC 3339 time`);
      const id = randomUUID();
      const at = new Date().toISOString();
      const flows = await queryFlows(store, {
        ...q,
        start_date: new Date(q.start_date).toISOString(),
        end_date: new Date(q.end_date).toISOString(),
      });
      const href = `/orgs/1/traffic_flows/async_queries/${id}`;
      const body: AsyncQuery = {
        href,
        status: 'completed',
        query_parameters: q,
        created_at: at,
        updated_at: at,
        result: `${href}/download`,
        flows_count: flows.length,
      };
      await store.db
        .insertInto('traffic_queries')
        .values({ id, body: JSON.stringify(body), result: JSON.stringify(flows), created_at: at })
        .execute();
      return reply.status(202).send(body);
    },
  );

  // Re-decide a query's result under the draft policy (the ends' current modes): what provisioning would change.
  app.put<{ Params: Static<typeof OrgIdParams> }>(
    `${base}/:id/update_rules`,
    { schema: { params: OrgIdParams, tags }, config: { access: 'read', policyNeutral: true } },
    async (req, reply) => {
      checkOrg(req.params.org);
      const row = await get(req.params.id);
      const flows = JSON.parse(row.result ?? '[]') as TrafficFlow[];
      const decided = await app.engine.decideFlows(
        'draft',
        flows.map((f) => ({ src_ip: f.src.ip, dst_ip: f.dst.ip, service: serviceOf(f) })),
      );
      flows.forEach((f, i) => (f.draft_policy_decision = decided[i]!.decision as TrafficFlow['policy_decision']));
      const body = JSON.parse(row.body) as AsyncQuery;
      body.updated_at = new Date().toISOString();
      await store.db
        .updateTable('traffic_queries')
        .set({ body: JSON.stringify(body), result: JSON.stringify(flows) })
        .where('id', '=', req.params.id)
        .execute();
      return reply.status(202).send(body);
    },
  );

  // The synchronous, paged form of the same query (for the UI): `offset` and `max_results`.
  app.post<{ Params: Static<typeof OrgParams>; Body: TrafficQuery; Querystring: { offset?: number } }>(
    `${ORG_PATH}/traffic_flows/traffic_analysis_queries`,
    {
      schema: {
        params: OrgParams,
        body: TrafficQuery,
        querystring: Type.Object({ offset: Type.Optional(Type.Integer({ minimum: 0 })) }),
        tags,
      },
      config: { access: 'read', policyNeutral: true },
    },
    async (req, reply) => {
      checkOrg(req.params.org);
      const q = normalized(req.body);
      const all = await queryFlows(store, { ...q, max_results: 200_000 });
      const offset = req.query.offset ?? 0;
      reply.header('X-Total-Count', String(all.length));
      return all.slice(offset, offset + (q.max_results ?? 1000));
    },
  );

  // The app-group map: flows grouped by the chosen label keys (default app, env) of each end.
  app.get<{ Params: Static<typeof OrgParams>; Querystring: { keys?: string; start_date?: string; end_date?: string } }>(
    `${ORG_PATH}/traffic_flows/app_groups`,
    {
      schema: {
        params: OrgParams,
        querystring: Type.Object({
          keys: Type.Optional(Type.String()),
          start_date: Type.Optional(Type.String()),
          end_date: Type.Optional(Type.String()),
        }),
        tags,
      },
    },
    async (req) => {
      checkOrg(req.params.org);
      const keys = (req.query.keys ?? 'app,env')
        .split(',')
        .map((k) => k.trim())
        .filter(Boolean);
      const q = normalized({
        start_date: req.query.start_date ?? new Date(Date.now() - 3_600_000).toISOString(),
        end_date: req.query.end_date ?? new Date(Date.now() + 60_000).toISOString(),
        sources: { include: [], exclude: [] },
        destinations: { include: [], exclude: [] },
        max_results: 200_000,
      });
      return appGroups(await queryFlows(store, q), keys);
    },
  );

  app.get<{ Params: Static<typeof OrgParams> }>(base, { schema: { params: OrgParams, tags } }, async (req) => {
    checkOrg(req.params.org);
    const rows = await store.db
      .selectFrom('traffic_queries')
      .select('body')
      .orderBy('created_at', 'desc')
      .limit(500)
      .execute();
    return rows.map((r) => JSON.parse(r.body) as AsyncQuery);
  });

  const get = async (id: string) => {
    const r = await store.db.selectFrom('traffic_queries').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) throw notFound(`traffic query /orgs/1/traffic_flows/async_queries/${id}`);
    return r;
  };
  app.get<{ Params: Static<typeof OrgIdParams> }>(
    `${base}/:id`,
    { schema: { params: OrgIdParams, tags } },
    async (req) => {
      checkOrg(req.params.org);
      return JSON.parse((await get(req.params.id)).body) as AsyncQuery;
    },
  );
  app.get<{ Params: Static<typeof OrgIdParams> }>(
    `${base}/:id/download`,
    { schema: { params: OrgIdParams, tags } },
    async (req, reply) => {
      checkOrg(req.params.org);
      const flows = JSON.parse((await get(req.params.id)).result ?? '[]') as TrafficFlow[];
      if ((req.headers.accept ?? '').includes('text/csv')) return reply.type('text/csv').send(flowsCsv(flows));
      return flows;
    },
  );
  // The result as an offline snapshot (the `bulkhead traffic export` file): a SQLite database, schema in traffic/snapshot.ts.
  app.get<{ Params: Static<typeof OrgIdParams> }>(
    `${base}/:id/snapshot`,
    { schema: { params: OrgIdParams, tags } },
    async (req, reply) => {
      checkOrg(req.params.org);
      const row = await get(req.params.id);
      const body = JSON.parse(row.body) as AsyncQuery;
      const flows = JSON.parse(row.result ?? '[]') as TrafficFlow[];
      return reply
        .type('application/vnd.sqlite3')
        .header('Content-Disposition', `attachment; filename="bulkhead-flows-${req.params.id}.sqlite"`)
        .send(snapshotBytes(body.query_parameters, flows));
    },
  );
}
