// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The wire contract between a C-VEN and the PCE: pairing, the node's policy
 * (fetched and pushed), pod reports, status heartbeats, agent events and
 * unpairing.
 *
 * Owns: every message shape the C-VEN sends or receives. Pure: no I/O.
 * Paths (all under `/api/v2/orgs/1/agents`):
 * - `POST /activate` — credential: the activation code in the body; answers
 *   the agent's own credentials (HTTP Basic `auth_username` + `secret`),
 *   shown once.
 * - With the agent's credentials, only for its own id (403 otherwise):
 *   `GET /{id}/policy` (ETag / If-None-Match → 304),
 *   `GET /{id}/policy/stream` (Server-Sent Events, event `policy` with an
 *   `AgentPolicy` whenever it changes), `PUT /{id}/pods`, `PUT /{id}/status`,
 *   `POST /{id}/events`, `POST /{id}/unpair`.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { EnforcementModeSchema } from './inventory-objects.js';
import type { NodePolicy } from './node-policy.js';
import { strictObject } from './policy-objects.js';

export const AgentInterface = strictObject({
  name: Type.String({ minLength: 1, maxLength: 64 }),
  address: Type.String({ minLength: 1 }),
  cidr_block: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 128 }), Type.Null()])),
});
export type AgentInterface = Static<typeof AgentInterface>;

export const AgentActivateRequest = strictObject({
  activation_code: Type.String({ minLength: 1, maxLength: 256 }),
  /** /etc/machine-id of the node: ties the C-VEN to Kubelink's node. */
  machine_id: Type.String({ minLength: 1, maxLength: 128 }),
  hostname: Type.String({ minLength: 1, maxLength: 255 }),
  interfaces: Type.Array(AgentInterface, { maxItems: 256 }),
  /** The container cluster's id (the last segment of its href). */
  container_cluster_id: Type.String({ minLength: 1, maxLength: 64 }),
  agent_version: Type.Optional(Type.String({ maxLength: 64 })),
});
export type AgentActivateRequest = Static<typeof AgentActivateRequest>;

export interface AgentActivateResponse {
  agent_href: string;
  agent_id: string;
  workload_href: string;
  auth_username: string;
  /** Shown once; the PCE keeps only its hash. */
  secret: string;
}

/** What the C-VEN enforces, with a version that changes whenever the content does. */
export interface AgentPolicy {
  /** Opaque content hash; equal versions mean byte-identical policy. Also the ETag. */
  version: string;
  /** The active policy version it was compiled from (0: nothing provisioned yet). */
  policy_version: number;
  policy: NodePolicy;
  /**
   * Every managed namespace of the node's container cluster and its
   * enforcement mode, keys sorted. A pod the agent sees before its
   * container workload is in `policy` is held fail-closed when its
   * namespace is in `full` mode. Absent namespaces are unmanaged.
   */
  namespaces: Record<string, Static<typeof EnforcementModeSchema>>;
}

export const PodReport = strictObject({
  /** Kubernetes object uid (a UUID). */
  uid: Type.String({ pattern: '^[0-9a-f][0-9a-f-]{0,63}$' }),
  namespace: Type.String({ minLength: 1, maxLength: 253 }),
  name: Type.String({ minLength: 1, maxLength: 253 }),
  /** Pod IP; absent while the sandbox has none yet. */
  ip: Type.Optional(Type.String({ minLength: 1 })),
  netns_path: Type.Optional(Type.String({ maxLength: 4096 })),
  labels: Type.Record(Type.String(), Type.String()),
  annotations: Type.Record(Type.String(), Type.String()),
  host_network: Type.Boolean(),
  /** When the sandbox started (RFC 3339). */
  started_at: Type.Optional(Type.String()),
});
export type PodReport = Static<typeof PodReport>;

/** Level-based: the whole set of pods on the node; pods missing from it are gone. */
export const AgentPodsReport = strictObject({
  pods: Type.Array(PodReport, { maxItems: 5000 }),
});
export type AgentPodsReport = Static<typeof AgentPodsReport>;

export interface AgentPodsResult {
  /** Per reported pod: its container workload, or null (host network, unmanaged namespace, no IP). */
  pods: { uid: string; container_workload: string | null; reason?: string }[];
}

export const SYNC_STATES = ['syncing', 'applied', 'error', 'offline_applied'] as const;
export type SyncState = (typeof SYNC_STATES)[number];

/**
 * A rule the node's table holds whatever the policy (the agent's own
 * connection to its PCE, DNS to the cluster resolver, replies, loopback),
 * as the agent reports it; the PCE lists them with the node's policy.
 */
export const ImplicitRule = strictObject({
  direction: Type.Union([Type.Literal('inbound'), Type.Literal('outbound'), Type.Literal('both')]),
  description: Type.String({ minLength: 1, maxLength: 128 }),
  /** Peer addresses; absent: any peer. */
  addresses: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 64 })),
  /** IANA protocol number; absent: any. */
  proto: Type.Optional(Type.Integer({ minimum: 0, maximum: 255 })),
  port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
});
export type ImplicitRule = Static<typeof ImplicitRule>;

export const AgentStatusReport = strictObject({
  /** `AgentPolicy.version` the agent has in the kernel now, or null before the first apply. */
  applied_version: Type.Union([Type.String(), Type.Null()]),
  sync_state: Type.Union(SYNC_STATES.map((s) => Type.Literal(s))),
  errors: Type.Array(strictObject({ token: Type.String(), message: Type.String() }), { maxItems: 100 }),
  interfaces: Type.Optional(Type.Array(AgentInterface, { maxItems: 256 })),
  agent_version: Type.Optional(Type.String({ maxLength: 64 })),
  /** Rules written across the node's tables. */
  firewall_rule_count: Type.Optional(Type.Integer({ minimum: 0 })),
  implicit_rules: Type.Optional(Type.Array(ImplicitRule, { maxItems: 32 })),
});
export type AgentStatusReport = Static<typeof AgentStatusReport>;

export const AgentEvent = strictObject({
  event_type: Type.Union([Type.Literal('agent.tampering'), Type.Literal('agent.firewall_error')]),
  severity: Type.Union([Type.Literal('info'), Type.Literal('warning'), Type.Literal('err')]),
  info: Type.Record(Type.String(), Type.Unknown()),
});
export type AgentEvent = Static<typeof AgentEvent>;

/** The `agent` block of a node workload (Illumio's shape). */
export interface WorkloadAgent {
  href: string;
  config: { mode: Static<typeof EnforcementModeSchema> };
  status: {
    status: 'active' | 'stopped' | 'unpaired';
    security_policy_sync_state: SyncState | null;
    security_policy_applied_at: string | null;
    /** Version the agent reported applied (AgentPolicy.version). */
    applied_version: string | null;
    last_heartbeat_on: string | null;
    firewall_rule_count: number;
    agent_version: string | null;
    agent_health: { token: string; message: string }[];
  };
  /** What the node's table always allows, as its agent last reported (absent before the first report). */
  implicit_rules?: ImplicitRule[];
}

/** `GET /orgs/1/workloads/{id}/policy`: what the node's C-VEN enforces, with its implicit rules. */
export interface NodePolicyView extends AgentPolicy {
  implicit_rules: ImplicitRule[];
}
