// SPDX-License-Identifier: Apache-2.0
// `npm start`: build what is missing, then run Bulkhead on the embedded
// defaults: a fresh PCE on SQLite, the lab cluster (2 nodes) and a C-VEN on
// every node. Files under .bulkhead/demo/ (see README). `npm start -- --keep`
// resumes the previous demo's data. Ctrl-C stops everything and cleans up.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build, ROOT, step } from './lib/setup.mjs';

const DEMO = join(ROOT, '.bulkhead', 'demo');
const keep = process.argv.includes('--keep');
const PORT = Number(process.env.BULKHEAD_DEMO_PORT ?? 8443);
const NODES = Number(process.env.BULKHEAD_DEMO_NODES ?? 2);

if (process.getuid?.() !== 0) {
  process.stderr.write('bulkhead: the demo creates network namespaces and nftables tables: run `sudo npm start`\n');
  process.exit(1);
}
build();
const { startDemo } = await import(join(ROOT, 'tests', 'lab', 'dist', 'demo.js'));
rmSync(join(DEMO, 'ready'), { force: true });

let demo;
let stopping = false;
async function stop(code) {
  if (stopping) return;
  stopping = true;
  rmSync(join(DEMO, 'ready'), { force: true });
  step('stopping: agents, lab, PCE');
  const force = setTimeout(() => process.exit(code || 1), 60_000);
  force.unref();
  try {
    await demo?.stop();
  } catch (err) {
    process.stderr.write(`bulkhead: cleanup failed: ${err.message}; run \`bulkhead lab down\`\n`);
  }
  process.exit(code);
}
// A Ctrl-C reaches this whole process group (the PCE and agents too); the stop order stays ours.
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

try {
  demo = await startDemo({
    dir: DEMO,
    labName: 'lab',
    nodes: NODES,
    pcePort: PORT,
    keep,
    shop: true,
    log: (l) => step(l),
  });
} catch (err) {
  process.stderr.write(`bulkhead: the demo did not start: ${err.message}\n`);
  await stop(1);
}
writeFileSync(join(DEMO, 'pce-url'), `${demo.pceUrl}\n`);
writeFileSync(join(DEMO, 'ready'), `${new Date().toISOString()}\n`);
const key = join(demo.dir, 'pce', 'owner-api-key.json');
process.stdout.write(
  `\nBulkhead is running: PCE, lab cluster "${demo.lab.name}" (${demo.lab.nodes.length} nodes), a C-VEN on every node.\n` +
    `  console:       ${demo.localUrl}/  (sign in with the owner API key's auth_username and secret)\n` +
    `  PCE:           ${demo.pceUrl}  (also ${demo.localUrl}; the REST API is under /api/v2)\n` +
    `  CA:            ${demo.ca}\n` +
    `  owner API key: ${key}\n` +
    `  logs:          ${join(demo.dir, 'logs')}\n` +
    `  try:  curl --cacert ${demo.ca} -u "$(jq -r '.auth_username+":"+.secret' ${key})" ${demo.localUrl}/api/v2/orgs/1/workloads\n` +
    `        npx bulkhead lab status\n` +
    `Press Ctrl-C to stop (npm start -- --keep resumes this data).\n`,
);
