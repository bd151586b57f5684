// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// Privileged, end to end: a real PCE, a lab cluster (2 nodes, real containerd
// pods) and a C-VEN per node; real TCP between real pods decides every
// assertion. Needs `npm run build` (npm test builds first) and root.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemo, type Demo } from '../lab/src/demo.js';
import { labStatus } from '../lab/src/status.js';
import {
  eventually,
  freePort,
  label,
  labApply,
  must,
  podYaml,
  profileOf,
  provision,
  shortName,
  sleep,
  tcpConnect,
  tcpFrom,
} from '../lab/src/demo-support.js';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;

interface Pod {
  ip: string;
  netnsPath: string;
  node: string;
}

describe.skipIf(!isRoot)('C-VEN enforcement on the lab (privileged)', () => {
  let demo: Demo;
  const pods: Record<string, Pod> = {};
  const L: Record<string, string> = {};
  const profiles: Record<string, string> = {};
  let outsideIp = '';
  let ruleset = '';

  const nodeOf = (pod: string): string => pods[pod]!.node;
  const tcp = (from: string, to: string, port: number): Promise<string> =>
    tcpFrom(pods[from]!.netnsPath, pods[to]!.ip, port);
  /** Wait until a connection's outcome is `want` (policy converges asynchronously). */
  const expectTcp = async (from: string, to: string, port: number, want: 'pong' | 'timed_out'): Promise<void> => {
    await eventually(
      `${from} -> ${to}:${port} to be ${want}`,
      async () => (await tcp(from, to, port)) === want,
      15_000,
      50,
    );
  };
  const srvTable = async (): Promise<string | null> => {
    try {
      return (await run('nsenter', [`--net=${pods.srv!.netnsPath}`, 'nft', 'list', 'table', 'inet', 'bulkhead']))
        .stdout;
    } catch {
      return null;
    }
  };
  const setMode = async (ns: string, mode: string): Promise<void> => {
    await must(demo, 'PUT', profiles[ns]!, { enforcement_mode: mode });
  };

  beforeAll(async () => {
    demo = await startDemo({
      dir: `/tmp/${shortName('bh-e2e-')}`,
      labName: shortName('e'),
      nodes: 2,
      pcePort: await freePort(),
      nodeMode: 'visibility_only',
    });
    const st = (await labStatus(demo.lab.name))!;
    outsideIp = st.outside.ip;
    for (const [k, v] of [
      ['app', 'e2e'],
      ['app', 'e2ex'],
      ['role', 'srv'],
      ['role', 'ok'],
      ['role', 'no'],
      ['role', 'ext'],
      ['role', 'stranger'],
    ] as const)
      L[`${k}=${v}`] = await label(demo, k, v);

    const [n0, n1] = demo.lab.nodes.map((n) => n.name);
    await labApply(
      demo,
      `apiVersion: v1\nkind: Namespace\nmetadata: {name: e2e}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: e2e-x}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: e2e-m}\n` +
        podYaml('e2e', 'srv', { role: 'srv', ports: [8080, 9000, 7000], node: n0 }) +
        podYaml('e2e', 'ok', { role: 'ok', node: n1 }) +
        podYaml('e2e', 'no', { role: 'no', node: n0 }) +
        podYaml('e2e-x', 'ext', { role: 'ext', node: n1 }) +
        podYaml('e2e-m', 'mover', { node: n1 }),
    );
    // Profiles appear as the agents report the namespaces; make them managed, full.
    for (const [ns, labels] of [
      ['e2e', [{ key: 'app', assignment: { href: L['app=e2e'] } }]],
      ['e2e-x', [{ key: 'app', assignment: { href: L['app=e2ex'] } }]],
      [
        'e2e-m',
        [
          { key: 'app', assignment: { href: L['app=e2e'] } },
          { key: 'role', assignment: { href: L['role=stranger'] } },
        ],
      ],
    ] as const) {
      profiles[ns] = await profileOf(demo, ns);
      await must(demo, 'PUT', profiles[ns], { managed: true, enforcement_mode: 'full', labels });
    }
    const list = await must<{ href: string }>(demo, 'POST', '/orgs/1/sec_policy/draft/ip_lists', {
      name: 'outside web',
      ip_ranges: [{ from_ip: `${outsideIp}/32` }],
    });
    ruleset = (
      await must<{ href: string }>(demo, 'POST', '/orgs/1/sec_policy/draft/rule_sets', {
        name: 'e2e',
        scopes: [[{ label: { href: L['app=e2e'] } }]],
      })
    ).href;
    const actors = (role: string) => [{ label: { href: L[`role=${role}`] } }];
    const rule = (providers: unknown, consumers: unknown, port: number, extra = false) => ({
      enabled: true,
      providers,
      consumers,
      ingress_services: [{ port, proto: 6 }],
      resolve_labels_as: { providers: ['workloads'], consumers: ['workloads'] },
      unscoped_consumers: extra,
    });
    await must(demo, 'POST', `${ruleset}/sec_rules`, rule(actors('srv'), actors('ok'), 8080)); // intra-scope
    await must(demo, 'POST', `${ruleset}/sec_rules`, rule(actors('srv'), actors('ok'), 9000));
    await must(demo, 'POST', `${ruleset}/deny_rules`, {
      ...rule(actors('srv'), [{ actors: 'ams' }], 9000, true),
      override: true,
    });
    await must(demo, 'POST', `${ruleset}/sec_rules`, rule(actors('srv'), actors('ext'), 7000, true)); // extra-scope
    await must(demo, 'POST', `${ruleset}/sec_rules`, rule([{ ip_list: { href: list.href } }], actors('ok'), 80));
    // ext's own namespace enforces too: its outbound needs the same rule from its side (it is the consumer).
    await provision(demo, 'e2e rules');

    await eventually('the test pods running', async () => {
      const s = (await labStatus(demo.lab.name))!;
      for (const p of s.pods)
        if (p.ip && p.netnsPath && p.namespace.startsWith('e2e'))
          pods[p.name] = { ip: p.ip, netnsPath: p.netnsPath, node: p.node };
      return ['srv', 'ok', 'no', 'ext', 'mover'].every((n) => pods[n]);
    });
  }, 180_000);

  afterAll(async () => {
    await demo?.stop();
  }, 120_000);

  it('full: allows what the rules allow, blocks the rest, and override-deny beats allow', async () => {
    await expectTcp('ok', 'srv', 8080, 'pong');
    expect(await tcp('no', 'srv', 8080)).toBe('timed_out');
    expect(await tcp('ok', 'srv', 9000)).toBe('timed_out'); // allowed, but an override-deny rule denies it
    expect(nodeOf('ok')).not.toBe(nodeOf('srv')); // across nodes, over the underlay
  });

  it('full: an extra-scope rule lets a consumer outside the scope in; intra-scope rules do not', async () => {
    await expectTcp('ext', 'srv', 7000, 'pong');
    expect(await tcp('ext', 'srv', 8080)).toBe('timed_out');
    expect(await tcp('ok', 'srv', 7000)).toBe('timed_out');
  });

  it('full: an IP-list rule lets a pod reach the outside server; others are blocked on the way out', async () => {
    await eventually(
      'ok -> outside:80',
      async () => (await tcpConnect(pods.ok!.netnsPath, outsideIp, 80)) === 'connected',
      15_000,
    );
    expect(await tcpConnect(pods.no!.netnsPath, outsideIp, 80)).toBe('timed_out');
  });

  it("changing a profile's label assignment moves its pods into the allowed set without touching any rule", async () => {
    expect(await tcp('mover', 'srv', 8080)).toBe('timed_out');
    const rulesOnly = (t: string | null): string => (t ?? '').replace(/elements = \{[^}]*\}/g, '');
    const before = await srvTable();
    await must(demo, 'PUT', profiles['e2e-m']!, {
      labels: [
        { key: 'app', assignment: { href: L['app=e2e'] } },
        { key: 'role', assignment: { href: L['role=ok'] } },
      ],
    });
    await expectTcp('mover', 'srv', 8080, 'pong');
    const after = await srvTable();
    expect(rulesOnly(after)).toBe(rulesOnly(before));
    expect(after).not.toBe(before); // set elements changed
  });

  it('the PCE stopped: enforcement stays; the agents reconnect when it returns', async () => {
    await demo.stopPce();
    await sleep(1500);
    expect(await tcp('no', 'srv', 8080)).toBe('timed_out');
    expect(await tcp('ok', 'srv', 8080)).toBe('pong');
    await demo.startPce();
    // A change made after the return reaches the nodes: the agents are back on the push channel.
    await must(demo, 'PUT', profiles['e2e-m']!, {
      labels: [
        { key: 'app', assignment: { href: L['app=e2e'] } },
        { key: 'role', assignment: { href: L['role=stranger'] } },
      ],
    });
    await expectTcp('mover', 'srv', 8080, 'timed_out');
  });

  it('an agent killed with SIGKILL and restarted lets nothing through that policy blocks', async () => {
    const node = nodeOf('srv');
    let leaked = 0;
    let probes = 0;
    let stop = false;
    const prober = (async () => {
      while (!stop) {
        probes++;
        // A short wait per try, so the restart window is probed many times over.
        if ((await tcpFrom(pods.no!.netnsPath, pods.srv!.ip, 8080, 0.3)) === 'pong') leaked++;
      }
    })();
    await sleep(300);
    await demo.stopAgent(node, 'SIGKILL');
    await sleep(1000);
    await demo.startAgent(node);
    await eventually('the restarted agent ready', async () => {
      const w = await must<{ agent: { status: { security_policy_sync_state: string; last_heartbeat_on: string } } }>(
        demo,
        'GET',
        demo.nodeWorkloads[node]!,
      );
      return w.agent.status.security_policy_sync_state === 'applied';
    });
    await sleep(1000);
    stop = true;
    await prober;
    expect(probes).toBeGreaterThan(5);
    expect(leaked).toBe(0);
    expect(await tcp('ok', 'srv', 8080)).toBe('pong');
  });

  it('a table flushed by hand is restored within 2 s and the PCE shows a tampering event', async () => {
    const since = new Date().toISOString();
    const flushedAt = Date.now();
    await run('nsenter', [`--net=${pods.srv!.netnsPath}`, 'nft', 'flush', 'table', 'inet', 'bulkhead']);
    await eventually('the table restored', async () => (await srvTable())?.includes('sec_rules'), 2000, 50);
    expect(Date.now() - flushedAt).toBeLessThan(2500);
    await eventually('a tampering event', async () => {
      const ev = await must<{ event_type: string }[]>(
        demo,
        'GET',
        `/orgs/1/events?event_type=agent.tampering&timestamp[gte]=${since}`,
      );
      return ev.length > 0;
    });
    expect(await tcp('no', 'srv', 8080)).toBe('timed_out');
  });

  it('selective blocks only what deny rules deny; visibility_only blocks nothing; idle writes no table', async () => {
    await setMode('e2e', 'selective');
    await expectTcp('no', 'srv', 8080, 'pong');
    expect(await tcp('ok', 'srv', 9000)).toBe('timed_out'); // override-deny, inbound

    await setMode('e2e', 'visibility_only');
    await expectTcp('ok', 'srv', 9000, 'pong');
    expect(await tcp('no', 'srv', 8080)).toBe('pong');

    await setMode('e2e', 'idle');
    await eventually('no table in srv', async () => (await srvTable()) === null);
  });

  it("lists the node table's implicit rules with the node's policy, and the workload shows the agent's state", async () => {
    const node = demo.lab.nodes[0]!.name;
    const view = await must<{
      version: string;
      policy: { node: string };
      implicit_rules: { description: string; port?: number; addresses?: string[] }[];
    }>(demo, 'GET', `${demo.nodeWorkloads[node]}/policy`);
    expect(view.policy.node).toBe(demo.nodeWorkloads[node]);
    const pce = view.implicit_rules.find((r) => r.description === 'implicit: the agent to its PCE');
    expect(pce?.port).toBe(Number(new URL(demo.pceUrl).port));
    expect(pce?.addresses).toEqual([new URL(demo.pceUrl).hostname]);
    // The agent heartbeats its applied version after each apply (the previous test changed modes).
    const w = await eventually('the node to report the policy the PCE shows', async () => {
      const cur = await must<{ version: string }>(demo, 'GET', `${demo.nodeWorkloads[node]}/policy`);
      const wl = await must<{
        agent: { status: { applied_version: string; security_policy_sync_state: string; firewall_rule_count: number } };
      }>(demo, 'GET', demo.nodeWorkloads[node]!);
      return wl.agent.status.applied_version === cur.version && wl.agent.status.security_policy_sync_state === 'applied'
        ? wl
        : undefined;
    });
    expect(w.agent.status.firewall_rule_count).toBeGreaterThan(0);
  });

  it("one agent cannot read another node's policy with its own credentials", async () => {
    const [a, b] = demo.lab.nodes.map((n) => n.name);
    const credsA = JSON.parse(readFileSync(join(demo.dir, 'cven', a!, 'agent.json'), 'utf8')) as {
      auth_username: string;
      secret: string;
      agent_id: string;
    };
    const credsB = JSON.parse(readFileSync(join(demo.dir, 'cven', b!, 'agent.json'), 'utf8')) as { agent_id: string };
    const get = (path: string): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = request(
          `${demo.localUrl}/api/v2/orgs/1/agents/${path}`,
          {
            ca: readFileSync(demo.ca),
            headers: {
              authorization: `Basic ${Buffer.from(`${credsA.auth_username}:${credsA.secret}`).toString('base64')}`,
            },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end();
      });
    expect(await get(`${credsA.agent_id}/policy`)).toBe(200);
    expect(await get(`${credsB.agent_id}/policy`)).toBe(403);
  });
});
