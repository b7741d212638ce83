import type { Runner } from '../exec/run.js';

/**
 * ISO 9660 images from a directory (config drives), the one module that runs
 * genisoimage or xorriso. Both get the same meaning: Rock Ridge (`-r`, long lower-case
 * names, sane permissions) + Joliet (`-J`), a volume label, UTF-8 names, quiet.
 * Nova builds its config drive with the same genisoimage flags
 * (nova/virt/configdrive.py: -o -ldots -allow-lowercase -allow-multidot -l -publisher
 * -quiet -J -r -V config-2).
 */

export type IsoTool = 'genisoimage' | 'xorriso';

export class IsoError extends Error {}

const LABEL_RE = /^[A-Za-z0-9_.-]{1,32}$/;

function checkPath(p: string): string {
  if (!p.startsWith('/') || /[\0\n\r]/.test(p)) throw new IsoError(`bad path: ${JSON.stringify(p)}`);
  return p;
}

/** The argv (after the tool name) that writes `dir` as an ISO at `out` with `label`. */
export function isoArgs(tool: IsoTool, out: string, dir: string, label: string, publisher = 'Homestack'): string[] {
  if (!LABEL_RE.test(label)) throw new IsoError(`bad volume label: ${JSON.stringify(label)}`);
  const common = [
    '-o',
    checkPath(out),
    '-ldots',
    '-allow-lowercase',
    '-allow-multidot',
    '-l',
    '-publisher',
    publisher,
    '-input-charset',
    'utf-8',
    '-quiet',
    '-J',
    '-r',
    '-V',
    label,
    checkPath(dir),
  ];
  return tool === 'xorriso' ? ['-as', 'mkisofs', ...common] : common;
}

export const isofs = (run: Runner, tool: IsoTool = 'genisoimage') => ({
  /** Writes the ISO (overwriting `out`). On failure the caller removes `out`. */
  make: async (out: string, dir: string, label: string): Promise<void> => {
    await run(tool, isoArgs(tool, out, dir, label), { timeoutMs: 60_000 });
  },
});

export type Isofs = ReturnType<typeof isofs>;
