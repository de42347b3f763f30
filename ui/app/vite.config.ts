// The app's build: relative asset paths (served at /ui/, or under any prefix a proxy adds),
// output in ui/dist, which the worker serves. `npm run dev` proxies the API to a running
// worker ($SDW_WORKER_URL, default http://127.0.0.1:8080).
import { defineConfig } from 'vite';

const worker = process.env.SDW_WORKER_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  base: './',
  esbuild: { jsx: 'automatic' },
  build: { outDir: '../dist', emptyOutDir: true, sourcemap: false, target: 'es2022', chunkSizeWarningLimit: 400 },
  server: {
    proxy: Object.fromEntries(['/v1', '/openapi.json', '/health', '/ready', '/info'].map((p) => [p, { target: worker, changeOrigin: true }])),
  },
});
