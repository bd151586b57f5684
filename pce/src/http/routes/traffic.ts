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
import { ingestBatch, queryFlows } from '../../traffic/store.js';
import { agentOf } from '../plugins/auth.js';
import { checkOrg, ORG_PATH, OrgIdParams, OrgParams } from './common.js';

const AgentParams = Type.Object({ org: Type.String(), id: Type.String() });

function csv(flows: TrafficFlow[]): string {
  const esc = (v: unknown): string => {
    const t = v === undefined || v === null ? '' : String(v);
    return /[",\n]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t;
  };
  const labels = (w: TrafficFlow['src']['workload']): string =>
    w ? w.labels.map((l) => `${l.key}=${l.value}`).join(';') : '';
  const head =
    'src_ip,src_workload,src_namespace,src_labels,dst_ip,dst_workload,dst_namespace,dst_labels,port,proto,policy_decision,rule,num_connections,first_detected,last_detected';
  return (
    [
      head,
      ...flows.map((f) =>
        [
          f.src.ip,
          f.src.workload?.name,
          f.src.workload?.namespace,
          labels(f.src.workload),
          f.dst.ip,
          f.dst.workload?.name,
          f.dst.workload?.namespace,
          labels(f.dst.workload),
          f.service.port,
          f.service.proto,
          f.policy_decision,
          f.rule?.href,
          f.num_connections,
          f.timestamp_range.first_detected,
          f.timestamp_range.last_detected,
        ]
          .map(esc)
          .join(','),
      ),
    ].join('\n') + '\n'
  );
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
      if ((req.headers.accept ?? '').includes('text/csv')) return reply.type('text/csv').send(csv(flows));
      return flows;
    },
  );
}
