// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Wire shapes of the inventory: workloads (nodes and unmanaged workloads),
 * container clusters, container workload profiles, container workloads,
 * pairing profiles, events, API keys and settings.
 *
 * Owns: field names as Illumio Core REST API v2 has them
 * (shared/reference/ILLUMIO.md §4, §5.5). Must not import: anything with I/O.
 * These objects take effect at once (never provisioned: POLICY.md).
 */
import { Type, type Static } from '@sinclair/typebox';
import type { LabelSummary } from './policy-objects.js';

/** Enforcement modes (DESIGN.md "Enforcement modes"; POLICY.md "Deciding a flow"). */
export const ENFORCEMENT_MODES = ['idle', 'visibility_only', 'selective', 'full'] as const;
export type EnforcementMode = (typeof ENFORCEMENT_MODES)[number];
export const EnforcementModeSchema = Type.Union(ENFORCEMENT_MODES.map((m) => Type.Literal(m)));

/** Visibility levels (Illumio §3.2). */
export const VISIBILITY_LEVELS = [
  'flow_full_detail',
  'flow_summary',
  'flow_drops',
  'flow_off',
  'enhanced_data_collection',
] as const;
export type VisibilityLevel = (typeof VISIBILITY_LEVELS)[number];
export const VisibilityLevelSchema = Type.Union(VISIBILITY_LEVELS.map((m) => Type.Literal(m)));
export type EnforcementModeValue = Static<typeof EnforcementModeSchema>;

/** A container cluster (Illumio §4.3). Its token is shown only in the creation answer. */
export interface ContainerCluster {
  href: string;
  name: string;
  description: string | null;
  manager_type: string | null;
  last_connected: string | null;
  kubelink_version: string | null;
  online: boolean;
  container_runtime: string | null;
  nodes: { name: string; pod_subnet: string | null; machine_id: string | null }[];
  pod_networks: string[];
  service_networks: string[];
  errors: { token: string; message: string }[];
  /** Kubernetes label key → Bulkhead label key, for pods and for nodes. */
  label_map: { pods: Record<string, string>; nodes: Record<string, string> };
  created_at: string;
  updated_at: string;
}

/** One label rule of a profile: a fixed assignment, or the labels annotations may pick. */
export interface ProfileLabel {
  key: string;
  assignment?: LabelSummary;
  restriction?: LabelSummary[];
}

export interface ContainerWorkloadProfile {
  href: string;
  name: string | null;
  namespace: string | null;
  description: string | null;
  managed: boolean;
  enforcement_mode: EnforcementMode;
  visibility_level: VisibilityLevel;
  labels: ProfileLabel[];
  linked: boolean;
  created_at: string;
  updated_at: string;
}
