import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    // Most files wait on stacks, emulators and browsers rather than compute: two at once on
    // CI's two cores (vitest's default there is one; three overload them and waits time out).
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
    // Its build imports its schema JSON without an import attribute, which Node 20 refuses:
    // let Vite load it instead.
    server: { deps: { inline: ['@actions/workflow-parser'] } },
  },
});
