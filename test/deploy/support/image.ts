/**
 * The image the Dockerfile builds, as a container sees it: its environment, working directory,
 * user, and the command line a container runs once Compose or Kubernetes override parts of it.
 */
import { posix } from 'node:path';
import { compiledEntry, readRepoFile, startScript } from './app-entries';
import { imageCommand, lastInstruction, parseDockerfile, stageEnv, stageWorkdir, type Dockerfile, type DockerStage } from './dockerfile';

export interface Image {
  readonly dockerfile: Dockerfile;
  readonly final: DockerStage;
  readonly env: Readonly<Record<string, string>>;
  readonly workdir: string;
  readonly user: string | undefined;
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
}

export function loadImage(): Image {
  const dockerfile = parseDockerfile(readRepoFile('Dockerfile'));
  const final = dockerfile.stages[dockerfile.stages.length - 1];
  if (!final) throw new Error('the Dockerfile has no stage');
  const { entrypoint, cmd } = imageCommand(final);
  return {
    dockerfile,
    final,
    env: stageEnv(final),
    workdir: stageWorkdir(final),
    user: lastInstruction(final, 'USER')?.args.trim(),
    entrypoint,
    cmd,
  };
}

/**
 * The argument list a container runs. Kubernetes: `command` replaces ENTRYPOINT (and drops CMD),
 * `args` replaces CMD. Compose: `entrypoint` and `command`, the same way.
 */
export function containerArgv(image: Image, override: { entrypoint?: readonly string[]; cmd?: readonly string[] }): string[] {
  const entrypoint = override.entrypoint ?? image.entrypoint;
  const cmd = override.cmd ?? (override.entrypoint ? [] : image.cmd);
  return [...entrypoint, ...cmd];
}

/**
 * Why a container command line does not run what `npm run start:<app>` runs, compiled: node with
 * the script's Node options, on the build output of the script's entry file (relative to the
 * image's working directory). Empty when it does.
 */
export function startScriptMismatch(image: Image, argv: readonly string[], app: string): string[] {
  const script = startScript(app);
  const expectedEntry = compiledEntry(script.entry);
  const problems: string[] = [];
  if (argv[0] !== 'node') problems.push(`runs ${argv[0] ?? '(nothing)'}, not node`);
  const firstArgument = argv.findIndex((word, index) => index > 0 && !word.startsWith('-'));
  const nodeOptions = argv.slice(1, firstArgument < 0 ? argv.length : firstArgument);
  for (const option of script.nodeOptions) {
    if (!nodeOptions.includes(option)) problems.push(`lacks the Node option ${option} of "${script.name}"`);
  }
  const entry = firstArgument < 0 ? undefined : posix.relative('/', posix.resolve(image.workdir, argv[firstArgument]));
  const expected = posix.relative('/', posix.resolve(image.workdir, expectedEntry));
  if (entry !== expected) problems.push(`runs ${entry ?? 'no script'}, but "${script.name}" starts ${script.entry} (built to /${expected})`);
  return problems;
}
