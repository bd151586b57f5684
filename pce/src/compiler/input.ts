// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * What the policy compiler reads: one policy version's content and the
 * workload inventory, in plain shapes the store (or a test) builds.
 *
 * Owns: the compiler's input contract. Pure types.
 * Must not import: ../store, ../http, fastify, node:*.
 * Semantics: shared/POLICY.md. Output: pce/src/api/node-policy.ts.
 */
import type { EnforcementMode, VisibilityLevel } from '../api/inventory-objects.js';
import type { LabelSummary, PolicyContent } from '../api/policy-objects.js';

/** A policy version and the inventory it is compiled against. */
export interface CompileInput {
  /** Policy version number (0: the draft); copied into every `NodePolicy`. */
  version: number;
  policy: PolicyContent;
  inventory: Inventory;
}

export interface Inventory {
  /** Every label, so label terms know their key. */
  labels: LabelSummary[];
  workloads: InventoryWorkload[];
}

/** One workload as the compiler sees it. */
export interface InventoryWorkload {
  href: string;
  name: string;
  kind: 'node' | 'unmanaged' | 'container_workload';
  /** Label hrefs (at most one per key). */
  labels: string[];
  /** Plain IPv4/IPv6 addresses (no prefix). */
  addresses: string[];
  /** Unmanaged workloads enforce nothing: treated as `idle`. */
  enforcement_mode: EnforcementMode;
  /** Which flows it reports; absent: `flow_summary` (the default). Copied into its `WorkloadPolicy`. */
  visibility_level?: VisibilityLevel;
  /**
   * Href of the node workload that hosts it: a container workload's node; a
   * node: its own href; unmanaged: null.
   */
  node: string | null;
}
