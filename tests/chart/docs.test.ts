// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// values.yaml documents every value once; values.schema.json and README.md are
// generated from it by scripts/chart-docs.mjs and must not drift.
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it, onTestFinished } from 'vitest';
import { CHART, REPO } from './render.js';

const run = promisify(execFile);
const SCRIPT = join(REPO, 'scripts', 'chart-docs.mjs');

/** A scratch copy of the chart. */
function copyChart(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bh-chart-docs-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(CHART, dir, { recursive: true });
  return dir;
}

async function docs(args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    await run(process.execPath, [SCRIPT, ...args]);
    return { code: 0, stderr: '' };
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr };
  }
}

describe('chart docs generated from values.yaml', () => {
  it('values.schema.json and README.md are what scripts/chart-docs.mjs makes of values.yaml', async () => {
    expect(await docs(['--check'])).toEqual({ code: 0, stderr: '' });
  });

  it('--check fails when values.yaml changed and the generated files did not', async () => {
    const dir = copyChart();
    const values = join(dir, 'values.yaml');
    writeFileSync(values, readFileSync(values, 'utf8').replace('logLevel: info', 'logLevel: warn'));
    const r = await docs(['--check', '--chart', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('values.schema.json is out of date');
    expect(r.stderr).toContain('README.md is out of date');
  });

  it('refuses a value without a "# --" comment', async () => {
    const dir = copyChart();
    const values = join(dir, 'values.yaml');
    writeFileSync(values, readFileSync(values, 'utf8').replace('\nkubelink:\n', '\n  undocumented: 1\n\nkubelink:\n'));
    const r = await docs(['--check', '--chart', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cven.undocumented has no "# --" comment');
  });

  it('the README has a row per value and the schema a property per value, with its description and default', () => {
    const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8'));
    const readme = readFileSync(join(CHART, 'README.md'), 'utf8');
    const docLines = readFileSync(join(CHART, 'values.yaml'), 'utf8').match(/^\s*# -- /gm)!.length;
    const rows = readme
      .slice(readme.indexOf('## Values'))
      .split('\n')
      .filter((l) => /^\| [a-zA-Z.]+ \|/.test(l) && !l.startsWith('| Key |'));
    expect(rows.length).toBe(docLines);
    expect(schema.properties.cven.properties.healthPort).toMatchObject({
      type: 'integer',
      default: 9102,
      maximum: 65535,
    });
    expect(schema.properties.logLevel.enum).toEqual(['error', 'warn', 'info', 'debug']);
    expect(schema.additionalProperties).toBe(false);
    expect(readme).toContain('| cven.criSocket | string | `"/run/containerd/containerd.sock"` |');
  });
});
