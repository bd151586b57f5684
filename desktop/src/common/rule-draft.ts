// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The rule that would allow a map edge: consumers are the source group's
 * labels, providers the destination group's, services the edge's ports.
 * A group without a workload (an address) becomes an IP list the user must
 * pick, so such edges are reported rather than guessed. Pure.
 */

/** A label as the API lists it. */
export interface LabelRef {
  href: string;
  key: string;
  value: string;
}

export interface EdgeEnds {
  /** Group labels by key (`{app: 'shop', env: 'prod'}`); `ip` for an address. */
  source: Record<string, string>;
  target: Record<string, string>;
  ports: { port: number; proto: number }[];
}

/** A label, or every workload of the scope (`ams`). */
export type RuleActor = { label: { href: string } } | { actors: 'ams' };

export interface RuleDraft {
  ruleset: { name: string; scopes: { label: { href: string } }[][] };
  rule: {
    consumers: RuleActor[];
    providers: RuleActor[];
    ingress_services: { port?: number; proto: number }[];
    unscoped_consumers: boolean;
  };
  /** Why a draft could not be made (an end without labels); the rule is then empty. */
  problems: string[];
}

/**
 * The ruleset (scoped to the labels both ends share, e.g. env=prod) and the
 * rule inside it that allows the edge. A side whose labels all lie in the
 * scope is the scope's own workloads (written as its labels all the same, so
 * the rule reads plainly); a consumer outside the scope makes the rule
 * extra-scope (`unscoped_consumers`).
 */
export function ruleForEdge(edge: EdgeEnds, labels: LabelRef[]): RuleDraft {
  const problems: string[] = [];
  const find = (key: string, value: string) => labels.find((l) => l.key === key && l.value === value);
  const side = (g: Record<string, string>, name: string): LabelRef[] => {
    if (g.ip !== undefined) {
      problems.push(`${name} ${g.ip} is an address, not a workload: write the rule with an IP list`);
      return [];
    }
    const out: LabelRef[] = [];
    for (const [k, v] of Object.entries(g)) {
      if (!v) continue;
      const l = find(k, v);
      if (l) out.push(l);
      else problems.push(`${name} label ${k}=${v} does not exist any more`);
    }
    if (!out.length && !problems.length) problems.push(`${name} has no labels to write a rule with`);
    return out;
  };
  const cons = side(edge.source, 'the source');
  const prov = side(edge.target, 'the destination');
  const shared = prov.filter((p) => p.key !== 'app' && cons.some((c) => c.href === p.href));
  const name = (g: Record<string, string>) =>
    Object.entries(g)
      .filter(([, v]) => v)
      .map(([, v]) => v)
      .join('/');
  return {
    ruleset: {
      name: `${name(edge.source) || 'any'} to ${name(edge.target) || 'any'}`,
      scopes: [shared.map((l) => ({ label: { href: l.href } }))],
    },
    rule: {
      consumers: actorsOf(cons, shared),
      providers: actorsOf(prov, shared),
      ingress_services: edge.ports.map((p) =>
        p.proto === 6 || p.proto === 17 ? { port: p.port, proto: p.proto } : { proto: p.proto },
      ),
      unscoped_consumers: false,
    },
    problems,
  };
}

/** A side's labels less the scope's; all of them in the scope: every workload of the scope. */
function actorsOf(side: LabelRef[], scope: LabelRef[]): RuleActor[] {
  const rest = side.filter((l) => !scope.some((s) => s.href === l.href));
  if (!side.length) return [];
  return rest.length ? rest.map((l) => ({ label: { href: l.href } })) : [{ actors: 'ams' }];
}
