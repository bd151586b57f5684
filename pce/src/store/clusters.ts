// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Container cluster tokens (Kubelink's credential): only their SHA-256 is
 * kept (`container_clusters.token_hash`); tokens are random (256 bits), so
 * a fast hash suffices. Verification is constant-time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Store } from './store.js';

export function hashClusterToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** True when `token` is the token of cluster `clusterId`. */
export async function verifyClusterToken(store: Store, clusterId: string, token: string): Promise<boolean> {
  const row = await store.db
    .selectFrom('container_clusters')
    .select('token_hash')
    .where('id', '=', clusterId)
    .executeTakeFirst();
  if (!row) return false;
  const a = Buffer.from(row.token_hash, 'hex');
  const b = Buffer.from(hashClusterToken(token), 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
