// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// Privileged, end to end: flows the kernel recorded (eBPF probe, netfilter drops) on
// real pods reach the explorer with their identities and decisions; a PCE outage loses none.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrafficFlow } from '@bulkhead/pce/api';
import { startDemo, type Demo } from '../lab/src/demo.js';
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
  tcpFrom,
} from '../lab/src/demo-support.js';
import { labStatus } from '../lab/src/status.js';

const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)('traffic on the lab (privileged)', () => {
  let demo: Demo;
  const pods: Record<string, { ip: string; netnsPath: string }> = {};
  const L: Record<string, string> = {};
  let profile = '';

  const explore = async (port: number): Promise<TrafficFlow[]> => {
    const q = {
      start_date: new Date(Date.now() - 600_000).toISOString(),
      end_date: new Date(Date.now() + 60_000).toISOString(),
      sources: { include: [[]], exclude: [] },
      destinations: { include: [[{ label: { href: L['role=tsrv'] } }]], exclude: [] },
      services: { include: [{ port, proto: 6 }], exclude: [] },
      policy_decisions: [],
    };
    const job = await must<{ result: string }>(demo, 'POST', '/orgs/1/traffic_flows/async_queries', q, [202]);
    return must<TrafficFlow[]>(demo, 'GET', job.result);
  };

  beforeAll(async () => {
    demo = await startDemo({
      dir: `/tmp/${shortName('bh-e2e-')}`,
      labName: shortName('t'),
      nodes: 2,
      pcePort: await freePort(),
    });
    for (const [k, v] of [
      ['app', 'tr'],
      ['role', 'tsrv'],
      ['role', 'tok'],
      ['role', 'tno'],
    ] as const)
      L[`${k}=${v}`] = await label(demo, k, v);
    const [n0, n1] = demo.lab.nodes.map((n) => n.name);
    await labApply(
      demo,
      `apiVersion: v1\nkind: Namespace\nmetadata: {name: tr}\n` +
        podYaml('tr', 'srv', { role: 'tsrv', ports: [8080, 9100], node: n0 }) +
        podYaml('tr', 'ok', { role: 'tok', node: n1 }) +
        podYaml('tr', 'no', { role: 'tno', node: n1 }),
    );
    profile = await profileOf(demo, 'tr');
    await must(demo, 'PUT', profile, {
      managed: true,
      enforcement_mode: 'full',
      labels: [{ key: 'app', assignment: { href: L['app=tr'] } }],
    });
    const rs = (
      await must<{ href: string }>(demo, 'POST', '/orgs/1/sec_policy/draft/rule_sets', {
        name: 'tr',
        scopes: [[{ label: { href: L['app=tr'] } }]],
      })
    ).href;
    for (const port of [8080, 9100])
      await must(demo, 'POST', `${rs}/sec_rules`, {
        enabled: true,
        providers: [{ label: { href: L['role=tsrv'] } }],
        consumers: [{ label: { href: L['role=tok'] } }],
        ingress_services: [{ port, proto: 6 }],
        resolve_labels_as: { providers: ['workloads'], consumers: ['workloads'] },
        unscoped_consumers: false,
      });
    await provision(demo, 'tr');
    await eventually('pods', async () => {
      for (const p of (await labStatus(demo.lab.name))!.pods) if (p.namespace === 'tr' && p.ip) pods[p.name] = p;
      return pods.srv && pods.ok && pods.no;
    });
    await eventually(
      'ok reaches srv',
      async () => (await tcpFrom(pods.ok!.netnsPath, pods.srv!.ip, 8080)) === 'pong',
      20_000,
    );
  }, 180_000);

  afterAll(async () => {
    await demo?.stop();
  }, 120_000);

  it('shows the allowed and the blocked connection with namespaces, labels, decisions and rules within 15 s', async () => {
    for (let i = 0; i < 3; i++) {
      await tcpFrom(pods.ok!.netnsPath, pods.srv!.ip, 8080);
      await tcpFrom(pods.no!.netnsPath, pods.srv!.ip, 8080, 1);
    }
    const t0 = Date.now();
    const flows = await eventually(
      'an allowed and a blocked flow',
      async () => {
        const f = await explore(8080);
        return f.some((x) => x.policy_decision === 'allowed') && f.some((x) => x.policy_decision === 'blocked')
          ? f
          : undefined;
      },
      15_000,
      500,
    );
    expect(Date.now() - t0).toBeLessThan(15_000);
    const allowed = flows.find((f) => f.policy_decision === 'allowed')!;
    expect(allowed.src.workload?.namespace).toBe('tr');
    expect(allowed.src.workload?.labels.map((l) => l.value)).toContain('tok');
    expect(allowed.dst.workload?.labels.map((l) => l.value)).toContain('tsrv');
    expect(allowed.rule?.href).toMatch(/sec_rules/);
    const blocked = flows.find((f) => f.policy_decision === 'blocked')!;
    expect(blocked.src.ip).toBe(pods.no!.ip);
    expect(blocked.rule).toBeNull(); // no rule: full mode's default
  });
  it('in visibility_only the same connection is potentially_blocked', async () => {
    await must(demo, 'PUT', profile, { enforcement_mode: 'visibility_only' });
    await eventually(
      'no gets through',
      async () => (await tcpFrom(pods.no!.netnsPath, pods.srv!.ip, 8080)) === 'pong',
      15_000,
    );
    // Flows aggregate per minute: a SYN retried across the mode change may still have been
    // dropped by the destination (a true "blocked" in that minute). Judge the next minute alone.
    const boundary = Math.ceil((Date.now() + 1000) / 60_000) * 60_000;
    await sleep(boundary - Date.now() + 500);
    for (let i = 0; i < 3; i++) expect(await tcpFrom(pods.no!.netnsPath, pods.srv!.ip, 8080)).toBe('pong');
    await eventually(
      'potentially_blocked in the new minute',
      async () =>
        (await explore(8080)).some(
          (f) =>
            f.src.ip === pods.no!.ip &&
            f.policy_decision === 'potentially_blocked' &&
            Date.parse(f.timestamp_range.first_detected) >= boundary,
        ),
      15_000,
      500,
    );
    await must(demo, 'PUT', profile, { enforcement_mode: 'full' });
  }, 120_000);

  it('loses no flow while the PCE is stopped: every connection is counted once it returns', async () => {
    // All in one minute bucket, so both ends' reports of each connection meet in one row.
    const boundary = Math.ceil((Date.now() + 1000) / 60_000) * 60_000;
    await sleep(boundary - Date.now() + 500);
    await demo.stopPce();
    const N = 12;
    let ok = 0;
    for (let i = 0; i < N; i++) if ((await tcpFrom(pods.ok!.netnsPath, pods.srv!.ip, 9100)) === 'pong') ok++;
    expect(ok).toBe(N);
    await sleep(5000); // batches spool on disk meanwhile
    await demo.startPce();
    const inMinute = async (): Promise<number> =>
      (await explore(9100))
        .filter((f) => Date.parse(f.timestamp_range.first_detected) >= boundary)
        .reduce((a, f) => a + f.num_connections, 0);
    const counted = await eventually(
      `${N} connections to 9100`,
      async () => ((await inMinute()) >= N ? inMinute() : undefined),
      30_000,
      500,
    );
    await sleep(4000); // nothing more arrives: no batch counted twice
    expect(await inMinute()).toBe(counted);
    expect(counted).toBe(N);
  }, 150_000);

  it("follows the profile's visibility level: flow_drops reports only what was not allowed, flow_off nothing", async () => {
    const nodes = Object.values(demo.nodeWorkloads);
    /** Both nodes' agents enforce (and so collect under) the policy the PCE has for them now. */
    const applied = () =>
      eventually('both agents to apply the new policy', async () => {
        for (const href of nodes) {
          const cur = await must<{ version: string }>(demo, 'GET', `${href}/policy`);
          const w = await must<{ agent: { status: { applied_version: string } } }>(demo, 'GET', href);
          if (w.agent.status.applied_version !== cur.version) return false;
        }
        return true;
      });
    const counts = async (): Promise<{ ok: number; no: number }> => {
      const fs = await explore(9100);
      const sum = (ip: string, d: string) =>
        fs.filter((f) => f.src.ip === ip && f.policy_decision === d).reduce((a, f) => a + f.num_connections, 0);
      return { ok: sum(pods.ok!.ip, 'allowed'), no: sum(pods.no!.ip, 'blocked') };
    };
    const traffic = async (): Promise<void> => {
      for (let i = 0; i < 3; i++) {
        expect(await tcpFrom(pods.ok!.netnsPath, pods.srv!.ip, 9100)).toBe('pong');
        expect(await tcpFrom(pods.no!.netnsPath, pods.srv!.ip, 9100, 1)).not.toBe('pong');
      }
    };
    const settle = async (): Promise<void> => {
      await applied();
      await sleep(2500); // one drain: records taken before the change are behind us
    };

    // flow_drops: the blocked connections arrive; the allowed ones never do.
    await must(demo, 'PUT', profile, { visibility_level: 'flow_drops' });
    await settle();
    const before = await counts();
    await traffic();
    const drops = await eventually(
      'the blocked connections under flow_drops',
      async () => {
        const c = await counts();
        return c.no >= before.no + 3 ? c : undefined;
      },
      15_000,
      500,
    );
    await sleep(4000); // the allowed ones would have come with the blocked ones
    expect((await counts()).ok).toBe(before.ok);
    expect(drops.ok).toBe(before.ok);

    // flow_off needs full; leaving full while it is set is refused, naming the field.
    await must(demo, 'PUT', profile, { visibility_level: 'flow_off' });
    const r = await demo.api<{ message: string }[]>('PUT', profile, { enforcement_mode: 'visibility_only' });
    expect(r.status).toBe(406);
    expect(r.body[0]!.message).toMatch(/^enforcement_mode: /);
    await settle();
    const off = await counts();
    await traffic();
    await sleep(8000);
    expect(await counts()).toEqual(off);

    // Back to flow_summary: both kinds arrive again (the pipeline was live all along).
    await must(demo, 'PUT', profile, { visibility_level: 'flow_summary' });
    await settle();
    await traffic();
    await eventually(
      'allowed and blocked connections under flow_summary',
      async () => {
        const c = await counts();
        return c.ok >= off.ok + 3 && c.no >= off.no + 3;
      },
      15_000,
      500,
    );
  }, 120_000);
});
