// Starts the real sd-worker binary for a client test: `sd-worker serve --port 0` on loopback with
// the demo model (no download, well under a second per small image), reads the bound port from
// its `listening on` line, waits for /ready, and stops it with SIGTERM. The binary is
// $SDW_WORKER_BINARY (ctest passes the built one), else ../../build/runtime/sd-worker.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export function workerBinary() {
  const binary = process.env.SDW_WORKER_BINARY ?? resolve(here, '../../../build/runtime/sd-worker');
  if (!existsSync(binary))
    throw new Error(`no sd-worker binary at ${binary}: build it (scripts/setup.sh) or set SDW_WORKER_BINARY`);
  return binary;
}

export async function startWorker(args = []) {
  const argv = ['serve', '--host', '127.0.0.1', '--port', '0', '--min-side', '64', '--no-ui', ...args];
  const child = spawn(workerBinary(), argv, { env: { ...process.env, SDW_CPU_THREADS: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stderr.on('data', (d) => (output += d.toString()));
  const port = await new Promise((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`sd-worker did not listen within 30 s:\n${output}`)), 30_000);
    child.stdout.on('data', (d) => {
      output += d.toString();
      const m = /listening on http:\/\/[\d.]+:(\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolvePort(Number(m[1]));
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sd-worker exited (${code}) before listening:\n${output}`));
    });
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {  // bounded: the demo model loads in about a second
    const ready = await fetch(`${url}/ready`).then((r) => r.status, () => 0);
    if (ready === 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, port, log: () => output, stop: () => stopProcess(child) };
}

function stopProcess(child) {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolveExit) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', (code) => {
      clearTimeout(kill);
      resolveExit(code);
    });
    child.kill('SIGTERM');
  });
}
