// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Compiled policy as the PCE sends it to a node's C-VEN: one `NodePolicy`
 * per node, holding the inbound and outbound entries of the node itself and
 * of every container workload it hosts, and the named address sets those
 * entries refer to. The C-VEN renders it to nftables (`table inet bulkhead`,
 * sets `lg_*`); the evaluator (`evaluate.ts`) decides flows over it.
 *
 * Owns: the field names and meaning of the compiled policy. Plain JSON, snake
 * case, no optional field whose absence is ambiguous (each says what its
 * absence means). Producer: pce/src/compiler (equal input gives
 * byte-identical JSON: arrays are sorted and objects built in the key order
 * written here). Consumers: cven/src/policy, cven/src/nft, the PCE's
 * policy_check, the tests.
 * Must not import: anything with I/O. Semantics: shared/POLICY.md.
 */
import type { EnforcementMode, VisibilityLevel } from './inventory-objects.js';

/** What one node's C-VEN enforces. */
export interface NodePolicy {
  /** Href of the node workload. */
  node: string;
  /** Active policy version this was compiled from (0: the draft). */
  policy_version: number;
  /**
   * The address sets the entries below name, by set name, keys in ascending
   * order. Only sets referenced by this node's entries are present.
   */
  sets: Record<string, AddressSet>;
  /**
   * The node itself (when it enforces) and every enforcing container workload
   * it hosts, sorted by href (`compareHrefs`). Workloads in `idle` mode, and
   * unmanaged workloads, enforce nothing and are never listed.
   */
  workloads: WorkloadPolicy[];
}

/**
 * A named set of peers: the workloads one resolved actor list selects, as
 * their addresses, plus IP-list ranges and virtual-service addresses.
 *
 * Lifecycle: the name is a stable hash of the canonical resolved selector
 * (`lg_` + 12 lowercase hex digits), so the same selector always has the same
 * name and is shared by every entry and workload that uses it; a workload
 * starting or stopping changes the set's elements, never the entries.
 */
export interface AddressSet {
  /** `lg_<12 hex>`; also the key under `NodePolicy.sets`. */
  name: string;
  /**
   * Normalized elements: sorted (IPv4 before IPv6, then numerically),
   * non-overlapping and non-adjacent. Each is `addr/len` when it is exactly a
   * CIDR block (a single address is `/32` or `/128`), else `first-last`
   * (inclusive). Parse with `parseInterval` (pce/src/api/ip.ts).
   * IP-list FQDN entries are not enforced yet and never appear here.
   */
  addresses: string[];
  /** Hrefs of the member workloads (managed or not), sorted (`compareHrefs`). */
  workloads: string[];
}

/** The compiled policy of one workload. */
export interface WorkloadPolicy {
  href: string;
  kind: 'node' | 'unmanaged' | 'container_workload';
  enforcement_mode: EnforcementMode;
  /**
   * Which of its flows the agent reports (`reportsFlow`): the workload's own
   * level (a container workload's comes from its profile, a node's from its
   * workload, set from its pairing profile).
   */
  visibility_level: VisibilityLevel;
  /** The workload's own addresses (plain IPv4/IPv6, no prefix), as the inventory has them, sorted as text. */
  addresses: string[];
  /** Entries for connections this workload accepts (it is the provider). */
  inbound: PolicyEntry[];
  /** Entries for connections this workload opens (it is the consumer). */
  outbound: PolicyEntry[];
}

/** What an entry does with a matching connection (POLICY.md "Deciding a flow"). */
export type PolicyAction = 'override_deny' | 'allow' | 'deny';

/**
 * One compiled rule at one end. It matches a connection when the peer is in
 * any of `peers` and the service matches any of `services`.
 *
 * Sorted by precedence of `action` (override_deny, allow, deny), then `rule`
 * (`compareHrefs`), then services, then peers.
 */
export interface PolicyEntry {
  action: PolicyAction;
  /** Names of address sets (keys of `NodePolicy.sets`), sorted; the peer is in at least one. */
  peers: string[];
  /** Sorted; never empty. `[{ proto: -1 }]` matches every service. */
  services: ServiceMatch[];
  /** Href of the allow or deny rule this entry came from (nft rule comment). */
  rule: string;
}

/**
 * A port/protocol match. Absent fields match anything: `{ proto: 6 }` is
 * every TCP port.
 */
export interface ServiceMatch {
  /** IANA protocol number; -1 matches every protocol (and no other field is set). */
  proto: number;
  /** First destination port (TCP, UDP and other port protocols). */
  port?: number;
  /** Last destination port of a range, inclusive; only with `port`, and `> port`. */
  to_port?: number;
  /** ICMP/ICMPv6 type (proto 1 or 58). */
  icmp_type?: number;
  /** ICMP/ICMPv6 code; only with `icmp_type`. */
  icmp_code?: number;
}
