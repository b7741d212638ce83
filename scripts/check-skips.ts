/**
 * The skip gate of scripts/test.sh: reads vitest JSON reports and fails when a test was
 * skipped (skip, skipIf, ctx.skip(), todo) that scripts/allowed-skips.txt does not name.
 * A CI machine without libvirtd, Open vSwitch, tgtd or Chromium must not go green with
 * the tests that need them not run. This is the one mechanism that turns skips into
 * failures (it replaced REQUIRED_SYSTEM_TESTS).
 *
 *   npx tsx scripts/check-skips.ts STAGE REPORT.json        gate one stage (exit 1 on a refused skip)
 *   npx tsx scripts/check-skips.ts --summary REPORT.json…   totals and the allowed skips with their reasons
 *
 * A single file of your own: `SYSTEM_TESTS=1 npx vitest run --project system FILE
 * --reporter=default --reporter=json --outputFile.json=/tmp/r.json; npx tsx scripts/check-skips.ts system /tmp/r.json`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
export const ALLOWED_FILE = join(ROOT, 'scripts', 'allowed-skips.txt');
const SKIPPED = new Set(['skipped', 'pending', 'todo']);

export interface AllowedSkip {
  file: string;
  test: string;
  reason: string;
  line: number;
}
export interface SkippedTest {
  file: string;
  test: string;
}
interface Report {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests?: number;
  testResults: { name: string; assertionResults: { fullName: string; status: string }[] }[];
}

/** `file | full test name | reason` per line; `#` starts a comment. Every field is required. */
export function parseAllowed(text: string): AllowedSkip[] {
  const out: AllowedSkip[] = [];
  text.split('\n').forEach((raw, i) => {
    const l = raw.trim();
    if (!l || l.startsWith('#')) return;
    const parts = l.split(' | ').map((p) => p.trim());
    if (parts.length !== 3 || parts.some((p) => !p))
      throw new Error(`allowed-skips.txt:${i + 1}: expected 'file | full test name | reason', got: ${l}`);
    out.push({ file: parts[0]!, test: parts[1]!, reason: parts[2]!, line: i + 1 });
  });
  return out;
}

/** The skipped tests of one report, with paths relative to the repository. */
export function skippedOf(r: Report, root = ROOT): { skipped: SkippedTest[]; ran: SkippedTest[] } {
  const skipped: SkippedTest[] = [];
  const ran: SkippedTest[] = [];
  for (const f of r.testResults) {
    const file = relative(root, f.name);
    for (const a of f.assertionResults) (SKIPPED.has(a.status) ? skipped : ran).push({ file, test: a.fullName });
  }
  return { skipped, ran };
}

/** Splits skips into allowed (with the list's entry) and refused. */
export function judge(skipped: SkippedTest[], allowed: AllowedSkip[]) {
  const ok: { t: SkippedTest; a: AllowedSkip }[] = [];
  const refused: SkippedTest[] = [];
  for (const t of skipped) {
    const a = allowed.find((x) => x.file === t.file && x.test === t.test);
    if (a) ok.push({ t, a });
    else refused.push(t);
  }
  return { ok, refused };
}

const readReport = (p: string): Report => JSON.parse(readFileSync(p, 'utf8')) as Report;
const readAllowed = () => (existsSync(ALLOWED_FILE) ? parseAllowed(readFileSync(ALLOWED_FILE, 'utf8')) : []);

function gate(stage: string, report: string): number {
  const allowed = readAllowed();
  const { skipped, ran } = skippedOf(readReport(report));
  const { ok, refused } = judge(skipped, allowed);
  for (const { t, a } of ok) console.log(`${stage}: allowed skip: ${t.file} › ${t.test} — ${a.reason}`);
  for (const a of allowed.filter((x) => ran.some((t) => t.file === x.file && t.test === x.test)))
    console.log(`${stage}: note: allowed-skips.txt:${a.line} names a test that ran here (${a.file} › ${a.test}); drop the line?`);
  if (!refused.length) {
    console.log(`${stage}: ${skipped.length} skipped, ${ok.length} of them on the reviewed list`);
    return 0;
  }
  console.log(`\n${stage}: ${refused.length} test(s) skipped that scripts/allowed-skips.txt does not name:`);
  for (const t of refused) console.log(`  ${t.file} › ${t.test}`);
  console.log(
    `Each file prints why it skips (search the log above for its name and "skip"). Give this machine what the test\n` +
      `needs, or add 'file | full test name | reason' to scripts/allowed-skips.txt for review.`,
  );
  return 1;
}

function summary(reports: string[]): number {
  const allowed = readAllowed();
  let p = 0;
  let f = 0;
  let s = 0;
  const ok: { t: SkippedTest; a: AllowedSkip }[] = [];
  for (const file of reports.filter((x) => existsSync(x))) {
    const r = readReport(file);
    p += r.numPassedTests;
    f += r.numFailedTests;
    s += r.numPendingTests + (r.numTodoTests ?? 0);
    ok.push(...judge(skippedOf(r).skipped, allowed).ok);
  }
  console.log(`${p} passed, ${f} failed, ${s} skipped (${ok.length} on the reviewed list scripts/allowed-skips.txt)`);
  for (const { t, a } of ok) console.log(`  skipped: ${t.file} › ${t.test} — ${a.reason}`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const [first, ...rest] = process.argv.slice(2);
  if (first === '--summary') process.exit(summary(rest));
  if (!first || rest.length !== 1) {
    console.error('usage: check-skips.ts STAGE REPORT.json | --summary REPORT.json…');
    process.exit(2);
  }
  process.exit(gate(first, rest[0]!));
}
