// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Compiler benchmark (not a test): a synthetic policy of 1,000 rules (label
 * terms, label groups, IP lists, virtual services, container_host, deny and
 * override-deny rules, several scopes) over 10,000 workloads (100 nodes,
 * 9,900 container workloads), then prints the full compile time, one
 * incremental update (a container workload's labels change; median of
 * several), sizes, memory and the core count.
 *
 * Run after `tsc -b`: `node pce/dist/bench/compile.bench.js` (or
 * `npm run bench -w @bulkhead/pce`). Add `--expose-gc` for steadier memory
 * figures. Deterministic input: no randomness.
 * Owns: nothing others import. May import node:os (it is not the compiler).
 */
import os from 'node:os';
import type { EnforcementMode } from '../api/inventory-objects.js';
import type { NodePolicy } from '../api/node-policy.js';
import type {
  Actor,
  DenyRule,
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
import { compileAll, PolicyCompiler } from '../compiler/compile.js';
import type { CompileInput, InventoryWorkload } from '../compiler/input.js';

const NODES = 100;
const PODS = 9_900;
const APPS = 200;
const RULESETS = 100;
const APP_RULESETS = 90;
const STRESS = process.argv.includes('--stress');
const P = '/orgs/1/sec_policy/active';
const STAMP = '2024-01-01T00:00:00Z';
const stamps = { created_at: STAMP, updated_at: STAMP, update_type: null };

// ---------------------------------------------------------------- labels

const labels: LabelSummary[] = [];
const mkLabel = (key: string, value: string) => {
  const l = { href: `/orgs/1/labels/${labels.length + 1}`, key, value };
  labels.push(l);
  return l.href;
};
const ROLES = ['web', 'api', 'db', 'cache', 'queue', 'worker', 'auth', 'search', 'batch'] as const;
const role = Object.fromEntries(ROLES.map((r) => [r, mkLabel('role', r)])) as Record<(typeof ROLES)[number], string>;
const nodeRole = mkLabel('role', 'node');
const apps = Array.from({ length: APPS }, (_, i) => mkLabel('app', `app-${i}`));
const ENVS = ['prod', 'staging', 'dev', 'test'] as const;
const env = Object.fromEntries(ENVS.map((e) => [e, mkLabel('env', e)])) as Record<(typeof ENVS)[number], string>;
const locs = Array.from({ length: 5 }, (_, i) => mkLabel('loc', `loc-${i}`));

// ---------------------------------------------------------------- inventory

const nodeHref = (n: number) => `/orgs/1/workloads/${n + 1}`;
const workloads: InventoryWorkload[] = [];
for (let n = 0; n < NODES; n += 1) {
  workloads.push({
    href: nodeHref(n),
    name: `node-${n}`,
    kind: 'node',
    labels: [nodeRole, locs[n % 5]!],
    addresses: [`192.168.${n >> 8}.${(n & 255) + 1}`],
    enforcement_mode: 'full',
    node: nodeHref(n),
  });
}
const MODES: EnforcementMode[] = [
  'full',
  'full',
  'full',
  'full',
  'full',
  'full',
  'selective',
  'visibility_only',
  'idle',
];
const podHref = (i: number) => `/orgs/1/container_workloads/${i.toString(16).padStart(8, '0')}-bench`;
function podAt(i: number, roleHref: string): InventoryWorkload {
  const n = i % NODES;
  const k = Math.floor(i / NODES);
  return {
    href: podHref(i),
    name: `pod-${i}`,
    kind: 'container_workload',
    labels: [roleHref, apps[i % APPS]!, env[ENVS[Math.floor(i / APPS) % 4]!], locs[n % 5]!],
    addresses: [`10.${64 + (n >> 8)}.${n & 255}.${k + 2}`],
    enforcement_mode: MODES[i % MODES.length]!,
    node: nodeHref(n),
  };
}
const podRole = (i: number) => role[ROLES[(i * 7) % ROLES.length]!];
for (let i = 0; i < PODS; i += 1) workloads.push(podAt(i, podRole(i)));

// ---------------------------------------------------------------- policy objects

const groupHref = (i: number) => `${P}/label_groups/${i + 1}`;
const labelGroups: LabelGroup[] = [];
const mkGroup = (key: string, members: string[], subs: number[] = []) => {
  const i = labelGroups.length;
  labelGroups.push({
    href: groupHref(i),
    name: `group-${i}`,
    key,
    description: '',
    labels: members.map((href) => labels.find((l) => l.href === href)!),
    sub_groups: subs.map((s) => ({ href: groupHref(s), name: `group-${s}` })),
    ...stamps,
  });
  return i;
};
const appGroups = Array.from({ length: 40 }, (_, g) => mkGroup('app', apps.slice(g * 5, g * 5 + 5)));
const nestedAppGroups = Array.from({ length: 10 }, (_, g) =>
  mkGroup('app', [], [appGroups[g * 2]!, appGroups[g * 2 + 1]!]),
);
const frontend = mkGroup('role', [role.web, role.api]);
const edge = mkGroup('role', [role.auth], [frontend]);
const nonprod = mkGroup('env', [env.staging, env.dev, env.test]);

const ipListHref = (i: number) => `${P}/ip_lists/${i + 1}`;
const ipLists: IpList[] = Array.from({ length: 20 }, (_, i) => ({
  href: ipListHref(i),
  name: `ipl-${i}`,
  description: '',
  ip_ranges: [
    { from_ip: `172.${16 + i}.0.0/16` },
    { from_ip: `172.${16 + i}.8.0`, to_ip: `172.${16 + i}.9.255`, exclusion: true },
    { from_ip: `2001:db8:${i.toString(16)}::/48` },
  ],
  fqdns: [{ fqdn: `svc-${i}.example.com` }],
  ...stamps,
}));

const serviceHref = (i: number) => `${P}/services/${i + 1}`;
const services: Service[] = [
  {
    href: serviceHref(0),
    name: 'All Services',
    description: '',
    process_name: null,
    service_ports: [{ proto: -1 }],
    ...stamps,
  },
  ...Array.from({ length: 29 }, (_, i) => ({
    href: serviceHref(i + 1),
    name: `svc-${i}`,
    description: '',
    process_name: null,
    service_ports: [
      { proto: 6, port: 8000 + i * 10, to_port: 8000 + i * 10 + 5 },
      { proto: 17, port: 5000 + i },
    ],
    ...stamps,
  })),
];

const vsHref = (i: number) => `${P}/virtual_services/${i + 1}`;
const virtualServices: VirtualService[] = Array.from({ length: APPS }, (_, a) => ({
  href: vsHref(a),
  name: `app-${a}-api`,
  description: '',
  apply_to: 'host_only',
  service: null,
  service_ports: [{ proto: 6, port: 8080 }],
  service_addresses: [{ ip: `10.96.${a >> 8}.${(a & 255) + 1}` }],
  labels: [labels.find((l) => l.href === apps[a])!],
  ip_overrides: [],
  backends: workloads.filter((w) => w.labels[0] === role.api && w.labels[1] === apps[a]).map((w) => ({ href: w.href })),
  managed_by: 'kubelink',
  ...stamps,
}));

// ---------------------------------------------------------------- rulesets (1,000 rules)

const L = (href: string, exclusion = false): Actor => ({ label: { href }, ...(exclusion ? { exclusion } : {}) });
const G = (i: number): Actor => ({ label_group: { href: groupHref(i) } });
const S = (href: string): ScopeTerm => ({ label: { href } });
const tcp = (port: number) => ({ proto: 6, port });

function rule(rs: number, id: number, o: Partial<SecRule> & Pick<SecRule, 'providers' | 'consumers'>): SecRule {
  return {
    href: `${P}/rule_sets/${rs + 1}/sec_rules/${id}`,
    enabled: true,
    description: null,
    ingress_services: [],
    resolve_labels_as: { providers: ['workloads'], consumers: ['workloads'] },
    unscoped_consumers: false,
    sec_connect: false,
    stateless: false,
    machine_auth: false,
    network_type: 'brn',
    ...stamps,
    ...o,
  };
}
function deny(rs: number, id: number, o: Partial<DenyRule> & Pick<DenyRule, 'providers' | 'consumers'>): DenyRule {
  const { sec_connect: _a, stateless: _b, machine_auth: _c, ...common } = rule(rs, id, o);
  return { ...common, href: `${P}/rule_sets/${rs + 1}/deny_rules/${id}`, override: false, ...o };
}

/**
 * 90 application rulesets (scoped to one or two apps in one environment, or
 * to label groups) with intra-scope rules, and 10 global rulesets (the rules
 * every workload gets: container_host probes, DNS, monitoring, boundaries).
 * `--stress` gives every application ruleset a container_host rule and an
 * extra-scope `ams` deny too, so each workload gets ~200 entries.
 */
function appRuleSet(r: number): [ScopeTerm[][], SecRule[], DenyRule[]] {
  const a = (r * 2) % APPS;
  const e = ENVS[r % 4]!;
  const scopes: ScopeTerm[][] =
    r < 60
      ? [
          [S(apps[a]!), S(env[e])],
          [S(apps[a + 1]!), S(env[e])],
        ]
      : r < 80
        ? [
            [{ label_group: { href: groupHref(nestedAppGroups[r % 10]!) } }, S(env[e])],
            [{ label_group: { href: groupHref(appGroups[r % 40]!) } }, S(env.prod)],
          ]
        : [[S(apps[a]!), { label: { href: env.dev }, exclusion: true }]];
  const ip = r % ipLists.length;
  const rules: SecRule[] = [
    rule(r, 1, { providers: [L(role.api)], consumers: [L(role.web)], ingress_services: [tcp(8080)] }),
    rule(r, 2, { providers: [L(role.db)], consumers: [L(role.api), L(role.worker)], ingress_services: [tcp(5432)] }),
    rule(r, 3, { providers: [L(role.cache)], consumers: [G(frontend)], ingress_services: [tcp(6379)] }),
    rule(r, 4, { providers: [L(role.auth)], consumers: [G(edge), L(role.search, true)], ingress_services: [tcp(443)] }),
    STRESS
      ? rule(r, 5, {
          providers: [{ actors: 'ams' }],
          consumers: [{ actors: 'container_host' }],
          ingress_services: [tcp(8080)],
          unscoped_consumers: true,
        })
      : rule(r, 5, {
          providers: [L(role.queue)],
          consumers: [L(role.worker), L(role.batch)],
          ingress_services: [tcp(5672)],
        }),
    rule(r, 6, {
      providers: [L(role.web)],
      consumers: [{ ip_list: { href: ipListHref(ip) } }],
      ingress_services: [{ href: serviceHref(1 + (r % 29)) }],
      unscoped_consumers: true,
    }),
    rule(r, 7, {
      providers: [{ ip_list: { href: ipListHref((ip + 1) % 20) } }],
      consumers: [L(role.worker)],
      ingress_services: [tcp(443)],
    }),
    rule(r, 8, { providers: [{ virtual_service: { href: vsHref(a) } }], consumers: [L(role.web), L(role.batch)] }),
  ];
  const denies: DenyRule[] = [
    deny(r, 1, {
      providers: [L(role.db)],
      consumers: [{ actors: 'ams' }, L(role.api, true), L(role.worker, true)],
      ingress_services: [{ href: serviceHref(0) }],
      unscoped_consumers: STRESS,
    }),
    deny(r, 2, {
      providers: [L(role.db), L(role.cache)],
      consumers: [L(role.search)],
      ingress_services: [tcp(5432), tcp(6379)],
      override: true,
    }),
  ];
  return [scopes, rules, denies];
}

function globalRuleSet(r: number): [ScopeTerm[][], SecRule[], DenyRule[]] {
  const g = r - APP_RULESETS; // 0..9
  const scopes: ScopeTerm[][] = g % 2 === 0 ? [] : [[S(env[ENVS[g % 4]!])], [S(locs[g % 5]!)]];
  const ams: Actor = { actors: 'ams' };
  const rules: SecRule[] = [
    rule(r, 1, {
      providers: [ams],
      consumers: [{ actors: 'container_host' }],
      ingress_services: [tcp(10250 + g)],
      unscoped_consumers: true,
    }),
    rule(r, 2, {
      providers: [{ ip_list: { href: ipListHref(g) } }],
      consumers: [ams],
      ingress_services: [{ proto: 17, port: 53 }],
    }),
    rule(r, 3, {
      providers: [ams],
      consumers: [L(role.batch)],
      ingress_services: [tcp(9100 + g)],
      unscoped_consumers: true,
    }),
    rule(r, 4, { providers: [L(nodeRole)], consumers: [ams], ingress_services: [tcp(6443)], unscoped_consumers: true }),
    rule(r, 5, {
      providers: [G(edge)],
      consumers: [{ ip_list: { href: ipListHref(g + 1) } }],
      ingress_services: [tcp(443)],
    }),
    rule(r, 6, {
      providers: [{ label_group: { href: groupHref(nestedAppGroups[g]!) } }],
      consumers: [L(role.search)],
      ingress_services: [{ href: serviceHref(1 + g) }],
    }),
  ];
  const denies: DenyRule[] = [
    deny(r, 1, {
      providers: [L(env.prod)],
      consumers: [G(nonprod)],
      ingress_services: [{ href: serviceHref(0) }],
      override: true,
      unscoped_consumers: true,
    }),
    deny(r, 2, {
      providers: [L(role.db)],
      consumers: [ams, L(role.api, true)],
      ingress_services: [{ proto: -1 }],
      unscoped_consumers: true,
    }),
    deny(r, 3, {
      providers: [ams],
      consumers: [{ ip_list: { href: ipListHref(g + 2) } }],
      ingress_services: [tcp(22)],
      unscoped_consumers: true,
    }),
    deny(r, 4, {
      providers: [L(role.cache)],
      consumers: [L(env.test)],
      ingress_services: [tcp(6379)],
      unscoped_consumers: true,
    }),
  ];
  return [scopes, rules, denies];
}

const ruleSets: RuleSet[] = [];
for (let r = 0; r < RULESETS; r += 1) {
  const [scopes, rules, denies] = r < APP_RULESETS ? appRuleSet(r) : globalRuleSet(r);
  ruleSets.push({
    href: `${P}/rule_sets/${r + 1}`,
    name: `rs-${r}`,
    description: null,
    enabled: true,
    scopes,
    rules,
    deny_rules: denies,
    ip_tables_rules: [],
    ...stamps,
  });
}

const policy: PolicyContent = {
  rule_sets: ruleSets,
  label_groups: labelGroups,
  services,
  ip_lists: ipLists,
  virtual_services: virtualServices,
};
const input: CompileInput = { version: 1, policy, inventory: { labels, workloads } };

// ---------------------------------------------------------------- measure

const gc = (globalThis as { gc?: () => void }).gc;
const heapMb = () => {
  gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const time = <T>(f: () => T): [T, number] => {
  const t0 = performance.now();
  const out = f();
  return [out, performance.now() - t0];
};

const ruleCount = ruleSets.reduce((n, rs) => n + rs.rules.length + rs.deny_rules.length, 0);
console.log(
  `input${STRESS ? ' (--stress)' : ''}: ${ruleCount} rules in ${ruleSets.length} rulesets, ` +
    `${workloads.length} workloads (${NODES} nodes)`,
);
console.log(`cores: ${os.cpus().length} (${os.cpus()[0]?.model ?? 'unknown'}), node ${process.version}`);

const heapBefore = heapMb();
const fullRuns: number[] = [];
let compiled = new Map<string, NodePolicy>();
for (let run = 0; run < 3; run += 1) {
  const [m, ms] = time(() => compileAll(input));
  compiled = m;
  fullRuns.push(ms);
}
const [compiler, constructMs] = time(() => new PolicyCompiler(input));
const nodes = compiler.nodeHrefs();
const [, materializeMs] = time(() => nodes.forEach((n) => compiler.nodePolicy(n)));
const heapAfter = heapMb();

let entries = 0;
let policies = 0;
const setNames = new Set<string>();
let elements = 0;
for (const np of compiled.values()) {
  for (const w of np.workloads) {
    policies += 1;
    entries += w.inbound.length + w.outbound.length;
  }
  for (const s of Object.values(np.sets)) {
    if (setNames.has(s.name)) continue;
    setNames.add(s.name);
    elements += s.addresses.length;
  }
}
const [json, jsonMs] = time(() => [...compiled.values()].map((np) => JSON.stringify(np)));
const bytes = json.reduce((n, s) => n + s.length, 0);

// One container workload's labels change (role web ↔ api, which moves it in and
// out of many sets and virtual-service providers), back and forth.
const target = 7; // a pod of app-7
const alt = [podAt(target, role.web), podAt(target, role.api)];
const upsertMs: number[] = [];
const withPushMs: number[] = [];
let changedNodes = 0;
for (let i = 0; i < 21; i += 1) {
  const [changed, ms] = time(() => compiler.upsertWorkload(alt[i % 2]!));
  upsertMs.push(ms);
  const [, pushMs] = time(() => [...changed].forEach((n) => compiler.nodePolicy(n)));
  withPushMs.push(ms + pushMs);
  changedNodes = changed.size;
}
const [, addMs] = time(() => compiler.upsertWorkload(podAt(PODS + 1, role.db)));
const [, removeMs] = time(() => compiler.removeWorkload(podHref(PODS + 1)));

const f = (ms: number) => `${ms.toFixed(1)} ms`;
console.log(
  `full compile (compileAll, all ${nodes.length} node policies): median ${f(median(fullRuns))} [${fullRuns.map(f).join(', ')}]`,
);
console.log(
  `  of which: PolicyCompiler construction ${f(constructMs)}, materializing node policies ${f(materializeMs)}`,
);
console.log(
  `incremental: one pod relabelled, upsertWorkload median ${f(median(upsertMs))} (max ${f(Math.max(...upsertMs))})`,
);
console.log(`  + rebuilding the ${changedNodes} changed node policies: median ${f(median(withPushMs))}`);
console.log(`  add one pod ${f(addMs)}, remove it ${f(removeMs)}`);
console.log(
  `output: ${policies} workload policies, ${entries} entries, ${setNames.size} distinct sets referenced ` +
    `(${compiler.selectorCount} selectors interned), ${elements} set elements, ` +
    `${(bytes / 2 ** 20).toFixed(1)} MiB JSON over all nodes (stringify ${f(jsonMs)})`,
);
console.log(
  `memory: heap ${heapBefore.toFixed(0)} → ${heapAfter.toFixed(0)} MiB (${gc ? 'after gc' : 'no --expose-gc'}), ` +
    `rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`,
);
