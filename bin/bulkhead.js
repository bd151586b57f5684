#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The `bulkhead` command: a thin dispatcher. Each part exports its own
 * subcommands from its `./cli` module (DESIGN.md "One command-line
 * program"); this file only mounts them and maps failures to exit codes.
 *
 * Exit codes: 0 success; 1 the command failed at run time; 2 bad usage
 * (unknown command or flag, bad flag value); 3 not built yet (run
 * `npm run build`).
 */
import { Command, CommanderError } from 'commander';

const PARTS = [
  ['pce', '@bulkhead/pce/cli'],
  ['cven', '@bulkhead/cven/cli'],
  ['kubelink', '@bulkhead/kubelink/cli'],
  ['desktop', '@bulkhead/desktop/cli'],
  ['lab', '@bulkhead/lab/cli'],
];

async function main() {
  const program = new Command('bulkhead')
    .description('Label-based micro-segmentation for Kubernetes')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  // A subcommand named after a part loads only that part: `bulkhead lab ...`
  // neither waits for nor breaks on the others. Anything else loads them all.
  const named = PARTS.filter(([name]) => name === process.argv[2]);
  for (const [, spec] of named.length ? named : PARTS) {
    let part;
    try {
      part = await import(spec);
    } catch (err) {
      if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('/dist/')) {
        process.stderr.write(`bulkhead: ${spec} is not built; run \`npm run build\` first\n`);
        return 3;
      }
      throw err;
    }
    for (const cmd of part.commands ?? []) program.addCommand(cmd);
  }
  // Commands made by the parts do not inherit these settings through addCommand.
  const inherit = (cmd) => {
    cmd.exitOverride().showHelpAfterError('(run with --help for usage)');
    cmd.commands.forEach(inherit);
  };
  inherit(program);
  try {
    await program.parseAsync(process.argv);
    return process.exitCode ?? 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help')
        return 0;
      return 2;
    }
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`bulkhead: ${msg}\n`);
    return typeof err?.exitCode === 'number' ? err.exitCode : 1;
  }
}

process.exitCode = await main();
