// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Users and their API keys in the store.
 *
 * Owns: how keys are kept: the secret never, only its SHA-256 (secrets are
 * 256 random bits, so a slow hash adds nothing), compared in constant time.
 * Must not: log or return a secret except from `createApiKey`, once.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Store } from './store.js';

export const ROLES = ['owner', 'admin', 'ruleset_manager', 'read_only'] as const;
export type Role = (typeof ROLES)[number];

export interface ApiKeyRecord {
  href: string;
  key_id: string;
  auth_username: string;
  name: string;
  description: string;
  role: Role;
  created_at: string;
}

export interface User {
  href: string;
  username: string;
  full_name: string;
  created_at: string;
}

export interface NewApiKey {
  record: ApiKeyRecord;
  /** Shown once; only its hash is kept. */
  secret: string;
}

/** SHA-256 of a high-entropy secret, hex. Shared with agents.ts. */
export const hashSecret = (secret: string): string => createHash('sha256').update(secret).digest('hex');

/** Constant-time comparison of a secret with a stored hash. */
export function secretMatches(secret: string, storedHash: string): boolean {
  const want = Buffer.from(storedHash, 'hex');
  const got = Buffer.from(hashSecret(secret), 'hex');
  return want.length === got.length && timingSafeEqual(want, got);
}

/** The user that owns keys made by the CLI and at first start. */
export async function ensureOwnerUser(store: Store): Promise<User> {
  const found = await store.getDoc<User>('users', '1');
  if (found) return found;
  const user: User = {
    href: '/users/1',
    username: 'owner',
    full_name: 'PCE owner',
    created_at: new Date().toISOString(),
  };
  await store.insertDoc('users', '1', user, { username: user.username });
  return user;
}

export async function createApiKey(
  store: Store,
  userId: string,
  role: Role,
  name: string,
  description = '',
): Promise<NewApiKey> {
  const keyId = randomBytes(8).toString('hex');
  const authUsername = `api_${randomBytes(8).toString('hex')}`;
  const secret = randomBytes(32).toString('hex');
  const record: ApiKeyRecord = {
    href: `/users/${userId}/api_keys/${keyId}`,
    key_id: keyId,
    auth_username: authUsername,
    name,
    description,
    role,
    created_at: new Date().toISOString(),
  };
  const t = record.created_at;
  await store.db
    .insertInto('api_keys')
    .values({
      id: keyId,
      auth_username: authUsername,
      secret_hash: hashSecret(secret),
      user_id: userId,
      role,
      body: JSON.stringify(record),
      created_at: t,
      updated_at: t,
    })
    .execute();
  return { record, secret };
}

/** The key whose username and secret match, or undefined. Constant-time on the secret. */
export async function verifyApiKey(
  store: Store,
  authUsername: string,
  secret: string,
): Promise<(ApiKeyRecord & { user_id: string }) | undefined> {
  const row = await store.db
    .selectFrom('api_keys')
    .select(['secret_hash', 'body', 'user_id'])
    .where('auth_username', '=', authUsername)
    .executeTakeFirst();
  if (!row || !secretMatches(secret, row.secret_hash)) return undefined;
  return { ...(JSON.parse(row.body) as ApiKeyRecord), user_id: row.user_id };
}

export async function listApiKeys(store: Store, userId: string): Promise<ApiKeyRecord[]> {
  const rows = await store.db
    .selectFrom('api_keys')
    .select('body')
    .where('user_id', '=', userId)
    .orderBy('created_at')
    .execute();
  return rows.map((r) => JSON.parse(r.body) as ApiKeyRecord);
}

export async function deleteApiKey(store: Store, userId: string, keyId: string): Promise<boolean> {
  const r = await store.db
    .deleteFrom('api_keys')
    .where('user_id', '=', userId)
    .where('id', '=', keyId)
    .executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}
