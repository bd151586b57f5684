// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Rulesets → compiled rules: one per (rule, scope, provider part), each a
 * provider selector, a consumer selector (or `container_host`), an action
 * and its services. Which workloads get entries from a compiled rule is the
 * compiler's business (compile.ts); this module only says what it selects.
 *
 * Owns: the per-scope expansion of POLICY.md "Rulesets and scopes" (intra-
 * scope narrows both sides, extra-scope providers only; disabled rulesets and
 * rules ignored), the action of allow/deny/override-deny rules, and virtual
 * service providers that name no service.
 * Pure. Must not import: ../store, ../http, fastify, node:*.
 */
import { compareHrefs, VERDICT_PRECEDENCE } from '../api/evaluate.js';
import type { PolicyAction, ServiceMatch } from '../api/node-policy.js';
import type { DenyRule, PolicyContent, SecRule } from '../api/policy-objects.js';
import { resolveScopes, resolveSide, sideSpec, virtualServiceSpec, type PolicyContext } from './resolve.js';
import type { Selector, SelectorSpec } from './selectors.js';
import { matchesKey, resolveIngressServices, virtualServicePorts } from './services.js';

/** One rule as applied in one scope to one provider part. */
export interface CompiledRule {
  action: PolicyAction;
  /** Href of the allow or deny rule. */
  rule: string;
  /** Normalized, never empty. */
  services: ServiceMatch[];
  servicesKey: string;
  /**
   * Entry group: compiled rules with equal action, rule and services give one
   * entry (their peer sets OR'd). Groups are numbered in entry order
   * (precedence, rule href, services), so entries sort by this number.
   */
  group: number;
  provider: Selector;
  /**
   * The consumers; null for the `container_host` part of a rule, whose
   * consumer is, for each provider workload, the node hosting it.
   */
  consumer: Selector | null;
}

const DEFAULT_RESOLVE = ['workloads'] as const;

function actionOf(rule: SecRule | DenyRule, isDeny: boolean): PolicyAction {
  if (!isDeny) return 'allow';
  return (rule as DenyRule).override ? 'override_deny' : 'deny';
}

/**
 * Expand every enabled rule of every enabled ruleset. `intern` turns a spec
 * into its shared selector. Output is deduplicated (a rule repeated through
 * identical scopes compiles once) and in a deterministic order.
 *
 * Virtual-service providers and services: when a rule names services, every
 * provider (workloads and virtual services alike) uses them; when it names
 * none, each virtual service among the providers becomes a part of its own
 * with that virtual service's ports, and the workload part gets nothing
 * (validation refuses such rules; nothing is the safe reading).
 */
export function expandRules(
  ctx: PolicyContext,
  policy: PolicyContent,
  intern: (spec: SelectorSpec) => Selector,
): CompiledRule[] {
  const out = new Map<string, CompiledRule>();
  const ruleSets = [...policy.rule_sets].sort((a, b) => compareHrefs(a.href, b.href));
  for (const rs of ruleSets) {
    if (rs.enabled === false) continue;
    const scopes = resolveScopes(ctx, rs.scopes ?? []);
    const rules: [SecRule | DenyRule, boolean][] = [
      ...(rs.rules ?? []).map((r): [SecRule, boolean] => [r, false]),
      ...(rs.deny_rules ?? []).map((r): [DenyRule, boolean] => [r, true]),
    ];
    for (const [rule, isDeny] of rules) {
      if (rule.enabled === false) continue;
      const action = actionOf(rule, isDeny);
      const providers = resolveSide(ctx, rule.providers, rule.resolve_labels_as?.providers ?? DEFAULT_RESOLVE);
      if (!providers.hasActors) continue; // an empty list selects nothing (validation refuses it)
      const consumers = resolveSide(ctx, rule.consumers, rule.resolve_labels_as?.consumers ?? DEFAULT_RESOLVE);
      const services = resolveIngressServices(rule.ingress_services ?? [], ctx.services);
      const intra = rule.unscoped_consumers !== true;
      for (const scope of scopes) {
        const parts: { spec: SelectorSpec; services: ServiceMatch[] }[] =
          services.length > 0
            ? [{ spec: sideSpec(providers, scope), services }]
            : providers.virtualServices.map((v) => ({
                spec: virtualServiceSpec(v),
                services: virtualServicePorts(v, ctx.services),
              }));
        const consumer = consumers.hasActors ? intern(sideSpec(consumers, intra ? scope : null)) : null;
        for (const part of parts) {
          if (part.services.length === 0) continue;
          const provider = intern(part.spec);
          const base = {
            action,
            rule: rule.href,
            services: part.services,
            servicesKey: matchesKey(part.services),
            group: 0,
          };
          const add = (c: Selector | null) => {
            const key = `${action}|${rule.href}|${base.servicesKey}|${provider.name}|${c?.name ?? 'container_host'}`;
            if (!out.has(key)) out.set(key, { ...base, provider, consumer: c });
          };
          if (consumer) add(consumer);
          if (consumers.containerHost) add(null);
        }
      }
    }
  }
  return numberGroups([...out.values()]);
}

/** Number the entry groups of `rules` in entry order (see `CompiledRule.group`). */
function numberGroups(rules: CompiledRule[]): CompiledRule[] {
  const keyOf = (r: CompiledRule) => `${r.action}|${r.rule}|${r.servicesKey}`;
  const firsts = new Map<string, CompiledRule>();
  for (const r of rules) if (!firsts.has(keyOf(r))) firsts.set(keyOf(r), r);
  const ordered = [...firsts.values()].sort(
    (a, b) =>
      VERDICT_PRECEDENCE[a.action] - VERDICT_PRECEDENCE[b.action] ||
      compareHrefs(a.rule, b.rule) ||
      (a.servicesKey < b.servicesKey ? -1 : a.servicesKey > b.servicesKey ? 1 : 0),
  );
  const groupOf = new Map(ordered.map((r, i) => [keyOf(r), i]));
  for (const r of rules) r.group = groupOf.get(keyOf(r))!;
  return rules;
}
