/**
 * The Dockerfile builds an image that can run every app: dependencies installed with the install
 * scripts package.json allows (better-sqlite3's native module), every source file the build reads
 * in the build context, the compiled entries and their @meridian/* aliases present at run time, a
 * user Kubernetes accepts as non-root.
 */
import { posix } from 'node:path';
import { buildLayout, buildSources, compiledEntry, packageJson, readRepoFile, startScript } from './support/app-entries';
import { runCommands, stageCopies, stageWorkdir, type DockerStage } from './support/dockerfile';
import { isIgnored, parseDockerignore } from './support/dockerignore';
import { loadImage, startScriptMismatch } from './support/image';

// Reads and parses the repository's sources (TypeScript) and manifests: seconds on a busy machine.
jest.setTimeout(30_000);

const image = loadImage();
const dockerignore = parseDockerignore(readRepoFile('.dockerignore'));

/** The stage that runs `npm run build`: the one the final stage copies the compiled apps from. */
function buildStage(): DockerStage {
  const stage = image.dockerfile.stages.find((s) => s.instructions.some((i) => i.keyword === 'RUN' && runCommands(i).some((words) => words.join(' ') === 'npm run build')));
  if (!stage) throw new Error('no stage runs `npm run build`');
  return stage;
}

/** Commands run by RUN instructions of a stage, in order, with the instruction's index. */
function stageCommands(stage: DockerStage): { index: number; words: string[] }[] {
  return stage.instructions.flatMap((instruction, index) => (instruction.keyword === 'RUN' ? runCommands(instruction).map((words) => ({ index, words })) : []));
}

/** Where a file of the build stage ends up in the final image, through COPY --from; undefined if it does not. */
function inFinalImage(buildPath: string): string | undefined {
  const build = buildStage();
  const buildDir = stageWorkdir(build);
  const stageIndex = image.dockerfile.stages.indexOf(build);
  for (const copy of stageCopies(image.final)) {
    if (copy.from !== build.name && copy.from !== String(stageIndex)) continue;
    for (const source of copy.sources) {
      const from = posix.resolve(buildDir, source);
      if (buildPath === from || buildPath.startsWith(`${from}/`)) {
        return posix.join(posix.resolve(image.workdir, copy.destination), posix.relative(from, buildPath));
      }
    }
  }
  return undefined;
}

describe('Dockerfile', () => {
  it('installs dependencies with the install scripts package.json allows, which build better-sqlite3', () => {
    expect(packageJson().allowScripts?.['better-sqlite3']).toBe(true);
    const commands = stageCommands(buildStage());
    const install = commands.find(({ words }) => words[0] === 'npm' && (words[1] === 'ci' || words[1] === 'install') && !words.includes('--global') && !words.includes('-g'));
    expect(install).toBeDefined();
    // --ignore-scripts leaves better-sqlite3 without its native module; allowing all scripts runs the
    // ones package.json denies.
    expect(install?.words).not.toContain('--ignore-scripts');
    expect(install?.words).not.toContain('--dangerously-allow-all-scripts');
    // npm reads package.json "allowScripts" from version 11; the Node 20 images ship npm 10, which
    // ignores it. The image must install npm 11 or later before the dependencies.
    const npmUpgrade = commands.find(({ index, words }) => index < (install?.index ?? -1) && words[0] === 'npm' && words.includes('install') && words.some((w) => /^npm@\d/.test(w)));
    const npmVersion = npmUpgrade?.words.find((w) => /^npm@\d/.test(w));
    expect(Number(/^npm@(\d+)/.exec(npmVersion ?? '')?.[1] ?? 0)).toBeGreaterThanOrEqual(11);
  });

  it('gives the build every source file it compiles: copied into the build stage and not left out of the context', () => {
    const build = buildStage();
    const buildDir = stageWorkdir(build);
    const copied = stageCopies(build)
      .filter((copy) => copy.from === undefined)
      .flatMap((copy) => copy.sources.map((source) => posix.normalize(source).replace(/\/$/, '')));
    const needed = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', ...buildSources()];
    const missing = needed.filter((file) => !copied.some((source) => file === source || file.startsWith(`${source}/`)));
    const ignored = needed.filter((file) => isIgnored(file, dockerignore));
    expect({ missing, ignored }).toEqual({ missing: [], ignored: [] });
    // Copied into the directory the build runs in, where tsconfig.json's paths point.
    expect(stageCopies(build).filter((copy) => copy.from === undefined).every((copy) => posix.resolve(buildDir, copy.destination).startsWith(buildDir))).toBe(true);
  });

  it('resolves every @meridian/* alias of the compiled code in the final image, links made after the prune', () => {
    const build = buildStage();
    const buildDir = stageWorkdir(build);
    const { outDir, aliases } = buildLayout();
    const commands = stageCommands(build);
    const links = commands.filter(({ words }) => words[0] === 'ln' && words.some((w) => /^-[a-z]*s/.test(w)));
    const prune = commands.find(({ words }) => words[0] === 'npm' && words[1] === 'prune');
    expect(Object.keys(aliases).length).toBeGreaterThan(0);
    for (const [alias, target] of Object.entries(aliases)) {
      const linkPath = posix.join(buildDir, 'node_modules', alias);
      const link = links.find(({ words }) => posix.resolve(buildDir, words[words.length - 1]) === linkPath);
      expect({ alias, linked: link !== undefined }).toEqual({ alias, linked: true });
      if (!link) continue;
      // Node finds node_modules/@meridian/* from the compiled files under the working directory.
      const linkInImage = inFinalImage(linkPath);
      expect({ alias, linkInImage }).toEqual({ alias, linkInImage: posix.join(image.workdir, 'node_modules', alias) });
      // COPY keeps a link as a link: its target must be where the final image has the compiled library.
      const rawTarget = link.words[link.words.length - 2];
      const targetInImage = posix.isAbsolute(rawTarget) ? rawTarget : posix.resolve(posix.dirname(linkInImage ?? '/'), rawTarget);
      expect({ alias, targetInImage }).toEqual({ alias, targetInImage: inFinalImage(posix.join(buildDir, outDir, target)) });
      // npm prune deletes what it does not know in node_modules.
      if (prune) expect({ alias, linkedAfterPrune: link.index > prune.index }).toEqual({ alias, linkedAfterPrune: true });
    }
  });

  it('contains the compiled entry of every app it can run', () => {
    const buildDir = stageWorkdir(buildStage());
    for (const app of ['gateway', 'runtime', 'projector', 'standalone']) {
      const entry = compiledEntry(startScript(app).entry);
      expect({ app, inImage: inFinalImage(posix.join(buildDir, entry)) }).toEqual({ app, inImage: posix.join(image.workdir, entry) });
    }
  });

  it('runs the standalone app by default, as npm run start:standalone does', () => {
    expect(startScriptMismatch(image, [...image.entrypoint, ...image.cmd], 'standalone')).toEqual([]);
  });

  it('runs in production mode as a numeric non-root user (Kubernetes can only verify runAsNonRoot for a UID)', () => {
    expect(image.env.NODE_ENV).toBe('production');
    expect(image.user).toMatch(/^[0-9]+(:[0-9]+)?$/);
    expect(Number(image.user?.split(':')[0])).toBeGreaterThan(0);
  });
});
