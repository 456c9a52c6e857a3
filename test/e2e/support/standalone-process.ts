import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..', '..');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface StandaloneProcess {
  readonly child: ChildProcess;
  readonly baseUrl: string;
  output(): string;
}

/** Starts `apps/standalone` as a real OS process (as `npm start` does) and waits until it listens. */
export async function spawnStandalone(env: Record<string, string>, timeoutMs = 90_000): Promise<StandaloneProcess> {
  const port = await freePort();
  // The same Node options as `npm start` (package.json): a larger young generation (see README "Runtime tuning").
  const child = spawn(process.execPath, ['--max-semi-space-size=64', require.resolve('ts-node/dist/bin.js'), '--swc', '-r', 'tsconfig-paths/register', 'apps/standalone/src/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`standalone did not start in ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const check = () => {
      if (/listening on/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`standalone exited with ${code}:\n${output}`));
    });
  });
  return { child, baseUrl: `http://127.0.0.1:${port}`, output: () => output };
}

export async function killHard(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}
