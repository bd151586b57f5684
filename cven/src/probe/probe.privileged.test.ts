// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// Privileged: loads BPF programs, creates network namespaces, veths, nft tables and TC filters (root).
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it, onTestFinished } from 'vitest';
import { bpfObjectIds, createPodNs, tcState, type PodNs } from '../test-support/netns.js';
import {
  DROP_F_NS_FROM_DEV,
  DROP_F_NS_FROM_SK,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPPROTO_TCP,
  IPPROTO_UDP,
} from './abi.js';
import { Probe } from './ffi.js';
import { FlowTable, flowId, type FlowTotals } from './flow-table.js';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Ethernet + smallest IP + smallest TCP header; and the largest (options) we accept as overhead. */
const TCP_V4_MIN_HDR = 14 + 20 + 20;
const TCP_MAX_HDR = 14 + 60 + 60;

/** A probe attached to the pod's host veth, closed (and checked closed) when the test ends. */
async function probeOn(pod: PodNs, options = {}): Promise<Probe> {
  const probe = Probe.open(options);
  onTestFinished(() => probe.close());
  probe.attach(pod.hostIfindex);
  return probe;
}

/** Drain until two drains in a row are empty; accumulate into one table. */
async function drainAll(probe: Probe, table = new FlowTable()): Promise<FlowTable> {
  let quiet = 0;
  while (quiet < 2) {
    await sleep(50);
    const recs = probe.drainFlows();
    quiet = recs.length === 0 ? quiet + 1 : 0;
    table.add(recs);
  }
  return table;
}

function flow(table: FlowTable, pod: PodNs, f: Omit<Parameters<typeof flowId>[0], 'ifindex'>): FlowTotals {
  const t = table.get(flowId({ ifindex: pod.hostIfindex, ...f }));
  if (!t) {
    const seen = table.all().map((x) => flowId(x));
    throw new Error(`no flow ${flowId({ ifindex: pod.hostIfindex, ...f })}; seen: ${seen.join(', ')}`);
  }
  return t;
}

// Prints its port, the bytes it received, and what it retransmitted (struct tcp_info:
// tcpi_bytes_retrans at offset 208, kernel >= 4.19): a loaded
// 2-core machine retransmits now and then, and those bytes are on the wire too.
const TCP_CLIENT = `
import socket, struct, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])))
c.sendall(b"x" * int(sys.argv[3]))
c.shutdown(socket.SHUT_WR)
n = 0
while True:
    b = c.recv(65536)
    if not b: break
    n += len(b)
info = c.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
rbytes = struct.unpack_from("Q", info, 208)[0]
print(c.getsockname()[1], n, rbytes)
c.close()
`;

// Connects argv[4] times from one bound port (SO_REUSEADDR), waiting for the server's FIN each time;
// prints the port.
const REUSING_CLIENT = `
import socket, sys, time
src, dst, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
sport = 0
for i in range(n):
    for attempt in range(200):
        c = socket.socket()
        c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            c.bind((src, sport)); break
        except OSError:
            c.close(); time.sleep(0.01)
    sport = c.getsockname()[1]
    c.settimeout(5)
    c.connect((dst, port))
    while c.recv(1024): pass
    c.close()
    time.sleep(0.05)
print(sport)
`;

const UDP6_CLIENT = `
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.settimeout(5)
s.connect((sys.argv[1], int(sys.argv[2])))
for i in range(int(sys.argv[3])):
    s.send(b"u" * int(sys.argv[4]))
    s.recv(65536)
print(s.getsockname()[1])
`;

const PING = `
import socket, struct, sys
v6 = ":" in sys.argv[1]
ident, count = int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_RAW,
                  socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
s.settimeout(3)
def csum(b):
    if len(b) % 2: b += b"\\0"
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b)); t = (t >> 16) + (t & 0xffff); t += t >> 16
    return ~t & 0xffff
for seq in range(count):
    hdr = struct.pack("!BBHHH", 128 if v6 else 8, 0, 0, ident, seq)
    payload = b"p" * 56
    if not v6: hdr = struct.pack("!BBHHH", 8, 0, csum(hdr + payload), ident, seq)
    s.sendto(hdr + payload, (sys.argv[1], 0))
    while True:
        data = s.recv(2048)
        body = data if v6 else data[(data[0] & 15) * 4:]
        if body[0] == (129 if v6 else 0) and struct.unpack("!H", body[4:6])[0] == ident: break
`;

describe.skipIf(!isRoot)('flow probe (privileged)', () => {
  it('reports a TCP transfer of known size in both directions with its 5-tuple and wire bytes', async () => {
    const pod = await createPodNs();
    onTestFinished(() => pod.destroy());
    const received = { bytes: 0, closed: false };
    const server = createServer((sock: Socket) => {
      sock.on('data', (b) => (received.bytes += b.length));
      sock.on('end', () => sock.end(Buffer.alloc(256 * 1024, 'r')));
      sock.on('close', () => (received.closed = true));
    });
    onTestFinished(() => new Promise<void>((r) => server.close(() => r())));
    await new Promise<void>((r) => server.listen(0, pod.hostIp, r));
    const port = (server.address() as AddressInfo).port;
    const probe = await probeOn(pod);

    const sent = 1024 * 1024 + 1234;
    const [cport, got, retransBytes] = (await pod.python(TCP_CLIENT, [pod.hostIp, String(port), String(sent)]))
      .trim()
      .split(' ')
      .map(Number);
    for (let i = 0; i < 100 && !received.closed; i++) await sleep(20);
    const table = await drainAll(probe);

    expect(received.bytes).toBe(sent);
    expect(got).toBe(256 * 1024);
    const tuple = { proto: IPPROTO_TCP, saddr: pod.podIp, sport: cport!, daddr: pod.hostIp, dport: port };
    const out = flow(table, pod, { direction: 'from_pod', ...tuple });
    const back = flow(table, pod, {
      direction: 'to_pod',
      proto: IPPROTO_TCP,
      saddr: pod.hostIp,
      sport: port,
      daddr: pod.podIp,
      dport: cport!,
    });
    // Payload plus one set of headers per wire packet (and what was sent again): no more, no less.
    expect(out.bytes - sent).toBeGreaterThanOrEqual(out.packets * TCP_V4_MIN_HDR);
    expect(out.bytes - sent - retransBytes!).toBeLessThanOrEqual(out.packets * TCP_MAX_HDR);
    expect(back.bytes - 256 * 1024).toBeGreaterThanOrEqual(back.packets * TCP_V4_MIN_HDR);
    expect(back.bytes - 256 * 1024).toBeLessThanOrEqual(back.packets * TCP_MAX_HDR);
    // At least one packet per MSS-sized segment (GSO expanded to the wire).
    expect(out.packets).toBeGreaterThanOrEqual(Math.ceil(sent / 65483));
    expect(out.tcpFlags & 0x13).toBe(0x13); // SYN, ACK, FIN
    expect(back.tcpFlags & 0x13).toBe(0x13);
    expect(out.lastSeenNs).toBeGreaterThanOrEqual(out.firstSeenNs);
    expect(probe.readCounters()).toMatchObject({ flowsFull: 0, unparsed: 0, flowsEvicted: 0, ringFull: 0 });
  });

  it('counts each connection of a client port reused before a drain (one entry, several SYNs)', async () => {
    const pod = await createPodNs();
    onTestFinished(() => pod.destroy());
    // The server closes first (as the flow benchmark's does), so the client's port is free again at once.
    const server = createServer((s) => s.end());
    onTestFinished(() => new Promise<void>((r) => server.close(() => r())));
    await new Promise<void>((r) => server.listen(0, pod.hostIp, r));
    const port = (server.address() as AddressInfo).port;
    const probe = await probeOn(pod);

    const times = 5;
    const cport = Number(await pod.python(REUSING_CLIENT, [pod.podIp, pod.hostIp, String(port), String(times)]));
    const recs = probe.drainFlows(); // one drain: every connection in one entry
    const out = recs.filter(
      (r) => r.direction === 'from_pod' && r.proto === IPPROTO_TCP && r.sport === cport && r.dport === port,
    );
    const back = recs.filter((r) => r.direction === 'to_pod' && r.proto === IPPROTO_TCP && r.sport === port);
    expect(out).toHaveLength(1);
    expect(out[0]!.connections).toBe(times);
    expect(back.reduce((a, r) => a + r.connections, 0)).toBe(0); // SYN-ACKs open nothing
  });

  it('reports UDP over IPv6 with exact wire bytes both ways', async () => {
    const pod = await createPodNs();
    onTestFinished(() => pod.destroy());
    const server = createSocket('udp6');
    onTestFinished(() => new Promise<void>((r) => server.close(() => r())));
    server.on('message', (msg, rinfo) => server.send(msg, rinfo.port, rinfo.address));
    await new Promise<void>((r) => server.bind(0, pod.hostIp6, r));
    const port = server.address().port;
    const probe = await probeOn(pod);

    const count = 20;
    const size = 500;
    const cport = Number(
      (await pod.python(UDP6_CLIENT, [pod.hostIp6, String(port), String(count), String(size)])).trim(),
    );
    const table = await drainAll(probe);

    const wire = count * (14 + 40 + 8 + size);
    const out = flow(table, pod, {
      direction: 'from_pod',
      proto: IPPROTO_UDP,
      saddr: pod.podIp6,
      sport: cport,
      daddr: pod.hostIp6,
      dport: port,
    });
    const back = flow(table, pod, {
      direction: 'to_pod',
      proto: IPPROTO_UDP,
      saddr: pod.hostIp6,
      sport: port,
      daddr: pod.podIp6,
      dport: cport,
    });
    expect(out).toMatchObject({ packets: count, bytes: wire, tcpFlags: 0 });
    expect(back).toMatchObject({ packets: count, bytes: wire, tcpFlags: 0 });
  });

  it('reports ICMP and ICMPv6 echo keyed by identifier and type', async () => {
    const pod = await createPodNs();
    onTestFinished(() => pod.destroy());
    const probe = await probeOn(pod);

    await pod.python(PING, [pod.hostIp, '4660', '3']);
    await pod.python(PING, [pod.hostIp6, '4661', '2']);
    const table = await drainAll(probe);

    const v4 = { proto: IPPROTO_ICMP, saddr: pod.podIp, daddr: pod.hostIp };
    expect(flow(table, pod, { direction: 'from_pod', ...v4, sport: 4660, dport: 8 << 8 })).toMatchObject({
      packets: 3,
      bytes: 3 * (14 + 20 + 8 + 56),
    });
    expect(
      flow(table, pod, {
        direction: 'to_pod',
        proto: IPPROTO_ICMP,
        saddr: pod.hostIp,
        daddr: pod.podIp,
        sport: 4660,
        dport: 0,
      }),
    ).toMatchObject({ packets: 3, bytes: 3 * (14 + 20 + 8 + 56) });
    const v6 = { proto: IPPROTO_ICMPV6, saddr: pod.podIp6, daddr: pod.hostIp6 };
    expect(flow(table, pod, { direction: 'from_pod', ...v6, sport: 4661, dport: 128 << 8 })).toMatchObject({
      packets: 2,
      bytes: 2 * (14 + 40 + 8 + 56),
    });
    expect(
      flow(table, pod, {
        direction: 'to_pod',
        proto: IPPROTO_ICMPV6,
        saddr: pod.hostIp6,
        daddr: pod.podIp6,
        sport: 4661,
        dport: 129 << 8,
      }),
    ).toMatchObject({ packets: 2 });
  });

  it('reports connections nftables drops on the input and the output hook, with 5-tuple and namespace', async () => {
    const pod = await createPodNs();
    onTestFinished(() => pod.destroy());
    const table =
      'table inet bh_probe_test {\n' +
      '  chain input { type filter hook input priority 0; tcp dport 7001 drop; }\n' +
      '  chain output { type filter hook output priority 0; tcp dport 7002 drop; }\n}\n';
    await new Promise<void>((resolve, reject) => {
      const child = execFile('nsenter', [`--net=${pod.netnsPath}`, 'nft', '-f', '-'], (err) =>
        err ? reject(err) : resolve(),
      );
      child.stdin?.end(table);
    });
    const probe = await probeOn(pod);

    // Input hook: the host connects into the pod; the pod's input chain drops the SYN.
    await new Promise<void>((resolve) => {
      const s = connect({ host: pod.podIp, port: 7001, localAddress: pod.hostIp });
      s.on('error', () => resolve());
      setTimeout(() => (s.destroy(), resolve()), 1_200);
    });
    // Output hook: the pod connects out; its output chain drops the SYN before a device is chosen.
    await pod.python(
      'import socket,sys\ns=socket.socket(); s.settimeout(1.2)\ntry: s.connect((sys.argv[1], 7002))\nexcept OSError: pass',
      [pod.hostIp],
    );
    await sleep(50);
    const drops = probe.drainDrops().filter((d) => d.netnsIno === pod.netnsIno);

    const inbound = drops.find((d) => d.dport === 7001);
    expect(inbound).toMatchObject({ proto: IPPROTO_TCP, saddr: pod.hostIp, daddr: pod.podIp, reason: 12 });
    expect(inbound!.flags & DROP_F_NS_FROM_DEV).toBe(DROP_F_NS_FROM_DEV);
    expect(inbound!.ifindex).toBeGreaterThan(0);
    const outbound = drops.find((d) => d.dport === 7002);
    expect(outbound).toMatchObject({ proto: IPPROTO_TCP, saddr: pod.podIp, daddr: pod.hostIp, reason: 12 });
    expect(outbound!.flags & DROP_F_NS_FROM_SK).toBe(DROP_F_NS_FROM_SK);
    expect(probe.readCounters().drops).toBeGreaterThanOrEqual(2);
  });

  it('counts flows it could not keep when the flow map is tiny', async () => {
    const pod = await createPodNs();
    onTestFinished(() => pod.destroy());
    const probe = await probeOn(pod, { flowsMaxEntries: 8 });
    const flows = 64;

    await pod.python(
      'import socket,sys\nfor i in range(int(sys.argv[2])):\n  s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.sendto(b"t",(sys.argv[1],9)); s.close()',
      [pod.hostIp, String(flows)],
    );
    await sleep(100);
    const before = probe.readCounters();
    expect(before.flowsCreated).toBeGreaterThanOrEqual(flows);
    expect(before.flowsEvicted).toBeGreaterThanOrEqual(flows - 8);

    const kept = probe.drainFlows();
    expect(kept.length).toBeLessThanOrEqual(8);
    const after = probe.readCounters();
    expect(after.flowsDrained).toBe(kept.length);
    // Every created flow was either handed out or counted as lost.
    expect(after.flowsEvicted + after.flowsDrained).toBeLessThanOrEqual(after.flowsCreated);
    expect(after.flowsEvicted + after.flowsDrained).toBeGreaterThanOrEqual(after.flowsCreated - 8);
  });

  it('adopts an existing clsact qdisc and leaves it, and removes all of its own on close', async () => {
    const pod = await createPodNs();
    onTestFinished(() => pod.destroy());
    const before = await bpfObjectIds();

    // 1. A qdisc we create is removed with our filters.
    const probe = Probe.open();
    onTestFinished(() => probe.close());
    probe.attach(pod.hostIfindex);
    expect(await tcState(pod.hostIf)).toMatchObject({ hasClsact: true });
    expect((await tcState(pod.hostIf)).filters).toMatch(/bh_from_pod/);
    const loaded = await bpfObjectIds();
    const ours = {
      progs: loaded.progs.filter((id) => !before.progs.includes(id)),
      maps: loaded.maps.filter((id) => !before.maps.includes(id)),
    };
    expect(ours.progs.length).toBeGreaterThanOrEqual(3);
    probe.detach(pod.hostIfindex);
    expect(await tcState(pod.hostIf)).toEqual({ hasClsact: false, filters: '' });

    // 2. A qdisc someone else made is adopted and left in place.
    await run('tc', ['qdisc', 'add', 'dev', pod.hostIf, 'clsact']);
    probe.attach(pod.hostIfindex);
    probe.attach(pod.hostIfindex); // idempotent
    expect((await tcState(pod.hostIf)).filters).toMatch(/bh_to_pod/);
    probe.close();
    expect(await tcState(pod.hostIf)).toEqual({ hasClsact: true, filters: '' });

    // 3. Nothing of ours is left in the kernel (program and map IDs are never reused).
    //    The kernel frees maps after an RCU grace period: give it a moment.
    let left = { progs: ours.progs, maps: ours.maps };
    for (let i = 0; i < 50 && left.progs.length + left.maps.length > 0; i++) {
      await sleep(100);
      const now = await bpfObjectIds();
      left = {
        progs: now.progs.filter((id) => ours.progs.includes(id)),
        maps: now.maps.filter((id) => ours.maps.includes(id)),
      };
    }
    expect(left).toEqual({ progs: [], maps: [] });
  });

  it('tells the user what to do when the interface does not exist', async () => {
    const { interfaceIndex } = await import('./ffi.js');
    expect(() => interfaceIndex('bh-missing0')).toThrow(/does not exist.*ip -br link/);
  });
});
