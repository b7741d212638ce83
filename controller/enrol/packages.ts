import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The Debian packages of the given roles (plus `agent`) from scripts/debian-packages.txt. */
export function packagesFor(root: string, roles: readonly string[]): string[] {
  const groups = new Map<string, string[]>();
  for (const line of readFileSync(join(root, 'scripts/debian-packages.txt'), 'utf8').split('\n')) {
    const f = line.replace(/#.*/, '').trim().split(/\s+/).filter(Boolean);
    if (f.length > 1) groups.set(f[0]!, f.slice(1));
  }
  return [...new Set(['agent', ...roles].flatMap((g) => groups.get(g) ?? []))].sort();
}
