// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * What `npm run build`, `npm start` and `npm test` share: installing what a
 * fresh machine lacks (npm packages, Debian packages) and running steps with
 * progress. Plain Node (no dependencies): it runs before `npm ci` has.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Debian packages the project needs, each with why. One list, used by the
 * build, `npm start`, `npm test` and `.ci/run`.
 */
export const DEBIAN_PACKAGES = {
  // node-gyp builds better-sqlite3 from source (no prebuilt download here).
  python3: 'node-gyp (better-sqlite3 build)',
  make: 'node-gyp (better-sqlite3 build)',
  'g++': 'node-gyp (better-sqlite3 build)',
  // Acceptance checks and the README's examples drive the API with these.
  curl: 'API examples and checks',
  jq: 'API examples and checks',
  // The eBPF flow probe (bpf/, `make -C bpf`): compiler, libbpf, vmlinux.h and skeleton generation.
  clang: 'bpf: compiles the probe (-target bpf)',
  llvm: 'bpf: BPF toolchain (llvm-objdump to inspect)',
  'libbpf-dev': 'bpf: libbulkhead links libbpf',
  bpftool: 'bpf: vmlinux.h, static link, skeleton',
  'pkg-config': 'bpf: finds libbpf',
  // The probe's privileged tests and benchmark: nftables drops, iperf3 throughput.
  nftables: 'probe tests: nft drops',
  iperf3: 'probe benchmark',
  // The lab (tests/lab): nodes are network namespaces with their own containerd (nftables above: pod egress SNAT).
  containerd: 'lab nodes: the container runtime answering CRI',
  runc: 'lab nodes: the OCI runtime containerd starts pods with',
  'containernetworking-plugins': 'lab nodes: CNI bridge, host-local and portmap plugins',
  iptables: 'lab nodes: the CNI portmap plugin calls it',
  'busybox-static': 'lab image: the only container image (no registry here)',
  iproute2: 'lab: namespaces, veths, bridges, routes',
  'dnsmasq-base': "lab: the outside world's DNS server",
  openssl: "lab: the API server's CA and certificate",
  'util-linux': 'lab: nsenter, setsid',
  // The chart's render tests (tests/chart): no helm binary exists, so a Go program renders the chart
  // with Helm's engine, text/template + sprig, built offline against Debian's Go sources.
  'golang-go': 'chart tests: builds the renderer (tests/chart/render)',
  'golang-github-masterminds-sprig-dev': "chart tests: sprig, Helm's template functions",
  'golang-github-ghodss-yaml-dev': 'chart tests: YAML as Helm reads and writes it (toYaml, values)',
  'golang-github-xeipuuv-gojsonschema-dev': 'chart tests: values.schema.json checked as Helm 3 does',
  // The console is tested in a real browser (playwright-core drives Debian's Chromium; Electron's cannot be fetched here).
  chromium: 'console tests: the renderer in Chromium (tests/e2e/console.privileged.test.ts)',
  'fonts-dejavu-core': 'console tests: a font for Chromium to render text with (not pulled in without recommends)',
};

/** Print a step heading so long work shows progress. */
export function step(what) {
  process.stdout.write(`\n==> ${what}\n`);
}

/** Run a command in the project root; exit with its status when it fails. */
export function run(cmd, args, { env } = {}) {
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit', env: { ...process.env, ...env } });
  if (r.error) {
    process.stderr.write(`bulkhead: could not run ${cmd}: ${r.error.message}\n`);
    process.exit(1);
  }
  if (r.status !== 0) {
    process.stderr.write(`bulkhead: \`${[cmd, ...args].join(' ')}\` failed (exit ${r.status ?? r.signal})\n`);
    process.exit(r.status ?? 1);
  }
}

function missingDebianPackages() {
  return Object.keys(DEBIAN_PACKAGES).filter((p) => {
    const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', p], { encoding: 'utf8' });
    return r.status !== 0 || !r.stdout.includes('install ok installed');
  });
}

/** Install missing Debian packages as root; otherwise name them and stop. */
export function ensureDebianPackages() {
  if (spawnSync('dpkg-query', ['--version']).status !== 0) return; // not Debian: the user provides them
  const missing = missingDebianPackages();
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    process.stderr.write(
      `bulkhead: missing Debian packages: ${missing.join(' ')}\n` +
        `  install them with: sudo apt-get install -y ${missing.join(' ')}\n`,
    );
    process.exit(1);
  }
  step(`installing Debian packages: ${missing.join(' ')}`);
  run('apt-get', ['update', '-q']);
  run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], {
    env: { DEBIAN_FRONTEND: 'noninteractive' },
  });
}

/** `npm ci` when node_modules is missing (a fresh clone). */
export function ensureNpmPackages() {
  if (existsSync(join(ROOT, 'node_modules', '.package-lock.json'))) return;
  step('installing npm packages (npm ci; builds better-sqlite3 from source, about a minute)');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}

/** Everything `npm run build` does; incremental (tsc -b skips what is current). */
export function build() {
  ensureDebianPackages();
  ensureNpmPackages();
  step('compiling TypeScript (tsc -b, incremental)');
  run('npx', ['--no-install', 'tsc', '-b']);
  step('building the eBPF probe and libbulkhead (make -C bpf, incremental)');
  run('make', ['-C', 'bpf', '--no-print-directory']);
  step('building the console (vite build desktop/src/renderer → pce/dist/console)');
  run('npx', ['--no-install', 'vite', 'build', '--config', 'desktop/vite.config.ts']);
  copyAssets();
}

/** Files tsc does not emit but the built code reads (SQL migrations). */
function copyAssets() {
  for (const dir of ['pce/src/store/migrations']) {
    const to = join(ROOT, dir.replace('/src/', '/dist/'));
    mkdirSync(to, { recursive: true });
    cpSync(join(ROOT, dir), to, { recursive: true });
  }
  // The PCE serves the console it was built with (pce/src/http/plugins/console.ts).
  const consoleDir = join(ROOT, 'pce/dist/console');
  rmSync(consoleDir, { recursive: true, force: true });
  cpSync(join(ROOT, 'desktop/dist/renderer'), consoleDir, { recursive: true });
}
