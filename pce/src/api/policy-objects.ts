// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Wire shapes of the policy objects: labels, label dimensions, label groups,
 * services, IP lists, virtual services, rulesets and their allow and deny
 * rules. JSON Schemas (TypeBox) and the TypeScript types inferred from them.
 *
 * Owns: field names and types as Illumio Core REST API v2 has them
 * (shared/reference/ILLUMIO.md §2, §5), so existing scripts work.
 * Must not import: anything with I/O.
 * Semantics of actors, scopes and rules: shared/POLICY.md.
 *
 * Every `...Write` schema is what POST accepts; PUT accepts the same fields,
 * all optional. Read-only fields a client may echo back (`href`,
 * `created_at`, ...) are accepted and ignored.
 */
import { Type, type Static, type TObject, type TProperties } from '@sinclair/typebox';

/** A reference to another object by href. */
export const HrefRef = Type.Object({ href: Type.String({ minLength: 1 }) }, { additionalProperties: false });
export type HrefRef = Static<typeof HrefRef>;

/** Fields the server sets; accepted on input (clients echo them) and ignored. */
export const readOnlyFields = {
  href: Type.Optional(Type.String()),
  created_at: Type.Optional(Type.String()),
  updated_at: Type.Optional(Type.String()),
  deleted_at: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  created_by: Type.Optional(Type.Unknown()),
  updated_by: Type.Optional(Type.Unknown()),
  deleted_by: Type.Optional(Type.Unknown()),
  update_type: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  caps: Type.Optional(Type.Unknown()),
  deleted: Type.Optional(Type.Boolean()),
  usage: Type.Optional(Type.Unknown()),
};
export const READ_ONLY_FIELD_NAMES = Object.keys(readOnlyFields);

/** Strict object: unknown fields are refused (406 naming them). */
export function strictObject<T extends TProperties>(props: T): TObject<T> {
  return Type.Object(props, { additionalProperties: false });
}

/** The same object with every property optional (for PUT). */
export function partialOf<T extends TProperties>(schema: TObject<T>) {
  return Type.Partial(schema, { additionalProperties: false });
}

// ---------------------------------------------------------------- labels

/** Label keys: no spaces (Illumio), lowercase letters, digits, `_` and `-`. */
export const LABEL_KEY_PATTERN = '^[a-z][a-z0-9_-]{0,63}$';
/** The keys that exist from the start (POLICY.md "Identity"). */
export const BUILTIN_LABEL_KEYS = ['role', 'app', 'env', 'loc'] as const;
/** Most label keys an org may have (POLICY.md). */
export const MAX_LABEL_KEYS = 20;

export const LabelWrite = strictObject({
  ...readOnlyFields,
  key: Type.String({ pattern: LABEL_KEY_PATTERN }),
  value: Type.String({ minLength: 1, maxLength: 255 }),
  external_data_set: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  external_data_reference: Type.Optional(Type.Union([Type.String(), Type.Null()])),
});
export type LabelWrite = Static<typeof LabelWrite>;

export interface Label {
  href: string;
  key: string;
  value: string;
  external_data_set: string | null;
  external_data_reference: string | null;
  created_at: string;
  updated_at: string;
  created_by: HrefRef;
  updated_by: HrefRef;
}

/** A label as it appears inside a workload or flow: `{href, key, value}`. */
export interface LabelSummary {
  href: string;
  key: string;
  value: string;
}

export const LabelDimensionWrite = strictObject({
  ...readOnlyFields,
  key: Type.String({ pattern: LABEL_KEY_PATTERN }),
  display_name: Type.String({ minLength: 1, maxLength: 255 }),
  display_info: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});
export type LabelDimensionWrite = Static<typeof LabelDimensionWrite>;

export interface LabelDimension {
  href: string;
  key: string;
  display_name: string;
  display_info: Record<string, unknown>;
  created_at: string;
  updated_at: string;
}

export const LabelGroupWrite = strictObject({
  ...readOnlyFields,
  name: Type.String({ minLength: 1, maxLength: 255 }),
  key: Type.String({ pattern: LABEL_KEY_PATTERN }),
  description: Type.Optional(Type.String({ maxLength: 4096 })),
  labels: Type.Optional(Type.Array(HrefRef)),
  sub_groups: Type.Optional(
    Type.Array(strictObject({ href: Type.String({ minLength: 1 }), name: Type.Optional(Type.String()) })),
  ),
});
export type LabelGroupWrite = Static<typeof LabelGroupWrite>;

export interface LabelGroup {
  href: string;
  name: string;
  key: string;
  description: string;
  labels: LabelSummary[];
  sub_groups: { href: string; name: string }[];
  created_at: string;
  updated_at: string;
  update_type: UpdateType;
}

/** Policy object hrefs in any version (`active`, `7`) become their draft form. */
export function toDraftHref(href: string): string {
  return href.replace(/^\/orgs\/1\/sec_policy\/(?:active|\d+)\//, '/orgs/1/sec_policy/draft/');
}

/** Pending state of a provisionable object in the draft. `null`: unchanged. */
export type UpdateType = 'create' | 'update' | 'delete' | null;

// ---------------------------------------------------------------- services

/** IANA protocol numbers used by name in the code. `-1` is "all protocols". */
export const PROTO = { ALL: -1, ICMP: 1, TCP: 6, UDP: 17, ICMPV6: 58 } as const;

export const ServicePort = strictObject({
  proto: Type.Integer({ minimum: -1, maximum: 255 }),
  port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  to_port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  icmp_type: Type.Optional(Type.Integer({ minimum: 0, maximum: 255 })),
  icmp_code: Type.Optional(Type.Integer({ minimum: 0, maximum: 255 })),
});
export type ServicePort = Static<typeof ServicePort>;

export const ServiceWrite = strictObject({
  ...readOnlyFields,
  name: Type.String({ minLength: 1, maxLength: 255 }),
  description: Type.Optional(Type.String({ maxLength: 4096 })),
  process_name: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  service_ports: Type.Optional(Type.Array(ServicePort)),
  external_data_set: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  external_data_reference: Type.Optional(Type.Union([Type.String(), Type.Null()])),
});
export type ServiceWrite = Static<typeof ServiceWrite>;

export interface Service {
  href: string;
  name: string;
  description: string;
  process_name: string | null;
  service_ports: ServicePort[];
  created_at: string;
  updated_at: string;
  update_type: UpdateType;
}

/** Name of the built-in service that matches everything (proto -1). */
export const ALL_SERVICES_NAME = 'All Services';

// ---------------------------------------------------------------- IP lists

export const IpRange = strictObject({
  from_ip: Type.String({ minLength: 1 }),
  to_ip: Type.Optional(Type.String({ minLength: 1 })),
  exclusion: Type.Optional(Type.Boolean()),
  description: Type.Optional(Type.String()),
});
export type IpRange = Static<typeof IpRange>;

export const Fqdn = strictObject({
  fqdn: Type.String({ minLength: 1, maxLength: 255 }),
  description: Type.Optional(Type.String()),
});

export const IpListWrite = strictObject({
  ...readOnlyFields,
  name: Type.String({ minLength: 1, maxLength: 255 }),
  description: Type.Optional(Type.String({ maxLength: 4096 })),
  ip_ranges: Type.Optional(Type.Array(IpRange)),
  fqdns: Type.Optional(Type.Array(Fqdn)),
  external_data_set: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  external_data_reference: Type.Optional(Type.Union([Type.String(), Type.Null()])),
});
export type IpListWrite = Static<typeof IpListWrite>;

export interface IpList {
  href: string;
  name: string;
  description: string;
  ip_ranges: IpRange[];
  fqdns: { fqdn: string; description?: string }[];
  created_at: string;
  updated_at: string;
  update_type: UpdateType;
}

/** Name of the built-in IP list of every address. */
export const ANY_IP_LIST_NAME = 'Any (0.0.0.0/0 and ::/0)';

// ---------------------------------------------------------------- virtual services

export const ServiceAddress = strictObject({
  ip: Type.Optional(Type.String()),
  port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  fqdn: Type.Optional(Type.String()),
  description: Type.Optional(Type.String()),
});

export const VirtualServiceWrite = strictObject({
  ...readOnlyFields,
  name: Type.String({ minLength: 1, maxLength: 255 }),
  description: Type.Optional(Type.String({ maxLength: 4096 })),
  apply_to: Type.Optional(Type.Union([Type.Literal('host_only'), Type.Literal('internal_bridge_network')])),
  service: Type.Optional(Type.Union([HrefRef, Type.Null()])),
  service_ports: Type.Optional(Type.Array(ServicePort)),
  service_addresses: Type.Optional(Type.Array(ServiceAddress)),
  labels: Type.Optional(Type.Array(HrefRef)),
  ip_overrides: Type.Optional(Type.Array(Type.String())),
  external_data_set: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  external_data_reference: Type.Optional(Type.Union([Type.String(), Type.Null()])),
});
export type VirtualServiceWrite = Static<typeof VirtualServiceWrite>;

export interface VirtualService {
  href: string;
  name: string;
  description: string;
  apply_to: 'host_only' | 'internal_bridge_network';
  service: HrefRef | null;
  service_ports: ServicePort[];
  service_addresses: { ip?: string; port?: number; fqdn?: string; description?: string }[];
  labels: LabelSummary[];
  ip_overrides: string[];
  /**
   * Workloads behind the virtual service (service bindings). Kept by Kubelink
   * for Kubernetes services; empty for ones users made until bound.
   */
  backends: HrefRef[];
  /** `user` (provisionable) or `kubelink` (takes effect at once, not editable). */
  managed_by: 'user' | 'kubelink';
  created_at: string;
  updated_at: string;
  update_type: UpdateType;
}

// ---------------------------------------------------------------- actors, rules, rulesets

/**
 * One actor of a rule side or a scope. Exactly one selector field is set
 * (`actors`, `label`, `label_group`, `workload`, `ip_list`,
 * `virtual_service`); `exclusion: true` removes what it selects.
 */
export const Actor = strictObject({
  actors: Type.Optional(Type.Union([Type.Literal('ams'), Type.Literal('container_host')])),
  label: Type.Optional(HrefRef),
  label_group: Type.Optional(HrefRef),
  workload: Type.Optional(HrefRef),
  ip_list: Type.Optional(HrefRef),
  virtual_service: Type.Optional(HrefRef),
  exclusion: Type.Optional(Type.Boolean()),
});
export type Actor = Static<typeof Actor>;

/** The selector fields of an actor, in the order they are checked. */
export const ACTOR_KINDS = ['actors', 'label', 'label_group', 'workload', 'ip_list', 'virtual_service'] as const;
export type ActorKind = (typeof ACTOR_KINDS)[number];

/** A scope: label and label-group terms only (POLICY.md "Rulesets and scopes"). */
export const ScopeTerm = strictObject({
  label: Type.Optional(HrefRef),
  label_group: Type.Optional(HrefRef),
  exclusion: Type.Optional(Type.Boolean()),
});
export type ScopeTerm = Static<typeof ScopeTerm>;

/** A rule's service: a service by href, or inline port/proto. */
export const IngressService = strictObject({
  href: Type.Optional(Type.String({ minLength: 1 })),
  proto: Type.Optional(Type.Integer({ minimum: -1, maximum: 255 })),
  port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  to_port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  icmp_type: Type.Optional(Type.Integer({ minimum: 0, maximum: 255 })),
  icmp_code: Type.Optional(Type.Integer({ minimum: 0, maximum: 255 })),
});
export type IngressService = Static<typeof IngressService>;

export const ResolveAs = Type.Array(Type.Union([Type.Literal('workloads'), Type.Literal('virtual_services')]), {
  uniqueItems: true,
});
export const ResolveLabelsAs = strictObject({
  providers: ResolveAs,
  consumers: ResolveAs,
});
export type ResolveLabelsAs = Static<typeof ResolveLabelsAs>;

const ruleCommon = {
  ...readOnlyFields,
  enabled: Type.Optional(Type.Boolean()),
  description: Type.Optional(Type.Union([Type.String({ maxLength: 4096 }), Type.Null()])),
  providers: Type.Array(Actor),
  consumers: Type.Array(Actor),
  ingress_services: Type.Optional(Type.Array(IngressService)),
  resolve_labels_as: Type.Optional(ResolveLabelsAs),
  unscoped_consumers: Type.Optional(Type.Boolean()),
  external_data_set: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  external_data_reference: Type.Optional(Type.Union([Type.String(), Type.Null()])),
};

export const SecRuleWrite = strictObject({
  ...ruleCommon,
  sec_connect: Type.Optional(Type.Boolean()),
  stateless: Type.Optional(Type.Boolean()),
  machine_auth: Type.Optional(Type.Boolean()),
  network_type: Type.Optional(Type.Union([Type.Literal('brn'), Type.Literal('non_brn'), Type.Literal('all')])),
  use_workload_subnets: Type.Optional(Type.Array(Type.String())),
  consuming_security_principals: Type.Optional(Type.Array(Type.Unknown())),
});
export type SecRuleWrite = Static<typeof SecRuleWrite>;

export const DenyRuleWrite = strictObject({
  ...ruleCommon,
  override: Type.Optional(Type.Boolean()),
  network_type: Type.Optional(Type.Union([Type.Literal('brn'), Type.Literal('non_brn'), Type.Literal('all')])),
});
export type DenyRuleWrite = Static<typeof DenyRuleWrite>;

/** An allow rule as stored and returned. */
export interface SecRule {
  href: string;
  enabled: boolean;
  description: string | null;
  providers: Actor[];
  consumers: Actor[];
  ingress_services: IngressService[];
  resolve_labels_as: ResolveLabelsAs;
  unscoped_consumers: boolean;
  sec_connect: boolean;
  stateless: boolean;
  machine_auth: boolean;
  network_type: 'brn' | 'non_brn' | 'all';
  created_at: string;
  updated_at: string;
  update_type: UpdateType;
}

/** A deny rule (`override: true` makes it an override-deny rule). */
export interface DenyRule {
  href: string;
  enabled: boolean;
  description: string | null;
  providers: Actor[];
  consumers: Actor[];
  ingress_services: IngressService[];
  resolve_labels_as: ResolveLabelsAs;
  unscoped_consumers: boolean;
  override: boolean;
  network_type: 'brn' | 'non_brn' | 'all';
  created_at: string;
  updated_at: string;
  update_type: UpdateType;
}

export const RuleSetWrite = strictObject({
  ...readOnlyFields,
  name: Type.String({ minLength: 1, maxLength: 255 }),
  description: Type.Optional(Type.Union([Type.String({ maxLength: 4096 }), Type.Null()])),
  enabled: Type.Optional(Type.Boolean()),
  scopes: Type.Optional(Type.Array(Type.Array(ScopeTerm))),
  rules: Type.Optional(Type.Array(SecRuleWrite)),
  deny_rules: Type.Optional(Type.Array(DenyRuleWrite)),
  ip_tables_rules: Type.Optional(Type.Array(Type.Unknown(), { maxItems: 0 })),
  external_data_set: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  external_data_reference: Type.Optional(Type.Union([Type.String(), Type.Null()])),
});
export type RuleSetWrite = Static<typeof RuleSetWrite>;

export interface RuleSet {
  href: string;
  name: string;
  description: string | null;
  enabled: boolean;
  scopes: ScopeTerm[][];
  rules: SecRule[];
  deny_rules: DenyRule[];
  ip_tables_rules: [];
  created_at: string;
  updated_at: string;
  update_type: UpdateType;
}

// ---------------------------------------------------------------- policy versions

/** The provisionable collections, as `change_subset` names them. */
export const PROVISIONABLE_KINDS = ['rule_sets', 'label_groups', 'services', 'ip_lists', 'virtual_services'] as const;
export type ProvisionableKind = (typeof PROVISIONABLE_KINDS)[number];

/** The whole content of one policy version (draft or active). */
export interface PolicyContent {
  rule_sets: RuleSet[];
  label_groups: LabelGroup[];
  services: Service[];
  ip_lists: IpList[];
  virtual_services: VirtualService[];
}

export const ProvisionRequest = strictObject({
  update_description: Type.Optional(Type.String({ maxLength: 4096 })),
  change_subset: Type.Optional(
    strictObject({
      rule_sets: Type.Optional(Type.Array(HrefRef)),
      label_groups: Type.Optional(Type.Array(HrefRef)),
      services: Type.Optional(Type.Array(HrefRef)),
      ip_lists: Type.Optional(Type.Array(HrefRef)),
      virtual_services: Type.Optional(Type.Array(HrefRef)),
      virtual_servers: Type.Optional(Type.Array(HrefRef, { maxItems: 0 })),
      firewall_settings: Type.Optional(Type.Array(HrefRef, { maxItems: 0 })),
      enforcement_boundaries: Type.Optional(Type.Array(HrefRef, { maxItems: 0 })),
      secure_connect_gateways: Type.Optional(Type.Array(HrefRef, { maxItems: 0 })),
    }),
  ),
});
export type ProvisionRequest = Static<typeof ProvisionRequest>;

export interface PolicyVersion {
  href: string;
  version: number;
  commit_message: string;
  created_at: string;
  created_by: HrefRef & { name?: string };
  workloads_affected: number;
  object_counts: Record<ProvisionableKind, number>;
}
