import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Runner } from '../../shared/exec/run.js';

/** The install this controller runs from: the directory of homestack's package.json. */
export function installRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== '/'; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === 'homestack') return dir;
    } catch {
      // keep walking up
    }
  }
  throw new Error('cannot find the homestack install (package.json)');
}

/** node_modules paths of the production dependencies (package-lock v3: entries without dev). */
export function productionModules(root: string): string[] {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean; devOptional?: boolean; optional?: boolean }>;
  };
  return Object.entries(lock.packages)
    .filter(([path, p]) => path.startsWith('node_modules/') && !p.dev && !p.devOptional && existsSync(join(root, path)))
    .map(([path]) => path)
    .sort();
}

function newestMtime(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) t = Math.max(t, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return t;
}

export interface Release {
  file: string;
  sha256: string;
  size: number;
  version: string;
}

/**
 * The agent release: a self-contained tarball of this install's dist/, package.json,
 * the production node_modules (native addons as built here, for Debian 12 amd64) and
 * the Node binary that runs this controller (Debian 12's own Node is 18; Homestack
 * needs 20). Built once per (version, lock file, Node, build) under <outDir>, reused
 * afterwards; a .sha256 file sits beside it.
 */
export async function ensureRelease(run: Runner, outDir: string, root = installRoot()): Promise<Release> {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  if (!existsSync(join(root, 'dist/agents/main.js'))) throw new Error(`no build in ${root}/dist (npm run build)`);
  const key = createHash('sha256')
    .update(pkg.version)
    .update(readFileSync(join(root, 'package-lock.json')))
    .update(process.version)
    .update(String(newestMtime(join(root, 'dist'))))
    .digest('hex')
    .slice(0, 12);
  const file = join(outDir, `homestack-agent-${pkg.version}-${key}.tar.gz`);
  if (existsSync(file) && existsSync(`${file}.sha256`)) {
    return {
      file,
      sha256: readFileSync(`${file}.sha256`, 'utf8').trim().split(/\s+/)[0]!,
      size: statSync(file).size,
      version: pkg.version,
    };
  }
  mkdirSync(outDir, { recursive: true, mode: 0o755 });
  const list = join(outDir, `.files-${key}`);
  writeFileSync(list, ['dist', 'package.json', ...productionModules(root)].join('\n') + '\n');
  const part = `${file}.part`;
  await run(
    'tar',
    [
      '-czf',
      part,
      '--exclude=*.test.js',
      '--exclude=*.js.map',
      '--exclude=*.d.ts',
      '-C',
      root,
      '--files-from',
      list,
      '-C',
      dirname(process.execPath),
      '--transform',
      `s,^${basename(process.execPath)}$,bin/node,`,
      basename(process.execPath),
    ],
    { timeoutMs: 300_000 },
  );
  const sha256 = await new Promise<string>((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(part)
      .on('data', (d) => h.update(d))
      .on('end', () => resolve(h.digest('hex')))
      .on('error', reject);
  });
  renameSync(part, file);
  writeFileSync(`${file}.sha256`, `${sha256}  ${basename(file)}\n`);
  return { file, sha256, size: statSync(file).size, version: pkg.version };
}
