// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
import { describe, expect, it } from 'vitest';
import {
  decodeCounters,
  decodeDropRecords,
  decodeFlowRecords,
  DROP_RECORD,
  encodeOptions,
  FLOW_RECORD,
  formatAddress,
  PROBE_COUNTERS,
  tcpFlagNames,
  type FlowRecord,
} from './abi.js';
import { FlowTable } from './flow-table.js';
import { dropJson, flowJson, flowText, wallClock } from './format.js';

const v4 = (a: string): number[] => [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...a.split('.').map(Number)];

function flowRecordBytes(): Uint8Array {
  const b = new Uint8Array(2 * FLOW_RECORD.size);
  const dv = new DataView(b.buffer);
  b.set(v4('198.19.1.2'), 0);
  b.set(v4('198.19.2.2'), 16);
  dv.setUint16(32, 40000, false);
  dv.setUint16(34, 9000, false);
  dv.setUint32(36, 7, true);
  b[40] = 6;
  b[41] = 1;
  dv.setBigUint64(48, 12n, true);
  dv.setBigUint64(56, 70_000n, true);
  dv.setBigUint64(64, 1_000_000n, true);
  dv.setBigUint64(72, 3_000_000n, true);
  dv.setUint32(80, 0x13, true);
  dv.setUint32(84, 1, true); // conns
  // second record: IPv6 ICMPv6 echo request id 7, to_pod
  const o = FLOW_RECORD.size;
  b.set([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], o);
  b.set([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], o + 16);
  dv.setUint16(o + 32, 7, false);
  dv.setUint16(o + 34, 128 << 8, false);
  b[o + 40] = 58;
  b[o + 41] = 2;
  dv.setBigUint64(o + 48, 1n, true);
  return b;
}

describe('record decoding', () => {
  it('decodes flow records: network-order ports, IPv4-mapped addresses, host-order counters', () => {
    const [tcp, icmp] = decodeFlowRecords(flowRecordBytes(), 2);
    expect(tcp).toEqual({
      saddr: '198.19.1.2',
      daddr: '198.19.2.2',
      sport: 40000,
      dport: 9000,
      ifindex: 7,
      proto: 6,
      direction: 'from_pod',
      packets: 12,
      bytes: 70_000,
      firstSeenNs: 1_000_000n,
      lastSeenNs: 3_000_000n,
      tcpFlags: 0x13,
      connections: 1,
    });
    expect(icmp).toMatchObject({ saddr: 'fd00::1', daddr: 'fd00::2', sport: 7, dport: 0x8000, direction: 'to_pod' });
  });

  it('decodes a drop record', () => {
    const b = new Uint8Array(DROP_RECORD.size);
    const dv = new DataView(b.buffer);
    b.set(v4('198.19.1.1'), 0);
    b.set(v4('198.19.1.2'), 16);
    dv.setUint16(32, 5555, false);
    dv.setUint16(34, 7001, false);
    b[36] = 6;
    b[37] = 1;
    dv.setUint32(40, 4026532000, true);
    dv.setUint32(44, 2, true);
    dv.setUint32(48, 12, true);
    dv.setUint32(52, 60, true);
    dv.setBigUint64(56, 5n, true);
    expect(decodeDropRecords(b, 1)[0]).toEqual({
      saddr: '198.19.1.1',
      daddr: '198.19.1.2',
      sport: 5555,
      dport: 7001,
      proto: 6,
      flags: 1,
      netnsIno: 4026532000,
      ifindex: 2,
      reason: 12,
      length: 60,
      tsNs: 5n,
    });
  });

  it('decodes counters and encodes options in the C layout', () => {
    const b = new Uint8Array(PROBE_COUNTERS.size);
    const dv = new DataView(b.buffer);
    [1, 2, 3, 4, 5, 6, 7, 8, 9].forEach((v, i) => dv.setBigUint64(i * 8, BigInt(v), true));
    expect(decodeCounters(b)).toEqual({
      flowsCreated: 1,
      flowsDrained: 2,
      flowsEvicted: 3,
      flowsFull: 4,
      ringFull: 5,
      unparsed: 6,
      nonIp: 7,
      drops: 8,
      dropsNoTuple: 9,
    });
    expect([...encodeOptions({ flowsMaxEntries: 8 })]).toEqual([8, 0, 0, 0, 0, 0, 0, 0]);
  });

  it.each([
    ['IPv4-mapped', v4('10.1.2.3'), '10.1.2.3'],
    ['all zero', new Array(16).fill(0), '::'],
    ['loopback', [...new Array(15).fill(0), 1], '::1'],
    ['longest zero run compressed', [0xfd, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], 'fd00:0:1::2'],
    ['first of two equal runs compressed', [0xfd, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 2], 'fd00::1:0:0:1:2'],
    ['no zero run', [0x20, 1, 0xd, 0xb8, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6], '2001:db8:1:2:3:4:5:6'],
    [
      'single zero word not compressed',
      [0x20, 1, 0xd, 0xb8, 0, 0, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6],
      '2001:db8:0:2:3:4:5:6',
    ],
  ])('formats %s addresses', (_name, bytes, text) => {
    expect(formatAddress(new Uint8Array(bytes))).toBe(text);
  });

  it('names TCP flags in bit order', () => {
    expect(tcpFlagNames(0x13)).toEqual(['FIN', 'SYN', 'ACK']);
    expect(tcpFlagNames(0)).toEqual([]);
  });
});

const rec = (over: Partial<FlowRecord>): FlowRecord => ({
  saddr: '198.19.1.2',
  daddr: '198.19.2.2',
  sport: 40000,
  dport: 9000,
  ifindex: 7,
  proto: 6,
  direction: 'from_pod',
  packets: 1,
  bytes: 100,
  firstSeenNs: 10n,
  lastSeenNs: 10n,
  tcpFlags: 0x02,
  connections: 1,
  ...over,
});

describe('FlowTable', () => {
  it('sums drained records per flow and reports each touched flow once', () => {
    const t = new FlowTable();
    t.add([rec({})]);
    const touched = t.add([
      rec({ packets: 2, bytes: 200, firstSeenNs: 20n, lastSeenNs: 30n, tcpFlags: 0x10 }),
      rec({ packets: 1, bytes: 50, lastSeenNs: 40n, tcpFlags: 0x01 }),
    ]);
    expect(touched).toHaveLength(1);
    expect(touched[0]).toMatchObject({ packets: 4, bytes: 350, firstSeenNs: 10n, lastSeenNs: 40n, tcpFlags: 0x13 });
  });

  it('keeps directions and veths apart', () => {
    const t = new FlowTable();
    t.add([rec({}), rec({ direction: 'to_pod' }), rec({ ifindex: 8 })]);
    expect(t.size).toBe(3);
  });

  it('forgets the least recently touched flow beyond its bound', () => {
    const t = new FlowTable(2);
    t.add([rec({ sport: 1 }), rec({ sport: 2 })]);
    t.add([rec({ sport: 1 })]);
    t.add([rec({ sport: 3 })]);
    expect(t.all().map((f) => f.sport)).toEqual([1, 3]);
  });
});

describe('probe output', () => {
  const toWall = wallClock(Date.UTC(2026, 0, 1), 0n);

  it('prints a flow as one JSON object with numeric ports and counts', () => {
    const [flow] = new FlowTable().add([rec({ packets: 3, bytes: 300, tcpFlags: 0x12, lastSeenNs: 1_000_000n })]);
    expect(flowJson(flow!, 'veth0', toWall)).toEqual({
      kind: 'flow',
      interface: 'veth0',
      direction: 'from_pod',
      protocol: 'tcp',
      source: { ip: '198.19.1.2', port: 40000 },
      destination: { ip: '198.19.2.2', port: 9000 },
      packets: 3,
      bytes: 300,
      tcp_flags: ['SYN', 'ACK'],
      first_seen: '2026-01-01T00:00:00.000Z',
      last_seen: '2026-01-01T00:00:00.001Z',
    });
  });

  it('prints ICMP with type, code and identifier instead of ports', () => {
    const [flow] = new FlowTable().add([rec({ proto: 1, sport: 4660, dport: 8 << 8, tcpFlags: 0 })]);
    const j = flowJson(flow!, 'veth0', toWall);
    expect(j).toMatchObject({ protocol: 'icmp', source: { ip: '198.19.1.2' }, icmp: { type: 8, code: 0, id: 4660 } });
    expect(flowText(flow!, 'veth0')).toContain('type 8 code 0 id 4660');
  });

  it('prints a drop with the side of the hook it was found on', () => {
    const j = dropJson(
      {
        saddr: '198.19.1.1',
        daddr: '198.19.1.2',
        sport: 5555,
        dport: 7001,
        proto: 6,
        flags: 2,
        netnsIno: 1,
        ifindex: 0,
        reason: 12,
        length: 60,
        tsNs: 0n,
      },
      'peer',
      toWall,
    );
    expect(j).toMatchObject({ kind: 'drop', namespace: 'peer', hook_side: 'output', destination: { port: 7001 } });
  });
});
