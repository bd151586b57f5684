// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Validation and normalisation of the provisionable objects: label groups,
 * services, IP lists, virtual services, rulesets and their allow and deny
 * rules. Turns what a client wrote into what is stored.
 *
 * Owns: the 406 rules of POLICY.md (empty providers/consumers refused, services
 * required when providers resolve as workloads, `container_host` only as an
 * extra-scope consumer, exactly one selector per actor, one key per label
 * group), and every message naming the field path.
 * Must not: do I/O (lookups are passed in through `Lookup`).
 */
import { invalid } from '../api/errors.js';
import type {
  Actor,
  DenyRule,
  DenyRuleWrite,
  IngressService,
  IpList,
  IpListWrite,
  IpRange,
  LabelGroup,
  LabelGroupWrite,
  ResolveLabelsAs,
  RuleSet,
  RuleSetWrite,
  ScopeTerm,
  SecRule,
  SecRuleWrite,
  Service,
  ServicePort,
  ServiceWrite,
  VirtualService,
  VirtualServiceWrite,
} from '../api/policy-objects.js';
import { ACTOR_KINDS, PROTO } from '../api/policy-objects.js';
import { parseAddress } from './address.js';
import { checkRef, type Lookup } from './refs.js';

type Stamp = { created_at: string; updated_at: string };

/** Fields every stored object keeps from its previous version. */
function stamps(prev: Stamp | undefined, at: string): Stamp {
  return { created_at: prev?.created_at ?? at, updated_at: at };
}

// ---------------------------------------------------------------- services

/** Check one port/protocol entry; `field` is its path. */
export function checkServicePort(field: string, p: Partial<ServicePort>): void {
  if (p.proto === undefined) throw invalid(`${field}.proto`, 'is required (IANA number, -1 for all)');
  const hasPorts = p.port !== undefined || p.to_port !== undefined;
  if (hasPorts && p.proto !== PROTO.TCP && p.proto !== PROTO.UDP)
    throw invalid(`${field}.port`, `ports apply only to TCP (6) and UDP (17), not proto ${p.proto}`);
  if (p.to_port !== undefined && p.port === undefined)
    throw invalid(`${field}.to_port`, 'needs `port` (the range start)');
  if (p.to_port !== undefined && p.port !== undefined && p.to_port < p.port)
    throw invalid(`${field}.to_port`, `${p.to_port} is below port ${p.port}`);
  const hasIcmp = p.icmp_type !== undefined || p.icmp_code !== undefined;
  if (hasIcmp && p.proto !== PROTO.ICMP && p.proto !== PROTO.ICMPV6)
    throw invalid(`${field}.icmp_type`, `ICMP type and code apply only to proto 1 or 58, not ${p.proto}`);
  if (p.icmp_code !== undefined && p.icmp_type === undefined) throw invalid(`${field}.icmp_code`, 'needs `icmp_type`');
  if (p.icmp_code !== undefined && p.icmp_code > 15) throw invalid(`${field}.icmp_code`, 'must be 0-15');
}

function cleanPort(p: ServicePort): ServicePort {
  const out: ServicePort = { proto: p.proto };
  if (p.port !== undefined) out.port = p.port;
  if (p.to_port !== undefined) out.to_port = p.to_port;
  if (p.icmp_type !== undefined) out.icmp_type = p.icmp_type;
  if (p.icmp_code !== undefined) out.icmp_code = p.icmp_code;
  return out;
}

export function buildService(href: string, w: ServiceWrite, prev: Service | undefined, at: string): Service {
  const ports = w.service_ports ?? prev?.service_ports ?? [];
  ports.forEach((p, i) => checkServicePort(`service_ports[${i}]`, p));
  return {
    href,
    name: w.name ?? prev?.name ?? '',
    description: w.description ?? prev?.description ?? '',
    process_name: w.process_name !== undefined ? w.process_name : (prev?.process_name ?? null),
    service_ports: ports.map(cleanPort),
    ...stamps(prev, at),
    update_type: null,
  };
}

// ---------------------------------------------------------------- IP lists

function checkRange(field: string, r: IpRange): void {
  const from = parseAddress(r.from_ip, true);
  if (!from) throw invalid(`${field}.from_ip`, `"${r.from_ip}" is not an IPv4/IPv6 address or CIDR`);
  if (r.to_ip === undefined) return;
  if (from.prefix !== undefined) throw invalid(`${field}.to_ip`, 'a CIDR in from_ip cannot have a to_ip');
  const to = parseAddress(r.to_ip, false);
  if (!to) throw invalid(`${field}.to_ip`, `"${r.to_ip}" is not an IP address`);
  if (to.family !== from.family) throw invalid(`${field}.to_ip`, 'from_ip and to_ip must be the same IP version');
  if (to.value < from.value) throw invalid(`${field}.to_ip`, `${r.to_ip} is below from_ip ${r.from_ip}`);
}

const FQDN_PATTERN = /^(\*\.)*([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.?$/i;

export function buildIpList(href: string, w: IpListWrite, prev: IpList | undefined, at: string): IpList {
  const ranges = w.ip_ranges ?? prev?.ip_ranges ?? [];
  ranges.forEach((r, i) => checkRange(`ip_ranges[${i}]`, r));
  const fqdns = w.fqdns ?? prev?.fqdns ?? [];
  fqdns.forEach((f, i) => {
    if (!FQDN_PATTERN.test(f.fqdn)) throw invalid(`fqdns[${i}].fqdn`, `"${f.fqdn}" is not a domain name`);
  });
  return {
    href,
    name: w.name ?? prev?.name ?? '',
    description: w.description ?? prev?.description ?? '',
    ip_ranges: ranges.map((r) => ({
      from_ip: r.from_ip,
      ...(r.to_ip !== undefined ? { to_ip: r.to_ip } : {}),
      exclusion: r.exclusion ?? false,
      ...(r.description !== undefined ? { description: r.description } : {}),
    })),
    fqdns,
    ...stamps(prev, at),
    update_type: null,
  };
}

// ---------------------------------------------------------------- label groups

export async function buildLabelGroup(
  href: string,
  w: LabelGroupWrite,
  prev: LabelGroup | undefined,
  at: string,
  lookup: Lookup,
  labelOf: (href: string) => Promise<{ href: string; key: string; value: string }>,
): Promise<LabelGroup> {
  const key = w.key ?? prev?.key ?? '';
  if (prev && w.key !== undefined && w.key !== prev.key)
    throw invalid('key', `a label group's key cannot change (it is ${prev.key})`);
  const labels = [];
  for (const [i, ref] of (w.labels ?? prev?.labels ?? []).entries()) {
    const h = await checkRef(`labels[${i}].href`, 'label', ref.href, lookup);
    const label = await labelOf(h);
    if (label.key !== key)
      throw invalid(
        `labels[${i}]`,
        `label ${label.key}=${label.value} has key ${label.key}, the group's key is ${key}`,
      );
    labels.push(label);
  }
  const subGroups = [];
  for (const [i, ref] of (w.sub_groups ?? prev?.sub_groups ?? []).entries()) {
    const h = await checkRef(`sub_groups[${i}].href`, 'label_group', ref.href, lookup);
    if (h === href) throw invalid(`sub_groups[${i}]`, 'a label group cannot contain itself');
    const subKey = await lookup.labelGroupKey(h);
    if (subKey !== key)
      throw invalid(`sub_groups[${i}]`, `label group ${h} has key ${subKey}, this group's key is ${key}`);
    subGroups.push({ href: h, name: ref.name ?? '' });
  }
  return {
    href,
    name: w.name ?? prev?.name ?? '',
    key,
    description: w.description ?? prev?.description ?? '',
    labels,
    sub_groups: subGroups,
    ...stamps(prev, at),
    update_type: null,
  };
}

// ---------------------------------------------------------------- virtual services

export async function buildVirtualService(
  href: string,
  w: VirtualServiceWrite,
  prev: VirtualService | undefined,
  at: string,
  lookup: Lookup,
  labelOf: (href: string) => Promise<{ href: string; key: string; value: string }>,
): Promise<VirtualService> {
  const ports = w.service_ports ?? prev?.service_ports ?? [];
  ports.forEach((p, i) => checkServicePort(`service_ports[${i}]`, p));
  const service = w.service !== undefined ? w.service : (prev?.service ?? null);
  if (service) service.href = await checkRef('service.href', 'service', service.href, lookup);
  if (service && ports.length > 0) throw invalid('service', 'give either `service` or `service_ports`, not both');
  const addresses = w.service_addresses ?? prev?.service_addresses ?? [];
  addresses.forEach((a, i) => {
    if (a.ip === undefined && a.fqdn === undefined) throw invalid(`service_addresses[${i}]`, 'needs `ip` or `fqdn`');
    if (a.ip !== undefined && !parseAddress(a.ip, true))
      throw invalid(`service_addresses[${i}].ip`, `"${a.ip}" is not an IP address or CIDR`);
  });
  const labels = [];
  const keys = new Set<string>();
  for (const [i, ref] of (w.labels ?? prev?.labels ?? []).entries()) {
    const label = await labelOf(await checkRef(`labels[${i}].href`, 'label', ref.href, lookup));
    if (keys.has(label.key)) throw invalid(`labels[${i}]`, `a second label with key ${label.key}: one per key`);
    keys.add(label.key);
    labels.push(label);
  }
  return {
    href,
    name: w.name ?? prev?.name ?? '',
    description: w.description ?? prev?.description ?? '',
    apply_to: w.apply_to ?? prev?.apply_to ?? 'host_only',
    service,
    service_ports: ports.map(cleanPort),
    service_addresses: addresses,
    labels,
    ip_overrides: w.ip_overrides ?? prev?.ip_overrides ?? [],
    backends: prev?.backends ?? [],
    managed_by: prev?.managed_by ?? 'user',
    ...stamps(prev, at),
    update_type: null,
  };
}

// ---------------------------------------------------------------- actors, scopes, rules

async function checkActor(field: string, a: Actor, side: 'providers' | 'consumers', lookup: Lookup): Promise<Actor> {
  const set = ACTOR_KINDS.filter((k) => a[k] !== undefined);
  if (set.length !== 1)
    throw invalid(field, `an actor names exactly one of ${ACTOR_KINDS.join(', ')}; this one has ${set.length}`);
  const out: Actor = {};
  if (a.actors !== undefined) {
    if (a.actors === 'container_host' && side === 'providers')
      throw invalid(`${field}.actors`, '"container_host" can only be a consumer');
    out.actors = a.actors;
  }
  if (a.label) out.label = { href: await checkRef(`${field}.label.href`, 'label', a.label.href, lookup) };
  if (a.label_group)
    out.label_group = { href: await checkRef(`${field}.label_group.href`, 'label_group', a.label_group.href, lookup) };
  if (a.workload)
    out.workload = { href: await checkRef(`${field}.workload.href`, 'workload', a.workload.href, lookup) };
  if (a.ip_list) out.ip_list = { href: await checkRef(`${field}.ip_list.href`, 'ip_list', a.ip_list.href, lookup) };
  if (a.virtual_service)
    out.virtual_service = {
      href: await checkRef(`${field}.virtual_service.href`, 'virtual_service', a.virtual_service.href, lookup),
    };
  if (a.exclusion) {
    if (a.actors === 'container_host') throw invalid(`${field}.exclusion`, '"container_host" cannot be excluded');
    out.exclusion = true;
  }
  return out;
}

async function checkScope(field: string, scope: ScopeTerm[], lookup: Lookup): Promise<ScopeTerm[]> {
  const out: ScopeTerm[] = [];
  for (const [i, t] of scope.entries()) {
    const f = `${field}[${i}]`;
    if ((t.label === undefined) === (t.label_group === undefined))
      throw invalid(f, 'a scope term names exactly one of label, label_group');
    const term: ScopeTerm = t.label
      ? { label: { href: await checkRef(`${f}.label.href`, 'label', t.label.href, lookup) } }
      : { label_group: { href: await checkRef(`${f}.label_group.href`, 'label_group', t.label_group!.href, lookup) } };
    if (t.exclusion) term.exclusion = true;
    out.push(term);
  }
  return out;
}

async function checkIngress(field: string, s: IngressService, lookup: Lookup): Promise<IngressService> {
  if (s.href !== undefined) {
    if (s.proto !== undefined || s.port !== undefined || s.to_port !== undefined)
      throw invalid(field, 'a service is either `{href}` or inline `{port, to_port, proto}`, not both');
    return { href: await checkRef(`${field}.href`, 'service', s.href, lookup) };
  }
  checkServicePort(field, s);
  return cleanPort(s as ServicePort);
}

const DEFAULT_RESOLVE: ResolveLabelsAs = { providers: ['workloads'], consumers: ['workloads'] };

type RuleWrite = SecRuleWrite | DenyRuleWrite;
type RuleCommon = Omit<SecRule, 'sec_connect' | 'stateless' | 'machine_auth'>;

async function buildRuleCommon(
  href: string,
  w: Partial<RuleWrite>,
  prev: RuleCommon | undefined,
  at: string,
  lookup: Lookup,
): Promise<RuleCommon> {
  const unscoped = w.unscoped_consumers ?? prev?.unscoped_consumers ?? false;
  const resolve = w.resolve_labels_as ?? prev?.resolve_labels_as ?? DEFAULT_RESOLVE;
  if (resolve.providers.length === 0)
    throw invalid('resolve_labels_as.providers', 'must name workloads and/or virtual_services');
  if (resolve.consumers.length === 0)
    throw invalid('resolve_labels_as.consumers', 'must name workloads and/or virtual_services');
  const providersIn = w.providers ?? prev?.providers;
  const consumersIn = w.consumers ?? prev?.consumers;
  if (!providersIn || providersIn.length === 0)
    throw invalid('providers', 'must not be empty (an empty list selects nothing)');
  if (!consumersIn || consumersIn.length === 0)
    throw invalid('consumers', 'must not be empty (an empty list selects nothing)');
  const providers = [];
  for (const [i, a] of providersIn.entries())
    providers.push(await checkActor(`providers[${i}]`, a, 'providers', lookup));
  const consumers = [];
  for (const [i, a] of consumersIn.entries()) {
    const c = await checkActor(`consumers[${i}]`, a, 'consumers', lookup);
    if (c.actors === 'container_host' && !unscoped)
      throw invalid(
        `consumers[${i}].actors`,
        '"container_host" is allowed only in extra-scope rules (unscoped_consumers: true)',
      );
    consumers.push(c);
  }
  const servicesIn = w.ingress_services ?? prev?.ingress_services ?? [];
  const services = [];
  for (const [i, s] of servicesIn.entries()) services.push(await checkIngress(`ingress_services[${i}]`, s, lookup));
  const resolvesAsWorkloads = resolve.providers.includes('workloads');
  const onlyVirtualServices = providers.every((p) => p.virtual_service !== undefined);
  if (services.length === 0 && resolvesAsWorkloads && !onlyVirtualServices)
    throw invalid(
      'ingress_services',
      'must not be empty when providers resolve as workloads; use "All Services" for every port',
    );
  return {
    href,
    enabled: w.enabled ?? prev?.enabled ?? true,
    description: w.description !== undefined ? w.description : (prev?.description ?? null),
    providers,
    consumers,
    ingress_services: services,
    resolve_labels_as: resolve,
    unscoped_consumers: unscoped,
    network_type: w.network_type ?? prev?.network_type ?? 'brn',
    ...stamps(prev, at),
    update_type: null,
  };
}

export async function buildSecRule(
  href: string,
  w: Partial<SecRuleWrite>,
  prev: SecRule | undefined,
  at: string,
  lookup: Lookup,
): Promise<SecRule> {
  const common = await buildRuleCommon(href, w, prev, at, lookup);
  if (w.stateless) throw invalid('stateless', 'stateless rules are not supported (Kubernetes relies on conntrack)');
  if (w.sec_connect || w.machine_auth)
    throw invalid(
      w.sec_connect ? 'sec_connect' : 'machine_auth',
      'SecureConnect and machine authentication are not supported',
    );
  return { ...common, sec_connect: false, stateless: false, machine_auth: false };
}

export async function buildDenyRule(
  href: string,
  w: Partial<DenyRuleWrite>,
  prev: DenyRule | undefined,
  at: string,
  lookup: Lookup,
): Promise<DenyRule> {
  const common = await buildRuleCommon(href, w, prev, at, lookup);
  return { ...common, override: w.override ?? prev?.override ?? false };
}

/** Rules nested in a ruleset write get hrefs from `nextRuleHref`. */
export async function buildRuleSet(
  href: string,
  w: Partial<RuleSetWrite>,
  prev: RuleSet | undefined,
  at: string,
  lookup: Lookup,
  nextRuleHref: (kind: 'sec_rules' | 'deny_rules') => Promise<string>,
): Promise<RuleSet> {
  const scopesIn = w.scopes ?? prev?.scopes ?? [[]];
  const scopes = [];
  for (const [i, s] of scopesIn.entries()) scopes.push(await checkScope(`scopes[${i}]`, s, lookup));
  let rules = prev?.rules ?? [];
  if (w.rules) {
    rules = [];
    for (const [i, r] of w.rules.entries()) {
      try {
        rules.push(await buildSecRule(await nextRuleHref('sec_rules'), r, undefined, at, lookup));
      } catch (e) {
        throw prefixField(e, `rules[${i}]`);
      }
    }
  }
  let denyRules = prev?.deny_rules ?? [];
  if (w.deny_rules) {
    denyRules = [];
    for (const [i, r] of w.deny_rules.entries()) {
      try {
        denyRules.push(await buildDenyRule(await nextRuleHref('deny_rules'), r, undefined, at, lookup));
      } catch (e) {
        throw prefixField(e, `deny_rules[${i}]`);
      }
    }
  }
  return {
    href,
    name: w.name ?? prev?.name ?? '',
    description: w.description !== undefined ? w.description : (prev?.description ?? null),
    enabled: w.enabled ?? prev?.enabled ?? true,
    scopes,
    rules,
    deny_rules: denyRules,
    ip_tables_rules: [],
    ...stamps(prev, at),
    update_type: null,
  };
}

/** Put `prefix.` before the field path of a validation error's message. */
function prefixField(e: unknown, prefix: string): unknown {
  if (e instanceof Error && 'details' in e && Array.isArray((e as { details: unknown }).details)) {
    const err = e as Error & { details: { token: string; message: string }[] };
    err.message = `${prefix}.${err.message}`;
    for (const d of err.details) d.message = `${prefix}.${d.message}`;
  }
  return e;
}
