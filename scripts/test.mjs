// SPDX-License-Identifier: Apache-2.0
// `npm test`: build (the type check), lint, format check, then every test.
import { build, run, step } from './lib/setup.mjs';

build();
step('lint (eslint)');
run('npx', ['--no-install', 'eslint', '.']);
step('console type check (svelte-check: the renderer, which tsc -b does not see)');
run('npx', [
  '--no-install',
  'svelte-check',
  '--tsconfig',
  'desktop/src/renderer/tsconfig.json',
  '--threshold',
  'warning',
  '--fail-on-warnings',
]);
step('format (prettier --check)');
run('npx', ['--no-install', 'prettier', '--check', '--log-level', 'warn', '.']);
step('tests (vitest)');
run('npx', ['--no-install', 'vitest', 'run', ...process.argv.slice(2)]);
