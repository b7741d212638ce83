import { readFileSync, readdirSync } from 'node:fs';

/**
 * Samples every process's command line (/proc/<pid>/cmdline) every few milliseconds
 * while a scenario runs, keeping the distinct ones: what `ps` would have shown anyone
 * on the host at some moment. Short-lived tools may slip between two samples, so this
 * proves presence, not absence; the argv unit tests (faults/api/secrets-argv.test.ts)
 * cover the tools' calls one by one.
 */
export class ArgvWatch {
  private readonly seen = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  samples = 0;

  start(everyMs = 20): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  get distinct(): number {
    return this.seen.size;
  }

  sample(): void {
    this.samples += 1;
    let pids: string[] = [];
    try {
      pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
    } catch {
      return;
    }
    for (const pid of pids) {
      try {
        const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        if (raw && this.seen.size < 200_000) this.seen.add(raw.split('\0').filter(Boolean).join(' '));
      } catch {
        /* gone */
      }
    }
  }

  /** The distinct command lines that contain any of `values`. */
  containing(values: readonly string[]): string[] {
    const vs = values.filter((v) => v.length >= 8);
    return [...this.seen].filter((a) => vs.some((v) => a.includes(v)));
  }
}
