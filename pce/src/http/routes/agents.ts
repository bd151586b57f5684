// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The C-VEN's side of the API (contract: pce/src/api/agent.ts): pairing with
 * an activation code, the node's policy (GET with ETag, and pushed over
 * Server-Sent Events as soon as it changes), pod reports, status
 * heartbeats, agent events (tampering) and unpairing.
 *
 * Owns: that an agent acts only for its own node (its credentials name one
 * agent; every route checks the path's agent id against them), and the node
 * workload's `agent` block.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import {
  AgentActivateRequest,
  AgentEvent,
  AgentPodsReport,
  AgentStatusReport,
  type AgentActivateResponse,
  type WorkloadAgent,
} from '../../api/agent.js';
import { BulkheadError, invalid, notFound } from '../../api/errors.js';
import type { ContainerCluster } from '../../api/inventory-objects.js';
import { parseAddress } from '../../domain/address.js';
import { createAgent, deleteAgentsOf } from '../../store/agents.js';
import type { Store } from '../../store/store.js';
import { reportPods, syncNamespace } from '../container-workloads.js';
import { recordEvent } from '../events.js';
import { agentOf } from '../plugins/auth.js';
import { hashActivationCode, type PairingProfile } from './admin.js';
import { checkOrg, ORG_PATH, OrgParams } from './common.js';
import type { Workload } from './workloads.js';

/** A node workload: a workload with a paired C-VEN. */
export interface NodeWorkload extends Workload {
  machine_id: string;
  container_cluster: { href: string } | null;
  agent: WorkloadAgent;
}

const AgentParams = Type.Object({ org: Type.String(), id: Type.String() });

interface PairingKeyRow {
  uses: number;
  allowed_uses: number | 'unlimited';
  expires_at: string | null;
}

async function nodeWorkloadOf(s: Store, workloadHref: string): Promise<{ id: string; w: NodeWorkload }> {
  const id = workloadHref.slice(workloadHref.lastIndexOf('/') + 1);
  const w = await s.getDoc<NodeWorkload>('workloads', id);
  if (!w) throw notFound(`node workload ${workloadHref}`);
  return { id, w };
}

export async function agentRoutes(app: FastifyInstance): Promise<void> {
  const { store, engine } = app;
  const base = `${ORG_PATH}/agents`;
  const tags = ['agents'];

  app.addHook('onClose', async () => engine.close());
  // Open policy streams end before the server closes, or closing would wait for agents to hang up.
  const streams = new Set<{ end: () => void }>();
  app.addHook('preClose', async () => {
    for (const s of streams) s.end();
  });

  // Pairing. The activation code in the body is the credential (so the route
  // needs no API key); it is rate limited like every route.
  app.post<{ Params: Static<typeof OrgParams>; Body: AgentActivateRequest }>(
    `${base}/activate`,
    { schema: { params: OrgParams, body: AgentActivateRequest, tags }, config: { public: true } },
    async (req, reply) => {
      checkOrg(req.params.org);
      const b = req.body;
      b.interfaces.forEach((i, n) => {
        if (!parseAddress(i.address, false))
          throw invalid(`interfaces[${n}].address`, `"${i.address}" is not an IPv4 or IPv6 address`);
      });
      const result = await store.tx(async (s) => {
        const key = await s.db
          .selectFrom('pairing_keys')
          .select(['id', 'profile_id', 'body'])
          .where('code_hash', '=', hashActivationCode(b.activation_code))
          .executeTakeFirst();
        const refused = (why: string): BulkheadError =>
          new BulkheadError('BH_ERR_API_UNAUTHENTICATED', `activation_code: ${why}; make a new pairing key`);
        if (!key) throw refused('no such activation code');
        const keyState = JSON.parse(key.body) as PairingKeyRow;
        if (keyState.expires_at !== null && keyState.expires_at < new Date().toISOString())
          throw refused('the activation code expired');
        if (keyState.allowed_uses !== 'unlimited' && keyState.uses >= keyState.allowed_uses)
          throw refused('the activation code was used up');
        const profile = await s.getDoc<PairingProfile>('pairing_profiles', key.profile_id);
        if (!profile || !profile.enabled) throw refused('its pairing profile is disabled or gone');
        const cluster = await s.getDoc<ContainerCluster>('container_clusters', b.container_cluster_id);
        if (!cluster)
          throw invalid('container_cluster_id', `container cluster ${b.container_cluster_id} does not exist`);

        keyState.uses += 1;
        await s.db
          .updateTable('pairing_keys')
          .set({ body: JSON.stringify(keyState) })
          .where('id', '=', key.id)
          .execute();
        const at = new Date().toISOString();
        await s.updateDoc('pairing_profiles', key.profile_id, {
          ...profile,
          total_use_count: profile.total_use_count + 1,
          last_pairing_at: at,
        });

        // The same machine in the same cluster pairs again onto its workload.
        const existing = (await s.listDocs<NodeWorkload>('workloads')).find(
          (w) => w.managed && w.machine_id === b.machine_id && w.container_cluster?.href === cluster.href,
        );
        const workloadId = existing ? existing.href.slice(existing.href.lastIndexOf('/') + 1) : randomUUID();
        const workloadHref = `/orgs/1/workloads/${workloadId}`;
        await deleteAgentsOf(s, workloadId);
        const { record, secret } = await createAgent(s, workloadId, b.container_cluster_id, b.machine_id);
        const w: NodeWorkload = {
          href: workloadHref,
          name: existing?.name ?? b.hostname,
          hostname: b.hostname,
          description: existing?.description ?? null,
          labels: existing?.labels.length ? existing.labels : profile.labels,
          interfaces: b.interfaces.map((i) => ({ name: i.name, address: i.address, cidr_block: i.cidr_block ?? null })),
          public_ip: null,
          managed: true,
          online: true,
          enforcement_mode:
            existing?.enforcement_mode ?? (profile.enforcement_mode as NodeWorkload['enforcement_mode']),
          visibility_level: existing?.visibility_level ?? profile.visibility_level,
          os_type: 'linux',
          external_data_set: null,
          external_data_reference: null,
          node: null,
          machine_id: b.machine_id,
          container_cluster: { href: cluster.href },
          agent: {
            href: record.href,
            config: {
              mode: existing?.enforcement_mode ?? (profile.enforcement_mode as NodeWorkload['enforcement_mode']),
            },
            status: {
              status: 'active',
              security_policy_sync_state: 'syncing',
              security_policy_applied_at: null,
              applied_version: null,
              last_heartbeat_on: at,
              firewall_rule_count: 0,
              agent_version: b.agent_version ?? null,
              agent_health: [],
            },
          },
          created_at: existing?.created_at ?? at,
          updated_at: at,
          created_by: existing?.created_by ?? { href: record.href },
          updated_by: { href: record.href },
        };
        if (existing) await s.updateDoc('workloads', workloadId, w);
        else await s.insertDoc('workloads', workloadId, w);
        const answer: AgentActivateResponse = {
          agent_href: record.href,
          agent_id: record.id,
          workload_href: workloadHref,
          auth_username: record.auth_username,
          secret,
        };
        return { answer, profile, w };
      });
      await recordEvent(store, {
        event_type: 'agent.activate',
        created_by: { agent: { href: result.answer.agent_href } },
        resource_changes: [{ resource: { href: result.w.href, name: result.w.hostname ?? '' }, change_type: 'create' }],
        info: { pairing_profile: result.profile.href, machine_id: b.machine_id },
      });
      return reply.status(201).send(result.answer);
    },
  );

  app.get<{ Params: Static<typeof AgentParams> }>(
    `${base}/:id/policy`,
    { schema: { params: AgentParams, tags }, config: { access: 'agent' } },
    async (req, reply) => {
      checkOrg(req.params.org);
      const { agent } = agentOf(req, req.params.id);
      const p = await engine.agentPolicy(agent.workload_href);
      reply.header('ETag', `"${p.version}"`);
      if (req.headers['if-none-match'] === `"${p.version}"`) return reply.status(304).send();
      return p;
    },
  );

  // Push: one event `policy` now and whenever the node's policy changes; a
  // comment every 15 s keeps proxies from closing the stream.
  app.get<{ Params: Static<typeof AgentParams> }>(
    `${base}/:id/policy/stream`,
    { schema: { params: AgentParams, tags }, config: { access: 'agent' } },
    async (req, reply) => {
      checkOrg(req.params.org);
      const { agent } = agentOf(req, req.params.id);
      const first = await engine.agentPolicy(agent.workload_href);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-request-id': req.id,
      });
      let last = '';
      const send = (p: typeof first): void => {
        if (p.version === last) return;
        last = p.version;
        res.write(`event: policy\nid: ${p.version}\ndata: ${JSON.stringify(p)}\n\n`);
      };
      send(first);
      const unsubscribe = engine.subscribe(agent.workload_href, send);
      const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
      const stop = (): void => {
        clearInterval(keepAlive);
        unsubscribe();
      };
      const stream = {
        end: (): void => {
          stop();
          res.end();
        },
      };
      streams.add(stream);
      req.raw.on('close', () => {
        streams.delete(stream);
        stop();
      });
    },
  );

  app.put<{ Params: Static<typeof AgentParams>; Body: Static<typeof AgentPodsReport> }>(
    `${base}/:id/pods`,
    { schema: { params: AgentParams, body: AgentPodsReport, tags }, config: { access: 'agent' } },
    async (req) => {
      checkOrg(req.params.org);
      const { agent } = agentOf(req, req.params.id);
      if (!agent.cluster_id) throw invalid('pods', 'this agent is not in a container cluster');
      const seen = new Set<string>();
      req.body.pods.forEach((p, i) => {
        if (seen.has(p.uid)) throw invalid(`pods[${i}].uid`, `pod uid ${p.uid} is reported twice`);
        seen.add(p.uid);
        if (p.ip !== undefined && !parseAddress(p.ip, false))
          throw invalid(`pods[${i}].ip`, `"${p.ip}" is not an IP address`);
      });
      const pods = await store.tx((s) => reportPods(s, agent.cluster_id!, agent.workload_href, req.body.pods));
      return { pods };
    },
  );

  app.put<{ Params: Static<typeof AgentParams>; Body: Static<typeof AgentStatusReport> }>(
    `${base}/:id/status`,
    { schema: { params: AgentParams, body: AgentStatusReport, tags }, config: { access: 'agent' } },
    async (req, reply) => {
      checkOrg(req.params.org);
      const { agent } = agentOf(req, req.params.id);
      const b = req.body;
      await store.tx(async (s) => {
        const { id, w } = await nodeWorkloadOf(s, agent.workload_href);
        const at = new Date().toISOString();
        const applied = b.applied_version !== w.agent.status.applied_version && b.applied_version !== null;
        w.agent.status = {
          ...w.agent.status,
          status: 'active',
          security_policy_sync_state: b.sync_state,
          security_policy_applied_at: applied ? at : w.agent.status.security_policy_applied_at,
          applied_version: b.applied_version,
          last_heartbeat_on: at,
          firewall_rule_count: b.firewall_rule_count ?? w.agent.status.firewall_rule_count,
          agent_version: b.agent_version ?? w.agent.status.agent_version,
          agent_health: b.errors,
        };
        if (b.implicit_rules) w.agent.implicit_rules = b.implicit_rules;
        w.online = true;
        if (b.interfaces)
          w.interfaces = b.interfaces.map((i) => ({
            name: i.name,
            address: i.address,
            cidr_block: i.cidr_block ?? null,
          }));
        await s.updateDoc('workloads', id, w);
      });
      return reply.status(204).send();
    },
  );

  app.post<{ Params: Static<typeof AgentParams>; Body: Static<typeof AgentEvent> }>(
    `${base}/:id/events`,
    { schema: { params: AgentParams, body: AgentEvent, tags }, config: { access: 'agent' } },
    async (req, reply) => {
      checkOrg(req.params.org);
      const { agent } = agentOf(req, req.params.id);
      const event = await recordEvent(store, {
        event_type: req.body.event_type,
        severity: req.body.severity,
        status: 'success',
        created_by: { agent: { href: agent.href } },
        resource_changes: [{ resource: { href: agent.workload_href }, change_type: 'update' }],
        info: req.body.info,
      });
      return reply.status(201).send(event);
    },
  );

  app.post<{ Params: Static<typeof AgentParams> }>(
    `${base}/:id/unpair`,
    { schema: { params: AgentParams, tags }, config: { access: 'agent' } },
    async (req, reply) => {
      checkOrg(req.params.org);
      const { agent } = agentOf(req, req.params.id);
      const names = await store.tx(async (s) => {
        const { id, w } = await nodeWorkloadOf(s, agent.workload_href);
        // Its pods leave with it: their container workloads go.
        if (agent.cluster_id) {
          const namespaces = new Set(
            (await s.db.selectFrom('pods').select('namespace').where('node_workload_id', '=', id).execute()).map(
              (r) => r.namespace,
            ),
          );
          await s.db.deleteFrom('pods').where('node_workload_id', '=', id).execute();
          for (const ns of namespaces) await syncNamespace(s, agent.cluster_id, ns);
        }
        w.managed = false;
        w.online = false;
        w.enforcement_mode = 'idle';
        w.agent.status = { ...w.agent.status, status: 'unpaired', security_policy_sync_state: null };
        await s.updateDoc('workloads', id, w);
        return deleteAgentsOf(s, id);
      });
      for (const n of names) app.forgetCredentials(n);
      await recordEvent(store, {
        event_type: 'agent.unpair',
        created_by: { agent: { href: agent.href } },
        resource_changes: [{ resource: { href: agent.workload_href }, change_type: 'update' }],
      });
      return reply.status(204).send();
    },
  );
}
