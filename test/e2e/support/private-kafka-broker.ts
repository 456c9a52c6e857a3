/**
 * A Kafka broker of a suite's own, for a test that stops and starts its broker: the shared broker
 * (127.0.0.1:9092) serves every other suite, which may be running at the same time in other jest
 * workers, so stopping it would fail them. This one is scripts/kafka/kafka.sh with its own ports
 * and data folder (a temporary directory) and the shared broker's jars (nothing is downloaded
 * when they are there). `destroy` stops it and deletes its data, whatever state it is in.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './standalone-process';

const ROOT = join(__dirname, '..', '..', '..');
const SCRIPT = join(ROOT, 'scripts', 'kafka', 'kafka.sh');

export class PrivateKafkaBroker {
  private constructor(
    private readonly env: Record<string, string>,
    readonly brokers: string,
    private readonly dir: string,
  ) {}

  /** Starts a fresh single-node broker on free ports and resolves once it answers. */
  static async start(): Promise<PrivateKafkaBroker> {
    const port = await freePort();
    let controllerPort = await freePort();
    while (controllerPort === port) controllerPort = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'meridian-private-kafka-'));
    const env = {
      KAFKA_HOST: '127.0.0.1',
      KAFKA_PORT: String(port),
      KAFKA_CONTROLLER_PORT: String(controllerPort),
      KAFKA_CACHE_DIR: dir,
      // Set explicitly: a KAFKA_DATA_DIR in the environment must not point this broker at the shared one's data.
      KAFKA_DATA_DIR: join(dir, 'data'),
      KAFKA_LIBS_DIR: process.env.KAFKA_LIBS_DIR ?? join(process.env.KAFKA_CACHE_DIR ?? join(ROOT, '.cache', 'kafka'), 'libs'),
      KAFKA_HEAP_OPTS: '-Xms128m -Xmx384m',
      KAFKA_START_TIMEOUT: '120',
    };
    const broker = new PrivateKafkaBroker(env, `127.0.0.1:${port}`, dir);
    try {
      await broker.run('start');
    } catch (error) {
      await broker.destroy();
      throw error;
    }
    return broker;
  }

  /** `kafka.sh stop`: a graceful stop (killed after 30 s); the data stays for `resume`. */
  stop(): Promise<string> {
    return this.run('stop');
  }

  /** `kill -9` of the broker's JVM (the pid in kafka.sh's pid file): no clean shutdown. */
  async kill(): Promise<void> {
    const pid = Number(readFileSync(join(this.dir, 'run', 'kafka.pid'), 'utf8').trim());
    process.kill(pid, 'SIGKILL');
    // Gone once /proc no longer lists it, or lists it as a zombie waiting for its reaper.
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      let state: string;
      try {
        state = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').charAt(0);
      } catch {
        return;
      }
      if (state === 'Z') return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`the broker (pid ${pid}) did not die within 30 s of SIGKILL`);
  }

  /** `kafka.sh start` on the same ports and data. */
  resume(): Promise<string> {
    return this.run('start');
  }

  /** Stops the broker (if running) and deletes its folder. Never throws. */
  async destroy(): Promise<void> {
    await this.run('stop').catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private run(command: 'start' | 'stop'): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile('bash', [SCRIPT, command], { env: { ...process.env, ...this.env }, timeout: 180_000 }, (error, stdout, stderr) => {
        if (error) reject(new Error(`kafka.sh ${command} failed: ${error.message}\n${stdout}${stderr}`));
        else resolve(stdout + stderr);
      });
    });
  }
}
