// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The `bulkhead pce ...` subcommands: `serve` and `api-key create`.
 * Exit codes: 0 done, 1 failed at run time, 2 bad usage (see bin/bulkhead.js).
 */
import { mkdirSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { createApiKey, ROLES, type Role } from './store/api-keys.js';
import { openStore } from './store/seed.js';
import { trafficCommand } from './traffic/export-command.js';
import { databaseFile, DEFAULT_LISTEN, parseListen, serve } from './main.js';

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive whole number');
  return n;
}

function serveCommand(): Command {
  return new Command('serve')
    .description('Run the PCE: the REST API over HTTPS on a data directory (SQLite)')
    .requiredOption('--data-dir <dir>', 'directory for the database, TLS material and owner key')
    .option('--listen <host:port>', `address to listen on; repeat for several (default ${DEFAULT_LISTEN})`, collect)
    .option('--rate-limit <n>', 'requests a minute allowed per API key', positiveInt, 500)
    .addOption(
      new Option('--log-level <level>', 'log level').choices(['error', 'warn', 'info', 'debug']).default('info'),
    )
    .action(async (opts: { dataDir: string; listen?: string[]; rateLimit: number; logLevel: string }) => {
      const listen = (opts.listen ?? [DEFAULT_LISTEN]).map(parseListen);
      const stop = await serve({
        dataDir: opts.dataDir,
        listen,
        rateLimitPerMin: opts.rateLimit,
        logLevel: opts.logLevel,
      });
      const shutdown = (): void => {
        void stop().then(() => process.exit(0));
      };
      process.once('SIGINT', shutdown);
      process.once('SIGTERM', shutdown);
    });
}

function apiKeyCommand(): Command {
  const create = new Command('create')
    .description(
      'Create an API key and print it as {"auth_username", "secret"} (works at once, also while a server runs)',
    )
    .requiredOption('--data-dir <dir>', "the PCE's data directory")
    .addOption(new Option('--role <role>', 'role of the key').choices([...ROLES]).makeOptionMandatory())
    .requiredOption('--name <name>', 'a name for the key')
    .action(async (opts: { dataDir: string; role: Role; name: string }) => {
      mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
      const store = await openStore(databaseFile(opts.dataDir));
      try {
        const { record, secret } = await createApiKey(store, '1', opts.role, opts.name);
        process.stdout.write(
          JSON.stringify({ auth_username: record.auth_username, secret, href: record.href, role: record.role }) + '\n',
        );
      } finally {
        await store.db.destroy();
      }
    });
  return new Command('api-key').description('Manage API keys').addCommand(create);
}

/** Subcommands this part adds to `bulkhead`. */
export const commands: Command[] = [
  new Command('pce').description('The policy compute engine').addCommand(serveCommand()).addCommand(apiKeyCommand()),
  trafficCommand(),
];
