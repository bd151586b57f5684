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
import type { PolicyDecision } from './evaluate.js';
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

/**
 * Whether a workload at visibility `level` reports a flow with `decision`
 * (Illumio §3.2; the C-VEN applies it when it aggregates, per local end):
 * 1. `flow_off` — nothing;
 * 2. `flow_drops` — what was not allowed: `blocked`, `potentially_blocked`,
 *    and `unknown` (ours: a flow whose decision is unknown may be a drop);
 * 3. `flow_summary` (the default), `flow_full_detail`,
 *    `enhanced_data_collection` — every flow (ours: bytes are reported at
 *    every level that reports; the probe counts them anyway).
 */
export function reportsFlow(level: VisibilityLevel, decision: PolicyDecision): boolean {
  if (level === 'flow_off') return false;
  if (level === 'flow_drops') return decision !== 'allowed';
  return true;
}

/**
 * Why an enforcement mode and a visibility level cannot go together, or
 * null: `flow_off` only with `full` (Illumio §3.2: turning visibility off is
 * allowed only where everything not allowed is blocked anyway). `field` is
 * the one the caller set, which the message addresses.
 */
export function visibilityConflict(
  mode: EnforcementMode,
  level: VisibilityLevel,
  field: 'enforcement_mode' | 'visibility_level',
): string | null {
  if (level !== 'flow_off' || mode === 'full') return null;
  return field === 'visibility_level'
    ? `flow_off is allowed only with enforcement_mode full (here ${mode}); use flow_drops or flow_summary, or set enforcement_mode full`
    : `${mode} cannot go with visibility_level flow_off, which is allowed only in full; set visibility_level to flow_drops or flow_summary in the same request`;
}
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
