/**
 * dependency-cruiser (npm run check:deps; scripts/test.sh's static checks).
 * Every import resolves, every package imported is declared in package.json, product code
 * (what tsconfig.build.json builds into dist/) imports no devDependency at run time,
 * and no module imports itself back through others.
 */
/** Not built into dist/: tests, test kits, faults/, scripts/, configs. */
const NOT_PRODUCT = '(\\.test\\.ts$|/testing/|^faults/|^scripts/|^vitest\\.config\\.ts$)';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'not-to-unresolvable',
      comment: 'An import that does not resolve to a file or an installed package.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'no-non-package-json',
      comment:
        'A package imported but not declared in package.json (it only arrives as another package\'s dependency): declare it, with an exact version.',
      severity: 'error',
      from: {},
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'not-to-dev-dep',
      comment:
        'Product code imports a devDependency at run time: npm ci --omit=dev would break it. Move the package to dependencies.',
      severity: 'error',
      from: { path: '^(controller|agents|shared)/', pathNot: NOT_PRODUCT },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'], pathNot: '^node_modules/@types/' },
    },
    {
      name: 'no-circular',
      comment: 'An import cycle: move what both sides need into a module of its own.',
      severity: 'error',
      from: { path: '^(controller|agents|shared)/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|build)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    combinedDependencies: false,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
