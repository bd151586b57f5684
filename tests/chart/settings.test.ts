// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// The chart and the agents share one list of settings (DESIGN.md "One
// command-line program"): the containers the chart renders (Go text/template +
// sprig, tests/chart/render; no helm binary exists here) may set only
// BULKHEAD_* variables the agents define, in cven/src/settings.ts and
// kubelink/src/cli.ts, and must set every one they require.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CVEN_SETTINGS } from '../../cven/src/settings.js';
import { SETTINGS as KUBELINK_SETTINGS, envName } from '../../kubelink/src/cli.js';
import { VALUES, containerOf, one, renderOk, type Rendered } from './render.js';

interface AgentSetting {
  flag: string;
  env: string;
  required: boolean;
  default?: string;
}

const AGENTS: Record<string, { kind: string; subcommand: string[]; settings: AgentSetting[] }> = {
  cven: { kind: 'DaemonSet', subcommand: ['cven', 'run'], settings: [...CVEN_SETTINGS] },
  kubelink: {
    kind: 'Deployment',
    subcommand: ['kubelink', 'run'],
    settings: KUBELINK_SETTINGS.map((s) => ({ ...s, env: envName(s.flag) })),
  },
};

/**
 * What is wrong between a rendered container and an agent's settings: a
 * variable or flag the agent does not define, or a required setting the
 * container does not give (the C-VEN's activation code counts as required:
 * a node added later must be able to pair).
 */
export function settingProblems(
  container: { args?: string[]; env?: { name: string }[] },
  settings: AgentSetting[],
  alsoRequired: string[] = [],
): string[] {
  const problems: string[] = [];
  const byEnv = new Map(settings.map((s) => [s.env, s]));
  const byFlag = new Map(settings.map((s) => [`--${s.flag}`, s]));
  const given = new Set<string>();
  for (const e of container.env ?? []) {
    const s = byEnv.get(e.name);
    if (!s) problems.push(`${e.name} is not a setting of the agent`);
    else given.add(s.flag);
  }
  for (const a of container.args ?? [])
    if (a.startsWith('--')) {
      const s = byFlag.get(a.split('=')[0]!);
      if (!s) problems.push(`${a} is not a flag of the agent`);
      else given.add(s.flag);
    }
  for (const s of settings)
    if ((s.required && s.default === undefined) || alsoRequired.includes(s.flag))
      if (!given.has(s.flag)) problems.push(`required setting --${s.flag} (${s.env}) is not set`);
  return problems;
}

describe('chart ↔ agent settings (rendered with Go text/template + sprig; no helm binary exists here)', () => {
  const rendered: Rendered[] = [];
  beforeAll(async () => {
    rendered.push(await renderOk([join(VALUES, 'minimal.yaml')]));
    rendered.push(await renderOk([join(VALUES, 'existing-secrets.yaml')]));
  }, 120_000);

  it.each(Object.keys(AGENTS))(
    '%s: the container sets only settings the agent defines, every required one, and runs its subcommand',
    (agent) => {
      const a = AGENTS[agent]!;
      for (const r of rendered) {
        const c = containerOf(one(r, a.kind));
        expect(settingProblems(c, a.settings, agent === 'cven' ? ['activation-code'] : [])).toEqual([]);
        expect(c.command).toEqual(['bulkhead']);
        expect(c.args).toEqual(a.subcommand);
      }
    },
  );

  it('catches a setting the agent does not define, a misspelt flag and a missing required one', () => {
    const settings = AGENTS.cven!.settings;
    expect(
      settingProblems(
        { args: ['cven', 'run', '--cri-sock=x'], env: [{ name: 'BULKHEAD_PCE' }, { name: 'BULKHEAD_PCE_URL' }] },
        settings,
      ),
    ).toEqual([
      'BULKHEAD_PCE_URL is not a setting of the agent',
      '--cri-sock=x is not a flag of the agent',
      'required setting --ca (BULKHEAD_CA) is not set',
      'required setting --cluster-id (BULKHEAD_CLUSTER_ID) is not set',
      'required setting --node-name (BULKHEAD_NODE_NAME) is not set',
    ]);
  });

  it("every setting the chart sets is named in values.yaml's docs or fixed by the chart (a mount path)", async () => {
    const { readFileSync } = await import('node:fs');
    const { CHART } = await import('./render.js');
    const docs = readFileSync(join(CHART, 'values.yaml'), 'utf8');
    const FIXED = new Set(['BULKHEAD_CA', 'BULKHEAD_MACHINE_ID_FILE', 'BULKHEAD_NODE_NAME']);
    for (const a of Object.values(AGENTS))
      for (const e of containerOf(one(rendered[0]!, a.kind)).env as { name: string }[])
        if (!FIXED.has(e.name)) expect(docs, `values.yaml names ${e.name}`).toContain(`\`${e.name}`);
  });
});
