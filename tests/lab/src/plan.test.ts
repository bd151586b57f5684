// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
import { describe, expect, it } from 'vitest';
import { checkLabName, cidrsOverlap, linkTag, planLab, slotCIDRs } from './plan.js';

describe('planLab', () => {
  it('gives each node a unique underlay address and pod subnet inside the benchmarking range', () => {
    const p = planLab('acc', 3, 3);
    expect(p.nodes.map((n) => n.ip)).toEqual(['198.18.3.10', '198.18.3.11', '198.18.3.12']);
    expect(p.nodes.map((n) => n.podCIDR)).toEqual(['198.19.48.0/24', '198.19.49.0/24', '198.19.50.0/24']);
    expect(p.nodes.every((n) => cidrsOverlap(n.podCIDR, p.clusterCIDR))).toBe(true);
    expect(p.apiServer.url).toBe('https://198.18.3.1:6443');
  });

  it('names node namespaces bh-<lab>-n<i> and keeps link names within 15 characters', () => {
    const p = planLab('a-twenty-char-name-x', 15, 16);
    expect(p.nodes[15]!.name).toBe('bh-a-twenty-char-name-x-n15');
    for (const l of [p.bridge, p.outside.hostVeth, ...p.nodes.map((n) => n.hostVeth)])
      expect(l.length).toBeLessThanOrEqual(15);
  });

  it('gives different slots disjoint addresses', () => {
    const all = [0, 1, 2, 15].flatMap((s) => slotCIDRs(s).map((c) => ({ s, c })));
    for (const x of all) for (const y of all) if (x.s !== y.s) expect(cidrsOverlap(x.c, y.c)).toBe(false);
  });

  it.each([['UPPER'], ['-lead'], ['trail-'], ['a'.repeat(21)], ['dot.ted'], ['']])('rejects lab name %j', (n) => {
    expect(() => checkLabName(n)).toThrow(/lab name/);
  });

  it('rejects node counts outside 1..16', () => {
    expect(() => planLab('x', 0, 0)).toThrow(/1 to 16/);
    expect(() => planLab('x', 0, 17)).toThrow(/1 to 16/);
  });

  it('derives link tags from the lab name', () => {
    expect(linkTag('x')).toMatch(/^bh[0-9a-f]{6}$/);
    expect(linkTag('x')).not.toBe(linkTag('y'));
  });
});
