// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
import { describe, expect, it } from 'vitest';
import type { ServiceMatch } from '../api/node-policy.js';
import type { IngressService } from '../api/policy-objects.js';
import { normalizeMatches, normalizePort, resolveIngressServices, virtualServicePorts } from './services.js';
import { service, serviceHref, virtualService } from './test-support.js';

describe('normalizePort', () => {
  it.each<[string, Parameters<typeof normalizePort>[0], ServiceMatch]>([
    ['one TCP port', { proto: 6, port: 80 }, { proto: 6, port: 80 }],
    ['a range', { proto: 6, port: 80, to_port: 90 }, { proto: 6, port: 80, to_port: 90 }],
    ['to_port equal to port is one port', { proto: 17, port: 53, to_port: 53 }, { proto: 17, port: 53 }],
    ['proto -1 drops everything else', { proto: -1, port: 80 }, { proto: -1 }],
    ['missing proto means every protocol (ours)', { port: 80 }, { proto: -1 }],
    [
      'ICMP keeps type and code, drops ports',
      { proto: 1, port: 5, icmp_type: 3, icmp_code: 1 },
      { proto: 1, icmp_type: 3, icmp_code: 1 },
    ],
    ['ICMP code without a type is dropped', { proto: 58, icmp_code: 1 }, { proto: 58 }],
    ['a protocol without ports', { proto: 47 }, { proto: 47 }],
  ])('%s', (_name, p, want) => {
    expect(normalizePort(p)).toEqual(want);
  });
});

describe('normalizeMatches', () => {
  it('sorts and removes duplicates', () => {
    expect(
      normalizeMatches([
        { proto: 17, port: 53 },
        { proto: 6, port: 443 },
        { proto: 6, port: 80 },
        { proto: 6, port: 80 },
      ]),
    ).toEqual([
      { proto: 6, port: 80 },
      { proto: 6, port: 443 },
      { proto: 17, port: 53 },
    ]);
  });

  it('collapses to proto -1 when anything matches every protocol', () => {
    expect(normalizeMatches([{ proto: 6, port: 80 }, { proto: -1 }])).toEqual([{ proto: -1 }]);
  });
});

describe('resolveIngressServices', () => {
  const services = new Map(
    [
      service(1, 'All Services', []), // by name, whatever its ports say
      service(2, 'pg', [{ proto: 6, port: 5432 }]),
    ].map((s) => [s.href, s]),
  );
  it.each<[string, IngressService[], ServiceMatch[]]>([
    ['"All Services" by href', [{ href: serviceHref(1) }], [{ proto: -1 }]],
    [
      'a named service and an inline port',
      [{ href: serviceHref(2) }, { proto: 6, port: 22 }],
      [
        { proto: 6, port: 22 },
        { proto: 6, port: 5432 },
      ],
    ],
    ['a service href that names nothing', [{ href: serviceHref(9) }], []],
    ['nothing', [], []],
  ])('%s', (_name, list, want) => {
    expect(resolveIngressServices(list, services)).toEqual(want);
  });

  it('gives a virtual service its own ports, else those of its service', () => {
    const vs = virtualService(1, { ports: [{ proto: 6, port: 8080 }] });
    expect(virtualServicePorts(vs, services)).toEqual([{ proto: 6, port: 8080 }]);
    expect(virtualServicePorts({ ...vs, service_ports: [], service: { href: serviceHref(2) } }, services)).toEqual([
      { proto: 6, port: 5432 },
    ]);
    expect(virtualServicePorts({ ...vs, service_ports: [] }, services)).toEqual([]);
  });
});
