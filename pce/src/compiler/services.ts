// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * A rule's services as compiled `ServiceMatch` lists: services by href
 * resolved from the policy version, inline ports, ranges, ICMP, "All
 * Services", and the ports of a virtual service.
 *
 * Owns: the normal form of a service list (deduplicated, sorted, and
 * collapsed to `[{proto: -1}]` when anything matches every protocol).
 * Pure. Must not import: ../store, ../http, fastify, node:*.
 * Semantics: shared/POLICY.md "Services".
 */
import type { ServiceMatch } from '../api/node-policy.js';
import {
  ALL_SERVICES_NAME,
  PROTO,
  type IngressService,
  type Service,
  type ServicePort,
  type VirtualService,
} from '../api/policy-objects.js';

/** A port/protocol as the policy objects write it (inline, service port, virtual-service port). */
type PortLike = Pick<ServicePort, 'port' | 'to_port' | 'icmp_type' | 'icmp_code'> & { proto?: number };

const ALL: ServiceMatch = { proto: PROTO.ALL };

/**
 * One port/protocol in normal form, keys in wire order. A missing `proto` is
 * -1 (ours: the schema requires it; a stored object without one matches every
 * protocol rather than nothing). ICMP protocols keep type/code and drop ports;
 * other protocols keep `port` and `to_port` (only when above `port`).
 */
export function normalizePort(p: PortLike): ServiceMatch {
  const proto = p.proto ?? PROTO.ALL;
  if (proto === PROTO.ALL) return { ...ALL };
  const out: ServiceMatch = { proto };
  if (proto === PROTO.ICMP || proto === PROTO.ICMPV6) {
    if (p.icmp_type !== undefined) {
      out.icmp_type = p.icmp_type;
      if (p.icmp_code !== undefined) out.icmp_code = p.icmp_code;
    }
    return out;
  }
  if (p.port !== undefined) {
    out.port = p.port;
    if (p.to_port !== undefined && p.to_port > p.port) out.to_port = p.to_port;
  }
  return out;
}

const rank = (n: number | undefined) => (n === undefined ? -1 : n);

function compareMatches(a: ServiceMatch, b: ServiceMatch): number {
  return (
    a.proto - b.proto ||
    rank(a.port) - rank(b.port) ||
    rank(a.to_port) - rank(b.to_port) ||
    rank(a.icmp_type) - rank(b.icmp_type) ||
    rank(a.icmp_code) - rank(b.icmp_code)
  );
}

/** Deduplicated and sorted; `[{proto: -1}]` alone when any entry matches everything. */
export function normalizeMatches(list: readonly ServiceMatch[]): ServiceMatch[] {
  if (list.some((m) => m.proto === PROTO.ALL)) return [{ ...ALL }];
  const byKey = new Map<string, ServiceMatch>();
  for (const m of list) byKey.set(JSON.stringify(m), m);
  return [...byKey.values()].sort(compareMatches);
}

/** Stable text of a normalized list (for grouping entries). */
export function matchesKey(list: readonly ServiceMatch[]): string {
  return JSON.stringify(list);
}

/** The ports of a service object ("All Services", by name, is always `[{proto: -1}]`). */
export function servicePorts(s: Service): ServiceMatch[] {
  if (s.name === ALL_SERVICES_NAME) return [{ ...ALL }];
  return normalizeMatches(s.service_ports.map(normalizePort));
}

/**
 * A rule's `ingress_services`. A service href that names no service of this
 * policy version contributes nothing (validation refuses such rules; an old
 * version read back may still hold one).
 */
export function resolveIngressServices(
  list: readonly IngressService[],
  services: ReadonlyMap<string, Service>,
): ServiceMatch[] {
  const out: ServiceMatch[] = [];
  for (const s of list) {
    if (s.href !== undefined) {
      const svc = services.get(s.href);
      if (svc) out.push(...servicePorts(svc));
    } else {
      out.push(normalizePort(s));
    }
  }
  return normalizeMatches(out);
}

/** A virtual service's own ports: `service_ports`, else those of its `service`. May be empty. */
export function virtualServicePorts(vs: VirtualService, services: ReadonlyMap<string, Service>): ServiceMatch[] {
  if (vs.service_ports.length > 0) return normalizeMatches(vs.service_ports.map(normalizePort));
  const svc = vs.service ? services.get(vs.service.href) : undefined;
  return svc ? servicePorts(svc) : [];
}
