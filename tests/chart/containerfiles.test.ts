// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// The agents' Containerfiles, checked without a container engine (none exists
// here): every file they copy exists (after `npm run build`), the image runs
// what the chart's containers run (rendered with Go text/template + sprig,
// tests/chart/render; no helm binary exists here), the C-VEN image installs
// the Debian packages that provide what the agent runs and links, and the
// runtime stage's files, laid out as its COPY lines say, start the agent.
import { execFile, execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { CVEN_SETTINGS } from '../../cven/src/settings.js';
import { SETTINGS as KUBELINK_SETTINGS } from '../../kubelink/src/cli.js';
import { REPO, VALUES, containerOf, one, renderOk, type Rendered } from './render.js';

const run = promisify(execFile);

interface Instruction {
  op: string;
  args: string;
  stage: number;
}

/** A Containerfile's instructions (continuation lines joined, comments dropped), with their stage. */
function parseContainerfile(path: string): { stages: string[]; instructions: Instruction[] } {
  const text = readFileSync(path, 'utf8').replace(/\\\n/g, ' ');
  const stages: string[] = [];
  const instructions: Instruction[] = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    const [, op, args] = /^(\S+)\s+(.*)$/.exec(t)!;
    if (op === 'FROM') stages.push(args!);
    instructions.push({ op: op!, args: args!.replace(/\s+/g, ' '), stage: stages.length - 1 });
  }
  return { stages, instructions };
}

const PARTS = {
  cven: { kind: 'DaemonSet', settings: CVEN_SETTINGS.map((s) => s.flag) },
  kubelink: { kind: 'Deployment', settings: KUBELINK_SETTINGS.map((s) => s.flag) },
} as const;

describe('agent Containerfiles (no container engine here; the chart is rendered with Go text/template + sprig)', () => {
  let rendered: Rendered;
  beforeAll(async () => {
    rendered = await renderOk([join(VALUES, 'minimal.yaml')]);
  }, 120_000);

  for (const [part, { kind, settings }] of Object.entries(PARTS)) {
    const file = join(REPO, part, 'Containerfile');
    const copies = () => parseContainerfile(file).instructions.filter((i) => i.op === 'COPY');

    describe(`${part}/Containerfile`, () => {
      it('builds on node:20-bookworm and runs on debian:bookworm-slim', () => {
        expect(parseContainerfile(file).stages).toEqual(['node:20-bookworm AS build', 'debian:bookworm-slim']);
      });

      it('copies only files that exist: sources from the repository, build outputs that `npm run build` makes', () => {
        for (const c of copies()) {
          const words = c.args.split(' ');
          const fromBuild = words[0] === '--from=build';
          const srcs = words.slice(fromBuild ? 1 : 0, -1);
          expect(srcs.length, c.args).toBeGreaterThan(0);
          for (const s of srcs) {
            if (s === '/usr/local/bin/node') continue; // the node image's own binary
            const rel = fromBuild ? s.replace(/^\/src\//, '') : s;
            expect(fromBuild ? s.startsWith('/src/') : true, s).toBe(true);
            expect(existsSync(join(REPO, rel)), `${part}/Containerfile copies ${s}, which does not exist`).toBe(true);
          }
        }
      });

      it("runs exactly the chart container's command and arguments", () => {
        const ins = parseContainerfile(file).instructions;
        const json = (op: string) => JSON.parse(ins.filter((i) => i.op === op).at(-1)!.args) as string[];
        const c = containerOf(one(rendered, kind));
        expect(json('ENTRYPOINT')).toEqual(c.command);
        expect(json('CMD')).toEqual(c.args);
      });

      it("runs as the user the chart's pod runs as", () => {
        const user = parseContainerfile(file)
          .instructions.filter((i) => i.op === 'USER')
          .at(-1)!.args;
        const w = one(rendered, kind);
        const uid = containerOf(w).securityContext?.runAsUser ?? w.spec.template.spec.securityContext?.runAsUser;
        expect(Number(user.split(':')[0])).toBe(uid);
      });

      it('its runtime files, laid out as the COPY lines say, start the agent with every setting', async () => {
        const root = mkdtempSync(join(tmpdir(), `bh-chart-image-${part}-`));
        onTestFinished(() => rmSync(root, { recursive: true, force: true }));
        const work = join(root, 'opt', 'bulkhead');
        mkdirSync(work, { recursive: true });
        for (const c of copies().filter((x) => x.args.startsWith('--from=build /src/'))) {
          const words = c.args.split(' ').slice(1);
          const dest = join(work, words.at(-1)!);
          const srcs = words.slice(0, -1).map((s) => join(REPO, s.replace(/^\/src\//, '')));
          const intoDir = words.at(-1)!.endsWith('/') || srcs.length > 1;
          for (const s of srcs) {
            if (basename(s) === 'node_modules') {
              // Third-party packages linked (not copied: hundreds of MB); our workspace links copied as they are.
              mkdirSync(join(dest, '@bulkhead'), { recursive: true });
              for (const e of readdirSync(s))
                if (e !== '@bulkhead' && e !== '.bin') symlinkSync(join(s, e), join(dest, e));
              cpSync(join(s, '@bulkhead'), join(dest, '@bulkhead'), { recursive: true, verbatimSymlinks: true });
            } else if (statSync(s).isDirectory())
              cpSync(s, dest, { recursive: true }); // its contents
            else {
              const to = intoDir ? join(dest, basename(s)) : dest;
              mkdirSync(dirname(to), { recursive: true });
              cpSync(s, to);
            }
          }
        }
        const { stdout } = await run(process.execPath, [join(work, 'bin', 'bulkhead.js'), part, 'run', '--help'], {
          cwd: work,
        });
        for (const flag of settings) expect(stdout).toContain(`--${flag} <value>`);
        // Only what the image holds was loaded: the workspace code came from the laid-out tree.
        const resolved = execFileSync(
          process.execPath,
          ['-e', `import('@bulkhead/${part}/cli').then(() => console.log(require.resolve('@bulkhead/pce/api')))`],
          { cwd: work, encoding: 'utf8' },
        );
        expect(resolved.trim()).toBe(join(work, 'pce', 'dist', 'api', 'index.js'));
        // Every file the code finds next to itself (new URL('...', import.meta.url)) is in the image.
        const assets: string[] = [];
        const scan = (d: string): void => {
          for (const e of readdirSync(d, { withFileTypes: true })) {
            const p = join(d, e.name);
            if (e.isDirectory() && e.name !== 'bench' && e.name !== 'test-support') scan(p);
            else if (e.name.endsWith('.js') && !e.name.endsWith('.test.js'))
              for (const m of readFileSync(p, 'utf8').matchAll(/new URL\('([^']+)', import\.meta\.url\)/g))
                assets.push(join(dirname(p), m[1]!));
          }
        };
        scan(join(work, part, 'dist'));
        if (part === 'cven') expect(assets.length).toBeGreaterThanOrEqual(2); // the CRI proto and libbulkhead
        for (const a of assets) expect(existsSync(a), `${a.slice(work.length)} is not in the image`).toBe(true);
      });
    });
  }

  it('the C-VEN image installs the Debian packages of the programs the agent runs and the library libbulkhead links', () => {
    // What cven/src spawns (nft, and nsenter and ip inside pods' namespaces).
    const spawned = new Set<string>();
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory() && e.name !== 'bench' && e.name !== 'test-support') walk(p);
        else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts'))
          for (const m of readFileSync(p, 'utf8').matchAll(/(?:spawn|run|execFile)\(\s*'([a-z]+)'|\['(nsenter|nft)',/g))
            spawned.add((m[1] ?? m[2])!);
      }
    };
    walk(join(REPO, 'cven', 'src'));
    spawned.add('nft'); // nftArgv: ['nft', args] when no namespace
    expect([...spawned].sort()).toEqual(['ip', 'nft', 'nsenter']);
    // dpkg knows a file by the path its package ships (Debian 12 merged /bin into /usr/bin: try both).
    const ownerOf = (path: string): string => {
      for (const p of [path, path.replace(/^\/usr\//, '/')])
        try {
          return execFileSync('dpkg', ['-S', p], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
            .split(':')[0]!
            .trim();
        } catch {
          /* not under this name */
        }
      throw new Error(`no Debian package ships ${path}`);
    };
    const which = (cmd: string): string =>
      execFileSync('bash', ['-c', `readlink -f "$(command -v ${cmd})"`], { encoding: 'utf8' }).trim();
    const needed = new Set([...spawned].map((c) => ownerOf(which(c))));
    const lib = /libbpf\.so\.1 => (\S+)/.exec(
      execFileSync('ldd', [join(REPO, 'bpf', 'build', 'libbulkhead.so')], { encoding: 'utf8' }),
    )![1]!;
    needed.add(ownerOf(execFileSync('readlink', ['-f', lib], { encoding: 'utf8' }).trim()));
    const ins = parseContainerfile(join(REPO, 'cven', 'Containerfile')).instructions;
    const apt = ins.find((i) => i.stage === 1 && i.op === 'RUN' && i.args.includes('apt-get install'))!.args;
    for (const pkg of needed) expect(apt.split(' '), `cven/Containerfile installs ${pkg}`).toContain(pkg);
    // And both probe files are in the image.
    expect(ins.some((i) => i.op === 'COPY' && /libbulkhead\.so .*probe\.bpf\.o/.test(i.args))).toBe(true);
  });
});
