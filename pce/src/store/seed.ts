// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * What a new PCE starts with: the owner user, the label keys role, app, env
 * and loc, the built-in "All Services" service and "Any (0.0.0.0/0 and ::/0)"
 * IP list (in the draft and in row version -1, the active policy before the
 * first provision), and the workload settings. Idempotent.
 */
import { ALL_SERVICES_NAME, ANY_IP_LIST_NAME, BUILTIN_LABEL_KEYS } from '../api/policy-objects.js';
import type { IpList, LabelDimension, Service } from '../api/policy-objects.js';
import { ensureOwnerUser } from './api-keys.js';
import { openSqlite } from './db.js';
import { Store } from './store.js';

/** Row version holding the built-ins as the active policy before version 1. */
export const BASE_VERSION = -1;

export const DEFAULT_WORKLOAD_SETTINGS = {
  href: '/orgs/1/settings/workloads',
  workload_disconnected_timeout_seconds: [{ scope: [], value: 3600 }],
  workload_goodbye_timeout_seconds: [{ scope: [], value: 900 }],
};

export async function seed(store: Store): Promise<void> {
  await store.tx(async (s) => {
    await ensureOwnerUser(s);
    for (const key of BUILTIN_LABEL_KEYS) {
      if ((await s.getDoc('label_dimensions', key)) !== undefined) continue;
      const at = new Date().toISOString();
      const dim: LabelDimension = {
        href: `/orgs/1/label_dimensions/${key}`,
        key,
        display_name: key[0]!.toUpperCase() + key.slice(1),
        display_info: {},
        created_at: at,
        updated_at: at,
      };
      await s.insertDoc('label_dimensions', key, dim, { key });
    }
    if ((await s.getPolicy('services', '1', BASE_VERSION)) === undefined) {
      const at = new Date().toISOString();
      const all: Service = {
        href: '/orgs/1/sec_policy/draft/services/1',
        name: ALL_SERVICES_NAME,
        description: 'Every protocol and port (built in)',
        process_name: null,
        service_ports: [{ proto: -1 }],
        created_at: at,
        updated_at: at,
        update_type: null,
      };
      const any: IpList = {
        href: '/orgs/1/sec_policy/draft/ip_lists/1',
        name: ANY_IP_LIST_NAME,
        description: 'Every IPv4 and IPv6 address (built in)',
        ip_ranges: [
          { from_ip: '0.0.0.0/0', exclusion: false },
          { from_ip: '::/0', exclusion: false },
        ],
        fqdns: [],
        created_at: at,
        updated_at: at,
        update_type: null,
      };
      for (const v of [0, BASE_VERSION]) {
        await s.setVersionObject('services', '1', v, JSON.stringify(all));
        await s.setVersionObject('ip_lists', '1', v, JSON.stringify(any));
      }
      await s.nextId('services');
      await s.nextId('ip_lists');
    }
    if ((await s.getDoc('settings', 'workloads')) === undefined)
      await s.insertDoc('settings', 'workloads', DEFAULT_WORKLOAD_SETTINGS);
  });
}

/** Hrefs of the built-in objects, which cannot be changed or deleted. */
export const BUILTIN_HREFS = new Set(['/orgs/1/sec_policy/draft/services/1', '/orgs/1/sec_policy/draft/ip_lists/1']);

/** Open the data directory's database, migrated and seeded. */
export async function openStore(file: string): Promise<Store> {
  const store = new Store(await openSqlite(file));
  await seed(store);
  return store;
}
