// SPDX-License-Identifier: Apache-2.0
// `npm start`: build what is missing, then run Bulkhead on the embedded
// defaults: the PCE on SQLite under .bulkhead/demo/pce. (The lab cluster,
// agents and traffic join the demo as their issues land.) Ctrl-C stops it.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { build, ROOT, step } from './lib/setup.mjs';

const DEMO = join(ROOT, '.bulkhead', 'demo');
const DATA = join(DEMO, 'pce');
const LISTEN = process.env.BULKHEAD_DEMO_LISTEN ?? '127.0.0.1:8443';
const URL_ = `https://${LISTEN}`;

build();
mkdirSync(DEMO, { recursive: true });
rmSync(join(DEMO, 'ready'), { force: true });
step(`starting the PCE on ${URL_} (data in ${DATA})`);
const pce = spawn(
  process.execPath,
  [join(ROOT, 'bin', 'bulkhead.js'), 'pce', 'serve', '--data-dir', DATA, '--listen', LISTEN],
  {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
  },
);

function healthy() {
  return new Promise((resolve) => {
    let ca;
    try {
      ca = readFileSync(join(DATA, 'tls', 'ca.pem'));
    } catch {
      return resolve(false);
    }
    const req = request(`${URL_}/api/v2/health`, { ca, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.end();
  });
}

let stopping = false;
function stop(code) {
  if (stopping) return;
  stopping = true;
  rmSync(join(DEMO, 'ready'), { force: true });
  pce.kill('SIGTERM');
  pce.once('exit', () => process.exit(code));
  setTimeout(() => process.exit(code), 10_000).unref();
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));
pce.on('exit', (code) => {
  if (!stopping) {
    process.stderr.write(`bulkhead: the PCE exited (code ${code}); see the messages above\n`);
    rmSync(join(DEMO, 'ready'), { force: true });
    process.exit(code || 1);
  }
});

for (let i = 0; i < 120 && !(await healthy()); i++) await new Promise((r) => setTimeout(r, 500));
if (!(await healthy())) {
  process.stderr.write('bulkhead: the PCE did not answer its health check in 60 s\n');
  stop(1);
} else {
  writeFileSync(join(DEMO, 'pce-url'), `${URL_}\n`);
  writeFileSync(join(DEMO, 'ready'), `${new Date().toISOString()}\n`);
  process.stdout.write(
    `\nBulkhead is running.\n` +
      `  console/API:   ${URL_}  (the web console arrives with its issue; the REST API is under /api/v2)\n` +
      `  CA:            ${join(DATA, 'tls', 'ca.pem')}\n` +
      `  owner API key: ${join(DATA, 'owner-api-key.json')}\n` +
      `  try:  curl --cacert ${join(DATA, 'tls', 'ca.pem')} -u "$(jq -r '.auth_username+":"+.secret' ${join(DATA, 'owner-api-key.json')})" ${URL_}/api/v2/orgs/1/labels\n` +
      `Press Ctrl-C to stop.\n`,
  );
}
