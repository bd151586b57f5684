// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Authentication (HTTP Basic with an API key, as Illumio) and authorisation
 * by role, on every route not marked `config.public`.
 *
 * Roles, most powerful first: owner, admin, ruleset_manager, read_only.
 * A route declares `config.access`: `read` (every role), `policy` (owner,
 * admin, ruleset_manager: draft policy), `admin` (owner, admin), `owner`.
 * Without it, GET is `read` and every other method is `admin`.
 * Failed authentications become events (at most one per user name every
 * 10 s, so a flood cannot fill the store). Secrets are never logged.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BulkheadError } from '../../api/errors.js';
import { verifyApiKey, type ApiKeyRecord, type Role } from '../../store/api-keys.js';
import { KUBELINK_USER_PREFIX } from '../../api/kubelink.js';
import { verifyAgent, type AgentRecord } from '../../store/agents.js';
import { verifyClusterToken } from '../../store/clusters.js';
import { recordEvent } from '../events.js';

/**
 * `agent`: only a paired C-VEN, and the route checks it acts for itself.
 * `kubelink`: only a cluster's Kubelink (its cluster token), and the route
 * checks it reports for its own cluster.
 */
export type Access = 'read' | 'policy' | 'admin' | 'owner' | 'agent' | 'kubelink';

declare module 'fastify' {
  interface FastifyContextConfig {
    public?: boolean;
    access?: Access;
    /** A write that cannot change compiled policy (flow uploads, explorer queries): no recompile. */
    policyNeutral?: boolean;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

export interface UserPrincipal {
  kind: 'user';
  userHref: string;
  userId: string;
  username: string;
  role: Role;
  key: ApiKeyRecord;
}
export interface AgentPrincipal {
  kind: 'agent';
  username: string;
  agent: AgentRecord;
}
export interface KubelinkPrincipal {
  kind: 'kubelink';
  username: string;
  clusterId: string;
}
export type Principal = UserPrincipal | AgentPrincipal | KubelinkPrincipal;

/** The Kubelink of a request on a Kubelink route, which must be the path's cluster's. */
export function kubelinkOf(req: FastifyRequest, clusterId: string): KubelinkPrincipal {
  if (req.principal?.kind !== 'kubelink')
    throw new BulkheadError('BH_ERR_API_FORBIDDEN', "this route is for a cluster's Kubelink (its cluster token)");
  if (req.principal.clusterId !== clusterId)
    throw new BulkheadError(
      'BH_ERR_API_FORBIDDEN',
      `the token of container cluster ${req.principal.clusterId} may report only for it, not for ${clusterId}`,
    );
  return req.principal;
}

/** The API-key user of a request on a user route (the auth hook has let only users through). */
export function userOf(req: FastifyRequest): UserPrincipal {
  if (req.principal?.kind !== 'user') throw new BulkheadError('BH_ERR_API_FORBIDDEN', 'this route needs an API key');
  return req.principal;
}

/** The agent of a request on an agent route, which must be the agent the path names. */
export function agentOf(req: FastifyRequest, agentId: string): AgentPrincipal {
  if (req.principal?.kind !== 'agent')
    throw new BulkheadError('BH_ERR_API_FORBIDDEN', 'this route is for paired agents');
  if (req.principal.agent.id !== agentId)
    throw new BulkheadError(
      'BH_ERR_API_FORBIDDEN',
      `agent ${req.principal.agent.id} may act only for itself, not agent ${agentId}`,
    );
  return req.principal;
}

const ALLOWED: Record<Access, Role[]> = {
  read: ['owner', 'admin', 'ruleset_manager', 'read_only'],
  policy: ['owner', 'admin', 'ruleset_manager'],
  admin: ['owner', 'admin'],
  owner: ['owner'],
  agent: [],
  kubelink: [],
};

/** User names of agent credentials start with this (store/agents.ts). */
const AGENT_PREFIX = 'agent_';

/** Parse `Authorization: Basic ...` into user name and secret. */
export function basicCredentials(header: string | undefined): { user: string; secret: string } | undefined {
  if (!header?.startsWith('Basic ')) return undefined;
  const text = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon <= 0) return undefined;
  return { user: text.slice(0, colon), secret: text.slice(colon + 1) };
}

/** Rate limits count per API key user name, or per address without one. */
export function rateLimitKey(req: FastifyRequest): string {
  const c = basicCredentials(req.headers.authorization);
  return c ? `key:${c.user}` : `ip:${req.ip}`;
}

const CACHE_MS = 10_000;
const FAILURE_EVENT_GAP_MS = 10_000;

export function installAuth(app: FastifyInstance): void {
  const cache = new Map<string, { principal: Principal; until: number }>();
  const lastFailureEvent = new Map<string, number>();
  app.decorateRequest('principal', null);
  app.decorate('forgetCredentials', (authUsername: string) => {
    for (const k of cache.keys()) if (k.startsWith(`${authUsername}:`)) cache.delete(k);
  });

  app.addHook('onRequest', async (req, reply) => {
    const config = req.routeOptions.config;
    if (config.public || req.routeOptions.url === undefined) return; // public, or the 404 handler
    const creds = basicCredentials(req.headers.authorization);
    const now = Date.now();
    let principal: Principal | undefined;
    if (creds) {
      const cacheKey = `${creds.user}:${creds.secret}`;
      const hit = cache.get(cacheKey);
      if (hit && hit.until > now) principal = hit.principal;
      else {
        if (creds.user.startsWith(KUBELINK_USER_PREFIX)) {
          const clusterId = creds.user.slice(KUBELINK_USER_PREFIX.length);
          if (await verifyClusterToken(app.store, clusterId, creds.secret))
            principal = { kind: 'kubelink', username: creds.user, clusterId };
        } else if (creds.user.startsWith(AGENT_PREFIX)) {
          const agent = await verifyAgent(app.store, creds.user, creds.secret);
          if (agent) principal = { kind: 'agent', username: agent.auth_username, agent };
        } else {
          const key = await verifyApiKey(app.store, creds.user, creds.secret);
          if (key)
            principal = {
              kind: 'user',
              userHref: `/users/${key.user_id}`,
              userId: key.user_id,
              username: key.auth_username,
              role: key.role,
              key,
            };
        }
        if (principal) {
          if (cache.size > 10_000) cache.clear();
          cache.set(cacheKey, { principal, until: now + CACHE_MS });
        }
      }
    }
    if (!principal) {
      const who = creds?.user ?? '(none)';
      if (creds && (lastFailureEvent.get(who) ?? 0) + FAILURE_EVENT_GAP_MS < now) {
        lastFailureEvent.set(who, now);
        if (lastFailureEvent.size > 10_000) lastFailureEvent.clear();
        await recordEvent(app.store, {
          event_type: 'user.authenticate',
          status: 'failure',
          severity: 'warning',
          created_by: { system: {} },
          info: { auth_username: who, src_ip: req.ip },
        });
      }
      reply.header('WWW-Authenticate', 'Basic realm="Bulkhead PCE"');
      throw new BulkheadError(
        'BH_ERR_API_UNAUTHENTICATED',
        creds
          ? 'the API key user name or secret is wrong; create a key with `bulkhead pce api-key create`'
          : 'credentials required: HTTP Basic with an API key user name and secret',
      );
    }
    req.principal = principal;
    const access: Access = config.access ?? (req.method === 'GET' || req.method === 'HEAD' ? 'read' : 'admin');
    if (principal.kind === 'kubelink' || access === 'kubelink') {
      if (principal.kind === 'kubelink' && access === 'kubelink') return; // the route checks the cluster
      throw new BulkheadError(
        'BH_ERR_API_FORBIDDEN',
        principal.kind === 'kubelink'
          ? `a cluster token may not ${req.method} ${req.routeOptions.url}`
          : `${req.routeOptions.url} is for a cluster's Kubelink only`,
      );
    }
    if (principal.kind === 'agent' || access === 'agent') {
      if (principal.kind === 'agent' && access === 'agent') return; // the route checks the agent acts for itself
      throw new BulkheadError(
        'BH_ERR_API_FORBIDDEN',
        principal.kind === 'agent'
          ? `agent credentials may not ${req.method} ${req.routeOptions.url}`
          : `${req.routeOptions.url} is for paired agents only`,
      );
    }
    if (!ALLOWED[access].includes(principal.role))
      throw new BulkheadError(
        'BH_ERR_API_FORBIDDEN',
        `role ${principal.role} may not ${req.method} ${req.routeOptions.url}; it needs ${ALLOWED[access].join(' or ')}`,
      );
  });
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Drop cached verifications of a key (after it is deleted). */
    forgetCredentials(authUsername: string): void;
  }
}
