// SPDX-License-Identifier: Apache-2.0
// `npm run desktop`: build, then start the Electron admin app where Electron's binary is
// installed (it is an optional dependency: its download is not possible everywhere).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { build, ROOT } from './lib/setup.mjs';

build();
let electron;
try {
  electron = createRequire(import.meta.url)('electron'); // the path of its binary
} catch (err) {
  process.stderr.write(
    `Electron is not installed here (${err.message.split('\n')[0]}).\n` +
      'Install it where its binary can be downloaded: `npm install --include=optional electron`, then run `npm run desktop` again.\n' +
      'Meanwhile the same console runs in a browser: `npm start` prints the PCE URL that serves it.\n',
  );
  process.exit(1);
}
const r = spawnSync(electron, ['desktop/dist/main/main.js', ...process.argv.slice(2)], { cwd: ROOT, stdio: 'inherit' });
process.exit(r.status ?? 1);
