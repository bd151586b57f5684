// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The traffic wire contract: what a C-VEN uploads (aggregated flows in
 * idempotent batches), what the explorer answers (flow records in the
 * Illumio shape), and the explorer's query (Illumio's async query body).
 * Pure: no I/O.
 * Upload: `POST /api/v2/orgs/1/agents/{id}/flows` with a `FlowBatch`; the PCE
 * answers 200 only once the batch is durable; a batch id seen before is
 * acknowledged and not counted again.
 */
import { Type, type Static } from '@sinclair/typebox';
import { strictObject } from './policy-objects.js';

export const FLOW_DECISIONS = ['allowed', 'potentially_blocked', 'blocked', 'unknown'] as const;
const Decision = Type.Union(FLOW_DECISIONS.map((d) => Type.Literal(d)));
const Ip = Type.String({ minLength: 2, maxLength: 45 });

/** One aggregate of a node's flows: (source, destination, port, protocol, decision) in one time bucket. */
export const AgentFlow = strictObject({
  src_ip: Ip,
  dst_ip: Ip,
  /** Destination port (TCP/UDP); for ICMP `type << 8 | code`; 0 when none. */
  port: Type.Integer({ minimum: 0, maximum: 65535 }),
  proto: Type.Integer({ minimum: 0, maximum: 255 }),
  decision: Decision,
  /** Href of the rule that decided it; absent: the mode's default. */
  rule: Type.Optional(Type.String({ maxLength: 256 })),
  /** Which end reported it (the node's own pod or node was the source or the destination). */
  reported_by: Type.Union([Type.Literal('source'), Type.Literal('destination')]),
  num_connections: Type.Integer({ minimum: 0 }),
  bytes: Type.Integer({ minimum: 0 }),
  packets: Type.Integer({ minimum: 0 }),
  /** RFC 3339. */
  first_seen: Type.String({ maxLength: 40 }),
  last_seen: Type.String({ maxLength: 40 }),
});
export type AgentFlow = Static<typeof AgentFlow>;

export const FlowBatch = strictObject({
  /** Unique per batch (the agent's spool file name): a retried batch is counted once. */
  batch_id: Type.String({ minLength: 8, maxLength: 128, pattern: '^[A-Za-z0-9._-]+$' }),
  flows: Type.Array(AgentFlow, { maxItems: 50_000 }),
  /** Records the agent could not keep (spool full, probe loss), since its last batch. */
  lost: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type FlowBatch = Static<typeof FlowBatch>;

/** One side's actor in an explorer query. */
const QueryActor = strictObject({
  label: Type.Optional(strictObject({ href: Type.String() })),
  label_group: Type.Optional(strictObject({ href: Type.String() })),
  workload: Type.Optional(strictObject({ href: Type.String() })),
  ip_list: Type.Optional(strictObject({ href: Type.String() })),
  ip_address: Type.Optional(strictObject({ value: Type.String() })),
});
const Side = strictObject({
  /** OR of inner lists that AND their actors; `[]` or `[[]]` matches everything. */
  include: Type.Array(Type.Array(QueryActor)),
  exclude: Type.Array(QueryActor),
});
const ServiceFilter = strictObject({
  port: Type.Optional(Type.Integer()),
  to_port: Type.Optional(Type.Integer()),
  proto: Type.Optional(Type.Integer()),
});

export const TrafficQuery = strictObject({
  query_name: Type.Optional(Type.String({ maxLength: 255 })),
  start_date: Type.String({ maxLength: 40 }),
  end_date: Type.String({ maxLength: 40 }),
  sources: Side,
  destinations: Side,
  services: Type.Optional(strictObject({ include: Type.Array(ServiceFilter), exclude: Type.Array(ServiceFilter) })),
  policy_decisions: Type.Optional(Type.Array(Decision)),
  max_results: Type.Optional(Type.Integer({ minimum: 1, maximum: 200_000 })),
  sources_destinations_query_op: Type.Optional(Type.Union([Type.Literal('and'), Type.Literal('or')])),
});
export type TrafficQuery = Static<typeof TrafficQuery>;

export interface FlowWorkload {
  href: string;
  name: string;
  labels: { href: string; key: string; value: string }[];
  namespace?: string;
}

/** A flow record as the explorer answers (Illumio's shape). */
export interface TrafficFlow {
  src: { ip: string; workload?: FlowWorkload };
  dst: { ip: string; workload?: FlowWorkload };
  service: { port: number; proto: number };
  policy_decision: (typeof FLOW_DECISIONS)[number];
  draft_policy_decision?: (typeof FLOW_DECISIONS)[number];
  /** The rule that decided it, or null for the mode's default. */
  rule: { href: string } | null;
  num_connections: number;
  flow_direction: 'outbound' | 'inbound';
  timestamp_range: { first_detected: string; last_detected: string };
  dst_bi: number;
  dst_bo: number;
}

export interface AsyncQuery {
  href: string;
  status: 'queued' | 'working' | 'completed' | 'failed';
  query_parameters: TrafficQuery;
  created_at: string;
  updated_at: string;
  /** When completed: the download href. */
  result?: string;
  flows_count?: number;
  error?: string;
}
