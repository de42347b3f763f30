// Tests of the workspace, all against a real sd-worker started by the tests (test-support/worker.ts):
//   sdk    the TypeScript client (node)
//   react  the hooks, rendered in jsdom
//   e2e    the built app (ui/dist) served by the worker at /ui/, driven in Debian's Chromium with
//          playwright-core; screenshots go to $SDW_UI_TEST_OUTPUT (default ui/test-output)
// Files run one at a time: a 2-core machine runs the worker, Chromium and the tests together.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  esbuild: { jsx: 'automatic' },
  test: {
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      { extends: true, test: { name: 'sdk', environment: 'node', include: ['packages/sd-worker-sdk/test/**/*.test.ts'] } },
      { extends: true, test: { name: 'react', environment: 'jsdom', include: ['packages/sd-worker-react/test/**/*.test.tsx'] } },
      { extends: true, test: { name: 'e2e', environment: 'node', include: ['app/e2e/**/*.test.ts'], testTimeout: 90_000 } },
    ],
  },
});
