// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// Privileged: runs bpf/tests/*_test.c, which load the programs and feed them frames through BPF_PROG_TEST_RUN (root).
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const buildDir = fileURLToPath(new URL('../../../bpf/build/', import.meta.url));
const tests = readdirSync(buildDir).filter((f) => f.endsWith('_test'));

describe.skipIf(!isRoot)('BPF programs under BPF_PROG_TEST_RUN (privileged)', () => {
  it('has C tests built (make -C bpf)', () => {
    expect(tests.length).toBeGreaterThan(0);
  });

  for (const t of tests) {
    it(`${t}: every named case holds`, async () => {
      const { stdout } = await run(`${buildDir}${t}`).catch((err: { stdout?: string }) => {
        throw new Error(`${t} failed:\n${err.stdout ?? String(err)}`);
      });
      expect(stdout).toMatch(/, 0 failed$/m);
    });
  }
});
