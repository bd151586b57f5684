// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The lab's only container image, built from Debian's busybox-static (no
 * registry is reachable here): an OCI image-layout tarball with one
 * uncompressed layer holding /bin/busybox and a link per applet. Its default
 * command sleeps forever, so it also serves as the pause (sandbox) image.
 * Imported into each node's containerd as `docker.io/library/busybox:latest`
 * (what a pod spec's `image: busybox` normalises to); the kubelet maps every
 * `busybox[:tag]` to it.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../sh.js';

export const LAB_IMAGE = 'docker.io/library/busybox:latest';
export const BUSYBOX = '/bin/busybox';

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
const TAR_FLAGS = ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0'];

/** Build the image tarball in `workDir` and return its path. */
export async function buildImage(workDir: string): Promise<string> {
  rmSync(workDir, { recursive: true, force: true });
  const rootfs = join(workDir, 'rootfs');
  const layout = join(workDir, 'layout');
  for (const d of ['bin', 'etc', 'tmp', 'proc', 'sys', 'dev', 'root', 'var/www'])
    mkdirSync(join(rootfs, d), { recursive: true });
  copyFileSync(BUSYBOX, join(rootfs, 'bin/busybox'));
  const applets = (await run([BUSYBOX, '--list'])).stdout.split('\n').filter((a) => /^[a-z0-9_.[-]+$/.test(a));
  for (const a of applets) if (a !== 'busybox') symlinkSync('busybox', join(rootfs, 'bin', a));
  writeFileSync(
    join(rootfs, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n',
  );
  writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  writeFileSync(join(rootfs, 'var/www/index.html'), 'bulkhead lab\n');

  const blobs = join(layout, 'blobs/sha256');
  mkdirSync(blobs, { recursive: true });
  const layerTar = join(workDir, 'layer.tar');
  await run(['tar', ...TAR_FLAGS, '-C', rootfs, '-cf', layerTar, '.']);
  const layer = readFileSync(layerTar);
  const layerDigest = sha256(layer);
  writeFileSync(join(blobs, layerDigest), layer);

  const config = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: { Entrypoint: ['/bin/busybox', 'sleep', 'infinity'], Env: ['PATH=/bin'], WorkingDir: '/' },
    rootfs: { type: 'layers', diff_ids: [`sha256:${layerDigest}`] },
  });
  const configDigest = sha256(config);
  writeFileSync(join(blobs, configDigest), config);

  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: `sha256:${configDigest}`,
      size: config.length,
    },
    layers: [
      { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${layerDigest}`, size: layer.length },
    ],
  });
  const manifestDigest = sha256(manifest);
  writeFileSync(join(blobs, manifestDigest), manifest);

  writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: `sha256:${manifestDigest}`,
          size: manifest.length,
          platform: { architecture: 'amd64', os: 'linux' },
          annotations: { 'io.containerd.image.name': LAB_IMAGE, 'org.opencontainers.image.ref.name': 'latest' },
        },
      ],
    }),
  );
  const out = join(workDir, 'busybox-oci.tar');
  await run(['tar', ...TAR_FLAGS, '-C', layout, '-cf', out, 'oci-layout', 'index.json', 'blobs']);
  rmSync(rootfs, { recursive: true, force: true });
  rmSync(layout, { recursive: true, force: true });
  rmSync(layerTar, { force: true });
  return out;
}

/** Import the tarball into a node's containerd (namespace k8s.io, where CRI looks). */
export async function importImage(socket: string, tarball: string): Promise<void> {
  await run(['ctr', '-a', socket, '-n', 'k8s.io', 'images', 'import', tarball]);
}

/** Map a pod spec's image to the lab image: every `busybox[:tag]` is the lab's busybox. */
export function resolveImage(image: string): string | undefined {
  const ref = image.replace(/^docker\.io\//, '').replace(/^library\//, '');
  const repo = ref.split('@')[0]!.split(':')[0];
  return repo === 'busybox' ? LAB_IMAGE : undefined;
}
