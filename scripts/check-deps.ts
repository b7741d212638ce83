/**
 * `npm run check:deps` (scripts/test.sh's static checks): dependency-cruiser with the rules
 * in .dependency-cruiser.cjs (every import resolves, every imported package is declared in
 * package.json, product code imports no devDependency at run time, no import cycles), then
 * the one check it has no rule for: every runtime dependency declared in package.json is
 * imported by the product (a package declared but unused is removed, not carried along).
 * Exits 1 on any finding, printing each.
 */
import { readFileSync } from 'node:fs';
import { cruise, format, type ICruiseResult } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';

const ROOTS = ['controller', 'agents', 'shared', 'scripts', 'faults', 'vitest.config.ts'];
/** Not built into dist/ (tsconfig.build.json): these may use devDependencies. */
const NOT_PRODUCT = /(\.test\.ts$|\/testing\/|^faults\/|^scripts\/|^vitest\.config\.ts$)/;
/** Runtime dependencies used without an import: served as static files, not imported. */
const USED_WITHOUT_IMPORT: Record<string, string> = {
  '@novnc/novnc': 'the console page serves its files from node_modules (controller/console)',
};

const options = await extractDepcruiseOptions('./.dependency-cruiser.cjs');
const reply = await cruise(ROOTS, options, undefined, { tsConfig: extractTSConfig('tsconfig.json') });
const result = reply.output as ICruiseResult;
let failed = result.summary.error > 0;
if (failed) process.stdout.write((await format(result, { outputType: 'err' })).output as string);

/** 'node_modules/@scope/pkg/…' or 'node_modules/pkg/…' → the package name. */
const packageOf = (resolved: string): string | null => {
  const m = /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(resolved);
  return m ? m[1]!.replace(/^@types\//, '') : null;
};
const imported = new Set<string>();
for (const m of result.modules) {
  if (!/^(controller|agents|shared)\//.test(m.source) || NOT_PRODUCT.test(m.source)) continue;
  for (const d of m.dependencies) {
    const p = packageOf(d.resolved);
    if (p) imported.add(p);
  }
}
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string> };
const unused = Object.keys(pkg.dependencies).filter((p) => !imported.has(p) && !(p in USED_WITHOUT_IMPORT));
for (const p of unused) {
  process.stdout.write(`  error unused-dependency: ${p} is in package.json's dependencies but no product module imports it\n`);
  failed = true;
}
process.stdout.write(
  failed
    ? 'check:deps failed\n'
    : `check:deps: ${result.summary.totalCruised} modules, ${result.summary.totalDependenciesCruised} imports: no undeclared or unresolvable import, no devDependency in product code, no cycle, no unused dependency\n`,
);
process.exit(failed ? 1 : 0);
