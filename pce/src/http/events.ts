// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Writing events in Illumio's shape: provisioning, pairing, authentication
 * failures and (later) agent tampering.
 */
import { randomUUID } from 'node:crypto';
import type { Store } from '../store/store.js';
import type { Principal } from './plugins/auth.js';

export type Severity = 'info' | 'warning' | 'err';

export interface PceEvent {
  href: string;
  uuid: string;
  timestamp: string;
  created_at: string;
  event_type: string;
  status: 'success' | 'failure';
  severity: Severity;
  created_by:
    | { user: { href: string; username: string } }
    | { system: Record<string, never> }
    | { agent: { href: string } }
    | { container_cluster: { href: string } };
  resource_changes: { resource: { href: string; name?: string }; change_type: 'create' | 'update' | 'delete' }[];
  info: Record<string, unknown>;
}

export interface EventInput {
  event_type: string;
  status?: PceEvent['status'];
  severity?: Severity;
  created_by?: PceEvent['created_by'];
  resource_changes?: PceEvent['resource_changes'];
  info?: Record<string, unknown>;
}

/** The `created_by` of an event caused by an API key. */
export function byPrincipal(p: Principal | null): PceEvent['created_by'] {
  if (!p) return { system: {} };
  if (p.kind === 'user') return { user: { href: p.userHref, username: p.username } };
  if (p.kind === 'agent') return { agent: { href: p.agent.href } };
  return { container_cluster: { href: `/orgs/1/container_clusters/${p.clusterId}` } };
}

export async function recordEvent(store: Store, input: EventInput): Promise<PceEvent> {
  const uuid = randomUUID();
  const at = new Date().toISOString();
  const event: PceEvent = {
    href: `/orgs/1/events/${uuid}`,
    uuid,
    timestamp: at,
    created_at: at,
    event_type: input.event_type,
    status: input.status ?? 'success',
    severity: input.severity ?? 'info',
    created_by: input.created_by ?? { system: {} },
    resource_changes: input.resource_changes ?? [],
    info: input.info ?? {},
  };
  await store.insertEvent(uuid, event.event_type, event);
  return event;
}
