// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Paired agents (C-VENs) and their credentials in the store.
 *
 * Owns: one row per paired agent, tied to its node workload; the secret is
 * kept only as a hash (api-keys.ts), and shown once at pairing.
 */
import { randomBytes } from 'node:crypto';
import { hashSecret, secretMatches } from './api-keys.js';
import type { Store } from './store.js';

export interface AgentRecord {
  href: string;
  id: string;
  auth_username: string;
  workload_href: string;
  cluster_id: string | null;
  machine_id: string;
  created_at: string;
}

export async function createAgent(
  store: Store,
  workloadId: string,
  clusterId: string | null,
  machineId: string,
): Promise<{ record: AgentRecord; secret: string }> {
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('hex');
  const at = new Date().toISOString();
  const record: AgentRecord = {
    href: `/orgs/1/agents/${id}`,
    id,
    auth_username: `agent_${id}`,
    workload_href: `/orgs/1/workloads/${workloadId}`,
    cluster_id: clusterId,
    machine_id: machineId,
    created_at: at,
  };
  await store.db
    .insertInto('agents')
    .values({
      id,
      auth_username: record.auth_username,
      secret_hash: hashSecret(secret),
      workload_id: workloadId,
      cluster_id: clusterId,
      body: JSON.stringify(record),
      created_at: at,
      updated_at: at,
    })
    .execute();
  return { record, secret };
}

export async function verifyAgent(
  store: Store,
  authUsername: string,
  secret: string,
): Promise<AgentRecord | undefined> {
  const row = await store.db
    .selectFrom('agents')
    .select(['secret_hash', 'body'])
    .where('auth_username', '=', authUsername)
    .executeTakeFirst();
  if (!row || !secretMatches(secret, row.secret_hash)) return undefined;
  return JSON.parse(row.body) as AgentRecord;
}

export async function getAgent(store: Store, id: string): Promise<AgentRecord | undefined> {
  const row = await store.db.selectFrom('agents').select('body').where('id', '=', id).executeTakeFirst();
  return row ? (JSON.parse(row.body) as AgentRecord) : undefined;
}

/** Remove every agent of a node workload (re-pairing or unpairing). Returns their auth user names. */
export async function deleteAgentsOf(store: Store, workloadId: string): Promise<string[]> {
  const rows = await store.db
    .selectFrom('agents')
    .select('auth_username')
    .where('workload_id', '=', workloadId)
    .execute();
  await store.db.deleteFrom('agents').where('workload_id', '=', workloadId).execute();
  return rows.map((r) => r.auth_username);
}
