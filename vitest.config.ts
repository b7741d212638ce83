import { defineConfig } from 'vitest/config';

// Three projects: `unit` runs everywhere without root; `system` needs root and real
// daemons (libvirt, OVS, tgt, dnsmasq, qemu) and only runs with SYSTEM_TESTS=1;
// `faults` (faults/**) breaks real processes on purpose and fuzzes the APIs
// (`npm run test:faults`; its process scenarios also need root and SYSTEM_TESTS=1).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['**/*.test.ts'],
          exclude: ['**/*.system.test.ts', 'faults/**', 'node_modules/**', 'dist/**', 'build/**'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'system',
          include: ['**/*.system.test.ts'],
          exclude: ['faults/**', 'node_modules/**', 'dist/**', 'build/**'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'faults',
          include: ['faults/**/*.test.ts'],
          exclude: ['node_modules/**', 'dist/**', 'build/**'],
          testTimeout: 600_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
