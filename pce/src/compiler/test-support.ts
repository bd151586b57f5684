// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Builders for compiler and evaluator tests: policy objects with defaults,
 * a small labelled inventory, and `flowVerdict`, which decides a flow between
 * two inventory workloads from both ends' compiled entries.
 *
 * Owns: test fixtures only; imported by *.test.ts, never by the compiler.
 * Must not import: ../store, ../http, fastify, node:*.
 */
import { verdictOf, type FlowService, type Verdict } from '../api/evaluate.js';
import type { EnforcementMode } from '../api/inventory-objects.js';
import type {
  Actor,
  DenyRule,
  IngressService,
  IpList,
  LabelGroup,
  LabelSummary,
  PolicyContent,
  RuleSet,
  ScopeTerm,
  SecRule,
  Service,
  VirtualService,
} from '../api/policy-objects.js';
import { PolicyCompiler } from './compile.js';
import type { CompileInput, InventoryWorkload } from './input.js';

const P = '/orgs/1/sec_policy/draft';
const STAMP = '2024-01-01T00:00:00Z';

/** Labels of the test world: `LABEL.web` is the href of role=web. */
export const LABELS = {
  web: { href: '/orgs/1/labels/1', key: 'role', value: 'web' },
  api: { href: '/orgs/1/labels/2', key: 'role', value: 'api' },
  db: { href: '/orgs/1/labels/3', key: 'role', value: 'db' },
  shop: { href: '/orgs/1/labels/4', key: 'app', value: 'shop' },
  blog: { href: '/orgs/1/labels/5', key: 'app', value: 'blog' },
  prod: { href: '/orgs/1/labels/6', key: 'env', value: 'prod' },
  dev: { href: '/orgs/1/labels/7', key: 'env', value: 'dev' },
  eu: { href: '/orgs/1/labels/8', key: 'loc', value: 'eu' },
  node: { href: '/orgs/1/labels/9', key: 'role', value: 'node' },
  cache: { href: '/orgs/1/labels/10', key: 'role', value: 'cache' },
  ext: { href: '/orgs/1/labels/11', key: 'role', value: 'external' },
} as const satisfies Record<string, LabelSummary>;
export type LabelName = keyof typeof LABELS;
export const LABEL = Object.fromEntries(Object.entries(LABELS).map(([k, v]) => [k, v.href])) as Record<
  LabelName,
  string
>;

// ---------------------------------------------------------------- actors

export const label = (n: LabelName, exclusion = false): Actor => ({
  label: { href: LABEL[n] },
  ...(exclusion ? { exclusion } : {}),
});
export const group = (href: string, exclusion = false): Actor => ({
  label_group: { href },
  ...(exclusion ? { exclusion } : {}),
});
export const scopeLabel = (n: LabelName, exclusion = false): ScopeTerm => label(n, exclusion) as ScopeTerm;
export const ams: Actor = { actors: 'ams' };
export const containerHost: Actor = { actors: 'container_host' };
export const workloadActor = (href: string, exclusion = false): Actor => ({
  workload: { href },
  ...(exclusion ? { exclusion } : {}),
});
export const ipListActor = (href: string, exclusion = false): Actor => ({
  ip_list: { href },
  ...(exclusion ? { exclusion } : {}),
});
export const vsActor = (href: string): Actor => ({ virtual_service: { href } });

export const tcp = (port: number, to_port?: number): IngressService => ({
  proto: 6,
  port,
  ...(to_port ? { to_port } : {}),
});
export const udp = (port: number): IngressService => ({ proto: 17, port });

// ---------------------------------------------------------------- policy objects

interface RuleOpts {
  id: number;
  providers: Actor[];
  consumers: Actor[];
  services?: IngressService[];
  unscoped?: boolean;
  enabled?: boolean;
  resolve?: { providers?: ('workloads' | 'virtual_services')[]; consumers?: ('workloads' | 'virtual_services')[] };
}

function ruleCommon(rs: number, kind: 'sec_rules' | 'deny_rules', o: RuleOpts) {
  return {
    href: `${P}/rule_sets/${rs}/${kind}/${o.id}`,
    enabled: o.enabled ?? true,
    description: null,
    providers: o.providers,
    consumers: o.consumers,
    ingress_services: o.services ?? [],
    resolve_labels_as: {
      providers: o.resolve?.providers ?? ['workloads'],
      consumers: o.resolve?.consumers ?? ['workloads'],
    },
    unscoped_consumers: o.unscoped ?? false,
    network_type: 'brn' as const,
    created_at: STAMP,
    updated_at: STAMP,
    update_type: null,
  };
}

export const allowRule = (rs: number, o: RuleOpts): SecRule => ({
  ...ruleCommon(rs, 'sec_rules', o),
  sec_connect: false,
  stateless: false,
  machine_auth: false,
});
export const denyRule = (rs: number, o: RuleOpts & { override?: boolean }): DenyRule => ({
  ...ruleCommon(rs, 'deny_rules', o),
  override: o.override ?? false,
});

export function ruleSet(
  id: number,
  o: { scopes?: ScopeTerm[][]; rules?: SecRule[]; deny_rules?: DenyRule[]; enabled?: boolean },
): RuleSet {
  return {
    href: `${P}/rule_sets/${id}`,
    name: `rs${id}`,
    description: null,
    enabled: o.enabled ?? true,
    scopes: o.scopes ?? [],
    rules: o.rules ?? [],
    deny_rules: o.deny_rules ?? [],
    ip_tables_rules: [],
    created_at: STAMP,
    updated_at: STAMP,
    update_type: null,
  };
}

export function labelGroup(id: number, key: string, labels: LabelName[], subGroups: number[] = []): LabelGroup {
  return {
    href: `${P}/label_groups/${id}`,
    name: `lg${id}`,
    key,
    description: '',
    labels: labels.map((n) => LABELS[n]),
    sub_groups: subGroups.map((s) => ({ href: `${P}/label_groups/${s}`, name: `lg${s}` })),
    created_at: STAMP,
    updated_at: STAMP,
    update_type: null,
  };
}
export const groupHref = (id: number) => `${P}/label_groups/${id}`;

export function ipList(id: number, ranges: { from_ip: string; to_ip?: string; exclusion?: boolean }[]): IpList {
  return {
    href: `${P}/ip_lists/${id}`,
    name: `ipl${id}`,
    description: '',
    ip_ranges: ranges,
    fqdns: [{ fqdn: 'example.com' }],
    created_at: STAMP,
    updated_at: STAMP,
    update_type: null,
  };
}
export const ipListHref = (id: number) => `${P}/ip_lists/${id}`;

export function service(id: number, name: string, ports: Service['service_ports']): Service {
  return {
    href: `${P}/services/${id}`,
    name,
    description: '',
    process_name: null,
    service_ports: ports,
    created_at: STAMP,
    updated_at: STAMP,
    update_type: null,
  };
}
export const serviceHref = (id: number) => `${P}/services/${id}`;

export function virtualService(
  id: number,
  o: { labels?: LabelName[]; backends?: string[]; ips?: string[]; ports?: Service['service_ports'] },
): VirtualService {
  return {
    href: `${P}/virtual_services/${id}`,
    name: `vs${id}`,
    description: '',
    apply_to: 'host_only',
    service: null,
    service_ports: o.ports ?? [],
    service_addresses: (o.ips ?? []).map((ip) => ({ ip })),
    labels: (o.labels ?? []).map((n) => LABELS[n]),
    ip_overrides: [],
    backends: (o.backends ?? []).map((href) => ({ href })),
    managed_by: 'kubelink',
    created_at: STAMP,
    updated_at: STAMP,
    update_type: null,
  };
}
export const vsHref = (id: number) => `${P}/virtual_services/${id}`;

export function policy(p: Partial<PolicyContent>): PolicyContent {
  return {
    rule_sets: p.rule_sets ?? [],
    label_groups: p.label_groups ?? [],
    services: p.services ?? [],
    ip_lists: p.ip_lists ?? [],
    virtual_services: p.virtual_services ?? [],
  };
}

// ---------------------------------------------------------------- inventory

export const N1 = '/orgs/1/workloads/100';
export const N2 = '/orgs/1/workloads/200';
export const cw = (name: string) => `/orgs/1/container_workloads/${name}`;

export function pod(
  name: string,
  labels: LabelName[],
  ip: string,
  o: { node?: string; mode?: EnforcementMode } = {},
): InventoryWorkload {
  return {
    href: cw(name),
    name,
    kind: 'container_workload',
    labels: labels.map((n) => LABEL[n]),
    addresses: [ip],
    enforcement_mode: o.mode ?? 'full',
    node: o.node ?? N1,
  };
}

export function node(href: string, ip: string, mode: EnforcementMode = 'full'): InventoryWorkload {
  return { href, name: href, kind: 'node', labels: [LABEL.node], addresses: [ip], enforcement_mode: mode, node: href };
}

export function unmanaged(id: number, labels: LabelName[], ip: string): InventoryWorkload {
  return {
    href: `/orgs/1/workloads/${id}`,
    name: `um${id}`,
    kind: 'unmanaged',
    labels: labels.map((n) => LABEL[n]),
    addresses: [ip],
    enforcement_mode: 'idle',
    node: null,
  };
}

/** The standard inventory: two nodes, shop and blog pods in prod and dev, one unmanaged server. */
export function standardWorkloads(): InventoryWorkload[] {
  return [
    node(N1, '192.168.0.1'),
    node(N2, '192.168.0.2'),
    pod('web-shop-prod', ['web', 'shop', 'prod'], '10.0.0.1'),
    pod('api-shop-prod', ['api', 'shop', 'prod'], '10.0.0.2', { node: N2 }),
    pod('db-shop-prod', ['db', 'shop', 'prod'], '10.0.0.3'),
    pod('web-shop-dev', ['web', 'shop', 'dev'], '10.0.1.1', { node: N2 }),
    pod('db-shop-dev', ['db', 'shop', 'dev'], '10.0.1.3'),
    pod('web-blog-prod', ['web', 'blog', 'prod'], '10.0.2.1', { node: N2 }),
    pod('db-blog-prod', ['db', 'blog', 'prod'], '10.0.2.3'),
    pod('cache-shop-prod', ['cache', 'shop', 'prod'], '10.0.0.4', { node: N2, mode: 'idle' }),
    unmanaged(300, ['ext'], '172.16.0.5'),
  ];
}

export function input(p: Partial<PolicyContent>, workloads = standardWorkloads(), version = 1): CompileInput {
  return { version, policy: policy(p), inventory: { labels: Object.values(LABELS), workloads } };
}

/**
 * The verdict for `from` → `to` (workload hrefs of `inv`, or plain IP
 * addresses for peers outside the inventory), as `verdict rule-href` or
 * `no_rule`. When both ends are workloads, the provider's inbound entries and
 * the consumer's outbound entries should agree (a rule governs both ends);
 * when they do not, the result is `<inbound> | outbound <outbound>`.
 */
export function flowVerdict(
  c: PolicyCompiler,
  inv: readonly InventoryWorkload[],
  from: string,
  to: string,
  svc: FlowService,
): string {
  const end = (h: string) => {
    const w = inv.find((x) => x.href === h);
    if (!w) return { peer: { ip: h } };
    return { peer: { href: w.href, ...(w.addresses[0] ? { ip: w.addresses[0] } : {}) }, compiled: c.policyFor(w) };
  };
  const src = end(from);
  const dst = end(to);
  const sets = { ...src.compiled?.sets, ...dst.compiled?.sets };
  const show = (v: { verdict: Verdict; rule: string | null }) => (v.rule ? `${v.verdict} ${v.rule}` : v.verdict);
  const inbound = dst.compiled ? show(verdictOf(dst.compiled.policy.inbound, sets, src.peer, svc)) : undefined;
  const outbound = src.compiled ? show(verdictOf(src.compiled.policy.outbound, sets, dst.peer, svc)) : undefined;
  if (inbound !== undefined && outbound !== undefined && inbound !== outbound)
    return `${inbound} | outbound ${outbound}`;
  return inbound ?? outbound ?? 'no_rule';
}

/** Short rule hrefs for expectations: `allow(1, 2)` is `allow /…/rule_sets/1/sec_rules/2`. */
export const allowed = (rs: number, id: number) => `allow ${P}/rule_sets/${rs}/sec_rules/${id}`;
export const denied = (rs: number, id: number) => `deny ${P}/rule_sets/${rs}/deny_rules/${id}`;
export const overridden = (rs: number, id: number) => `override_deny ${P}/rule_sets/${rs}/deny_rules/${id}`;

// ---------------------------------------------------------------- semantics cases

/** Hrefs of the standard inventory's workloads, by initials (web-shop-prod: `wsp`). */
export const W = {
  wsp: cw('web-shop-prod'),
  asp: cw('api-shop-prod'),
  dsp: cw('db-shop-prod'),
  wsd: cw('web-shop-dev'),
  dsd: cw('db-shop-dev'),
  wbp: cw('web-blog-prod'),
  dbp: cw('db-blog-prod'),
  csp: cw('cache-shop-prod'),
  ext: '/orgs/1/workloads/300',
} as const;

export const TCP = (port: number): FlowService => ({ proto: 6, port });
export const UDP = (port: number): FlowService => ({ proto: 17, port });
export const PG = TCP(5432);
/** The verdict of `oneRule`'s rule when it allows. */
export const A = allowed(1, 1);

type RuleSides = Parameters<typeof allowRule>[1];

/** One ruleset (id 1) with one allow rule (id 1): `consumers → providers` on `services` (default TCP 5432). */
export function oneRule(
  o: Pick<RuleSides, 'providers' | 'consumers' | 'services' | 'unscoped' | 'resolve'> & { scopes?: ScopeTerm[][] },
): Partial<PolicyContent> {
  const rule = allowRule(1, { id: 1, services: [tcp(5432)], ...o });
  return { rule_sets: [ruleSet(1, { scopes: o.scopes ?? [], rules: [rule] })] };
}

/** A named policy and the flows to decide under it against the standard inventory. */
export interface SemanticsCase {
  name: string;
  policy: Partial<PolicyContent>;
  /** [consumer, provider, service, expected `verdict rule`, `no_rule`, or `<inbound> | outbound <outbound>`] */
  flows: [string, string, FlowService, string][];
}

/** What `flowVerdict` gives for each flow of the case. */
export function decideCase(c: SemanticsCase): string[] {
  const inventory = standardWorkloads();
  const compiler = new PolicyCompiler(input(c.policy, inventory));
  return c.flows.map(([from, to, svc]) => flowVerdict(compiler, inventory, from, to, svc));
}
