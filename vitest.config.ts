import { defineConfig } from 'vitest/config';

// Two projects: `unit` runs everywhere without root; `system` needs root and real
// daemons (libvirt, OVS, tgt, dnsmasq, qemu) and only runs with SYSTEM_TESTS=1.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['**/*.test.ts'],
          exclude: ['**/*.system.test.ts', 'node_modules/**', 'dist/**', 'build/**'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'system',
          include: ['**/*.system.test.ts'],
          exclude: ['node_modules/**', 'dist/**', 'build/**'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
