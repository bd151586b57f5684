// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * Lint, including the layering rules of STYLE.md "Module boundaries": who may
 * import what is checked here, not left to review.
 */
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const io = ['node:*', 'fastify', 'fastify/*', '@fastify/*', 'kysely', 'better-sqlite3', 'pg', '@peculiar/*'];
const restrict = (patterns, message) => ({
  'no-restricted-imports': ['error', { patterns: [{ group: patterns, message }] }],
});

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '.bulkhead/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['pce/src/api/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: restrict([...io, '../*'], 'pce/src/api is the wire contract: pure, no I/O, imports only itself'),
  },
  {
    files: ['pce/src/domain/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: restrict([...io, '../store/*', '../http/*', '../traffic/*', '../compiler/*'], 'domain is pure: api only'),
  },
  {
    files: ['pce/src/compiler/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: restrict([...io, '../store/*', '../http/*', '../traffic/*'], 'the compiler is pure (STYLE.md)'),
  },
  {
    files: ['pce/src/store/**/*.ts'],
    rules: restrict(['../http/*', '../traffic/*', 'fastify'], 'store must not import http or traffic internals'),
  },
  {
    files: ['cven/src/**/*.ts', 'kubelink/src/**/*.ts', 'desktop/src/**/*.ts'],
    rules: restrict(
      ['@bulkhead/pce/src/*', '../../pce/*', '@bulkhead/*/src/*'],
      'parts talk only through @bulkhead/pce/api',
    ),
  },
  {
    // STYLE.md: cven/src/probe/ffi.ts is the only file that loads the C helper (koffi).
    files: ['cven/src/**/*.ts'],
    ignores: ['cven/src/probe/ffi.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@bulkhead/pce/src/*', '../../pce/*', '@bulkhead/*/src/*'],
              message: 'parts talk only through @bulkhead/pce/api',
            },
            { group: ['koffi', 'koffi/*'], message: 'only cven/src/probe/ffi.ts may load koffi (STYLE.md)' },
          ],
        },
      ],
    },
  },
);
