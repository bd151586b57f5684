// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
import { describe, expect, it } from 'vitest';
import type { VisibilityLevel } from '@bulkhead/pce/api';
import type { DropRecord, FlowRecord } from '../probe/abi.js';
import { aggregate } from './aggregate.js';

const rec = (o: Partial<FlowRecord>): FlowRecord => ({
  saddr: '198.19.0.5',
  daddr: '198.19.1.9',
  sport: 40000,
  dport: 8080,
  proto: 6,
  ifindex: 7,
  direction: 'from_pod',
  packets: 10,
  bytes: 1000,
  firstSeenNs: 1_000_000_000n,
  lastSeenNs: 2_000_000_000n,
  tcpFlags: 0x12, // SYN, ACK: this drain saw the connection start
  connections: 1, // the initiator's SYN
  ...o,
});
const base = {
  localIps: new Set(['198.19.0.5']),
  localNetns: new Set([4026530000]),
  wallOf: (ns: bigint) => Date.UTC(2026, 11, 1) + Number(ns / 1_000_000n),
  decide: () => ({ decision: 'allowed' as const, rule: '/orgs/1/sec_policy/active/rule_sets/1/sec_rules/1' }),
};

describe('aggregate', () => {
  it('turns both directions of one TCP connection into one flow to the service port, with bytes of both', () => {
    const out = aggregate({
      ...base,
      flows: [
        rec({}),
        rec({ saddr: '198.19.1.9', daddr: '198.19.0.5', sport: 8080, dport: 40000, direction: 'to_pod', bytes: 500 }),
      ],
      drops: [],
    });
    expect(out).toEqual([
      expect.objectContaining({
        src_ip: '198.19.0.5',
        dst_ip: '198.19.1.9',
        port: 8080,
        proto: 6,
        decision: 'allowed',
        reported_by: 'source',
        num_connections: 1,
        bytes: 1500,
      }),
    ]);
  });

  it('counts connections by distinct source port and names the deciding rule', () => {
    const out = aggregate({
      ...base,
      flows: [rec({ sport: 40001 }), rec({ sport: 40002 }), rec({ sport: 40003 })],
      drops: [],
    });
    expect(out[0]!.num_connections).toBe(3);
    expect(out[0]!.rule).toContain('sec_rules/1');
  });

  it('reports a netfilter drop in a local namespace as blocked, and ignores drops in the namespaces of other nodes', () => {
    const drop = (ino: number): DropRecord => ({
      saddr: '198.19.1.9',
      daddr: '198.19.0.5',
      sport: 50000,
      dport: 22,
      proto: 6,
      netnsIno: ino,
      ifindex: 0,
      flags: 1,
      reason: 12,
      length: 60,
      tsNs: 3_000_000_000n,
    });
    const out = aggregate({
      ...base,
      decide: () => ({ decision: 'blocked' }),
      flows: [],
      drops: [drop(4026530000), drop(1)],
    });
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({
      src_ip: '198.19.1.9',
      dst_ip: '198.19.0.5',
      port: 22,
      decision: 'blocked',
      reported_by: 'destination',
    });
  });

  it('points ICMP echo at the host pinged, replies included', () => {
    const out = aggregate({
      ...base,
      flows: [
        rec({ proto: 1, sport: 77, dport: 8 << 8 }),
        rec({ proto: 1, saddr: '198.19.1.9', daddr: '198.19.0.5', sport: 77, dport: 0 }),
      ],
      drops: [],
    });
    expect(out).toEqual([
      expect.objectContaining({ src_ip: '198.19.0.5', dst_ip: '198.19.1.9', port: 8 << 8, proto: 1, packets: 20 }),
    ]);
  });

  it('skips flows with no local end and flows the evaluator cannot place', () => {
    expect(aggregate({ ...base, flows: [rec({ saddr: '10.9.9.9', daddr: '10.9.9.8' })], drops: [] })).toEqual([]);
    expect(aggregate({ ...base, decide: () => null, flows: [rec({})], drops: [] })).toEqual([]);
  });

  it('counts a TCP connection whose packets straddle two drains once: in the drain that saw its SYN', () => {
    const reverse = { saddr: '198.19.1.9', daddr: '198.19.0.5', sport: 8080, dport: 40000 };
    const later = aggregate({
      ...base,
      flows: [rec({ tcpFlags: 0x10, connections: 0 }), rec({ ...reverse, tcpFlags: 0x11, connections: 0 })],
      drops: [],
    });
    expect(later[0]).toMatchObject({ num_connections: 0, bytes: 2000 });
    const reply = aggregate({ ...base, flows: [rec({ ...reverse, tcpFlags: 0x12, connections: 0 })], drops: [] });
    expect(reply[0]!.num_connections).toBe(0); // the SYN-ACK is the service's, not a new connection
  });

  describe("follows each local end's visibility level", () => {
    const levels = (m: Record<string, VisibilityLevel>) => (ip: string) => m[ip];
    const drop: DropRecord = {
      saddr: '198.19.0.5',
      daddr: '198.19.1.9',
      sport: 40100,
      dport: 22,
      proto: 6,
      netnsIno: 4026530000,
      ifindex: 0,
      flags: 0,
      reason: 12,
      tsNs: 1_500_000_000n,
      length: 60,
    };
    const cases: [string, VisibilityLevel, string[]][] = [
      [
        'flow_summary reports allowed, potentially_blocked and blocked',
        'flow_summary',
        ['allowed', 'blocked', 'potentially_blocked'],
      ],
      ['flow_drops reports blocked and potentially_blocked only', 'flow_drops', ['blocked', 'potentially_blocked']],
      ['flow_off reports nothing', 'flow_off', []],
      [
        'enhanced_data_collection reports everything',
        'enhanced_data_collection',
        ['allowed', 'blocked', 'potentially_blocked'],
      ],
    ];
    for (const [name, level, want] of cases)
      it(name, () => {
        const out = aggregate({
          ...base,
          flows: [rec({ dport: 8080 }), rec({ dport: 9090, sport: 40001 })],
          drops: [drop],
          decide: (_s, _d, port) => ({ decision: port === 8080 ? 'allowed' : 'potentially_blocked' }),
          visibilityOf: levels({ '198.19.0.5': level }),
        });
        expect(out.map((f) => f.decision).sort()).toEqual(want);
      });

    it('keeps a flow between two local ends that either end may report, and names that end', () => {
      const both = { ...base, localIps: new Set(['198.19.0.5', '198.19.1.9']), flows: [rec({})], drops: [] };
      const bySource = aggregate({
        ...both,
        visibilityOf: levels({ '198.19.0.5': 'flow_summary', '198.19.1.9': 'flow_off' }),
      });
      expect(bySource.map((f) => f.reported_by)).toEqual(['source']);
      const byDest = aggregate({
        ...both,
        visibilityOf: levels({ '198.19.0.5': 'flow_off', '198.19.1.9': 'flow_summary' }),
      });
      expect(byDest.map((f) => f.reported_by)).toEqual(['destination']);
      expect(
        aggregate({ ...both, visibilityOf: levels({ '198.19.0.5': 'flow_off', '198.19.1.9': 'flow_drops' }) }),
      ).toEqual([]);
    });
  });

  it('counts every connection of a client port reused within one drain (one record, two SYNs)', () => {
    const out = aggregate({ ...base, flows: [rec({ connections: 2 }), rec({ sport: 40001 })], drops: [] });
    expect(out[0]!.num_connections).toBe(3);
  });

  it('counts a pod-to-pod connection on one node once when its two SYN records (both veths) fall in two drains', () => {
    const both = {
      ...base,
      localIps: new Set(['198.19.0.5', '198.19.1.9']),
      probedIps: new Set(['198.19.0.5', '198.19.1.9']),
    };
    const syn = { tcpFlags: 0x02 };
    const first = aggregate({ ...both, flows: [rec({ ...syn, direction: 'from_pod', ifindex: 7 })], drops: [] });
    const second = aggregate({ ...both, flows: [rec({ ...syn, direction: 'to_pod', ifindex: 9 })], drops: [] });
    expect(first[0]!.num_connections + second[0]!.num_connections).toBe(1);
    // A source the probe does not watch (the node, another node's pod): the destination veth's record counts.
    const remote = aggregate({
      ...base,
      flows: [rec({ ...syn, direction: 'to_pod' })],
      drops: [],
      localIps: new Set(['198.19.1.9']),
    });
    expect(remote[0]!.num_connections).toBe(1);
  });
});
