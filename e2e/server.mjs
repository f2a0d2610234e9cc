// Starts the activepath binary on a free port with a fresh data folder.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const BIN = process.env.E2E_BIN ?? '../target/debug/activepath';

/** Resolves to { base, dataDir, stop } once the server accepts requests.
 *  `extraEnv` adds settings, e.g. a small rate limit. */
export async function startServer(extraEnv = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'activepath-e2e-'));
  const env = { ...process.env, RUST_LOG: 'error', ...extraEnv };
  delete env.DATABASE_URL;
  const server = spawn(BIN, ['serve', '--bind', '127.0.0.1:0', '--data-dir', dataDir], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise((resolve, reject) => {
    createInterface({ input: server.stdout }).once('line', resolve);
    server.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return {
    base: line.trim().split(' ').pop(),
    dataDir,
    stop() {
      server.kill('SIGTERM');
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
