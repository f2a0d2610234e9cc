// Starts the activepath binary on a free port with a fresh data folder.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const BIN = process.env.E2E_BIN ?? '../target/debug/activepath';

/** A fresh data folder for a server. */
export function newDataDir() {
  return mkdtempSync(join(tmpdir(), 'activepath-e2e-'));
}

/** Runs an activepath command (e.g. `user add`) on a data folder. */
export function runCommand(args, dataDir, input = '') {
  const env = { ...process.env, RUST_LOG: 'error' };
  delete env.DATABASE_URL;
  return execFileSync(BIN, [...args, '--data-dir', dataDir], { env, input, encoding: 'utf8' });
}

/** Resolves to { base, dataDir, stop } once the server accepts requests.
 *  `extraEnv` adds settings, e.g. a small rate limit; `dataDir` reuses a
 *  folder prepared with runCommand. */
export async function startServer(extraEnv = {}, dataDir = newDataDir()) {
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
