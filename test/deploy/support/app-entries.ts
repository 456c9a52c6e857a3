/**
 * What the deployment files must agree with in the code: the apps' npm start scripts (entry file and
 * Node options), where `npm run build` puts each entry, which files the build compiles, and which
 * HTTP GET routes an app serves (its controllers, found from its entry file).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import * as ts from 'typescript';

export const ROOT = resolve(__dirname, '..', '..', '..');
export const DISTRIBUTED_APPS = ['gateway', 'runtime', 'projector'] as const;
export type DistributedApp = (typeof DISTRIBUTED_APPS)[number];

/** Repository-relative path with `/` separators. */
export const repoPath = (absolute: string): string => relative(ROOT, absolute).split(sep).join('/');

export function readRepoFile(path: string): string {
  return readFileSync(join(ROOT, path), 'utf8');
}

interface PackageJson {
  readonly scripts: Readonly<Record<string, string>>;
  readonly allowScripts?: Readonly<Record<string, boolean>>;
}

export function packageJson(): PackageJson {
  return JSON.parse(readRepoFile('package.json')) as PackageJson;
}

export interface StartScript {
  readonly name: string;
  readonly command: string;
  /** Options given to node itself (before the script it runs), such as --max-semi-space-size=64. */
  readonly nodeOptions: readonly string[];
  /** The TypeScript entry file, repository-relative. */
  readonly entry: string;
}

/** The `start:<app>` script of package.json: its Node options and its entry file. */
export function startScript(app: string): StartScript {
  const name = `start:${app}`;
  const command = packageJson().scripts[name];
  if (command === undefined) throw new Error(`package.json has no "${name}" script`);
  const words = command.split(/\s+/).filter(Boolean);
  const nodeAt = words.indexOf('node');
  const nodeOptions: string[] = [];
  if (nodeAt >= 0) {
    for (const word of words.slice(nodeAt + 1)) {
      if (!word.startsWith('-')) break;
      nodeOptions.push(word);
    }
  }
  const entries = words.filter((word) => /\.ts$/.test(word) && !word.startsWith('-'));
  if (entries.length !== 1) throw new Error(`"${name}" should start one .ts entry file: ${command}`);
  return { name, command, nodeOptions, entry: entries[0].replace(/^\.\//, '') };
}

let buildConfig: ts.ParsedCommandLine | undefined;

function parsedBuildConfig(): ts.ParsedCommandLine {
  buildConfig ??= readBuildConfig();
  return buildConfig;
}

function readBuildConfig(): ts.ParsedCommandLine {
  const file = join(ROOT, 'tsconfig.build.json');
  const read = ts.readConfigFile(file, ts.sys.readFile);
  if (read.error) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, '\n'));
  return ts.parseJsonConfigFileContent(read.config, ts.sys, ROOT, undefined, file);
}

/** Where `npm run build` (tsconfig.build.json) writes the JavaScript of a TypeScript entry file. */
export function compiledEntry(entry: string): string {
  const config = parsedBuildConfig();
  const absolute = join(ROOT, entry);
  if (!config.fileNames.map((file) => resolve(file)).includes(absolute)) {
    throw new Error(`${entry} is not part of the build (tsconfig.build.json)`);
  }
  const output = ts.getOutputFileNames(config, absolute, false).find((file) => file.endsWith('.js'));
  if (!output) throw new Error(`the build emits no JavaScript for ${entry}`);
  return repoPath(output);
}

/** The build's output directory (repository-relative) and its path aliases. */
export function buildLayout(): { outDir: string; aliases: Readonly<Record<string, string>> } {
  const config = parsedBuildConfig();
  if (!config.options.outDir) throw new Error('tsconfig.build.json sets no outDir');
  const aliases: Record<string, string> = {};
  for (const [alias, targets] of Object.entries(config.options.paths ?? {})) {
    // "@meridian/x/*" follows from the link made for "@meridian/x".
    if (alias.endsWith('/*')) continue;
    aliases[alias] = targets[0].replace(/^\.\//, '');
  }
  return { outDir: repoPath(config.options.outDir), aliases };
}

let resolutionCache: ts.ModuleResolutionCache | undefined;

/** A relative import, or one of tsconfig's path aliases (`@meridian/...`). */
function isProjectSpecifier(specifier: string, options: ts.CompilerOptions): boolean {
  if (specifier.startsWith('.')) return true;
  return Object.keys(options.paths ?? {}).some((alias) => (alias.endsWith('/*') ? specifier.startsWith(alias.slice(0, -1)) : specifier === alias));
}

/**
 * Source files of the repository reachable through imports from the given roots (TypeScript module
 * resolution with the project's paths), dependencies in node_modules excluded.
 */
export function reachableSources(roots: readonly string[]): string[] {
  const config = parsedBuildConfig();
  const host = ts.sys;
  resolutionCache ??= ts.createModuleResolutionCache(ROOT, (name) => name, config.options);
  const cache = resolutionCache;
  const seen = new Set<string>();
  const queue = roots.map((root) => join(ROOT, root));
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const imported of info.importedFiles) {
      // Packages are not resolved at all: looking them up in node_modules is most of the cost.
      if (!isProjectSpecifier(imported.fileName, config.options)) continue;
      const resolved = ts.resolveModuleName(imported.fileName, file, config.options, host, cache).resolvedModule;
      if (!resolved || resolved.isExternalLibraryImport || resolved.resolvedFileName.includes(`${sep}node_modules${sep}`)) continue;
      if (!seen.has(resolved.resolvedFileName)) queue.push(resolve(resolved.resolvedFileName));
    }
  }
  return [...seen].map(repoPath).sort();
}

/** Every source file `npm run build` reads from the repository (its roots and what they import). */
export function buildSources(): string[] {
  return reachableSources(parsedBuildConfig().fileNames.map((file) => repoPath(resolve(file))));
}

function decoratorCall(decorator: ts.Decorator): { name: string; args: readonly ts.Expression[] } | undefined {
  const expression = decorator.expression;
  if (!ts.isCallExpression(expression) || !ts.isIdentifier(expression.expression)) return undefined;
  return { name: expression.expression.text, args: expression.arguments };
}

/** Paths a @Controller()/@Get() argument stands for: '', 'x', ['x', 'y'] or { path: 'x' }. */
function routePaths(args: readonly ts.Expression[]): string[] {
  const first = args[0];
  if (first === undefined) return [''];
  if (ts.isStringLiteralLike(first)) return [first.text];
  if (ts.isArrayLiteralExpression(first)) return first.elements.filter(ts.isStringLiteralLike).map((element) => element.text);
  if (ts.isObjectLiteralExpression(first)) {
    const path = first.properties.find((property): property is ts.PropertyAssignment => ts.isPropertyAssignment(property) && property.name.getText() === 'path');
    if (path) return routePaths([path.initializer]);
    return [''];
  }
  throw new Error(`route path is not a literal: ${first.getText()}`);
}

const joinRoute = (...parts: string[]): string => `/${parts.join('/')}`.replace(/\/+/g, '/').replace(/(.)\/$/, '$1');

/**
 * The GET routes an app serves: controllers reachable from its entry file and listed in a module's
 * `controllers` (a @Module or a dynamic module). No global prefix is set by configureHttpApp; an
 * app that adds one fails this lookup loudly.
 */
export function getRoutes(entry: string): ReadonlySet<string> {
  let routes = routesByEntry.get(entry);
  if (!routes) {
    routes = findRoutes(entry);
    routesByEntry.set(entry, routes);
  }
  return routes;
}

const routesByEntry = new Map<string, ReadonlySet<string>>();

function findRoutes(entry: string): ReadonlySet<string> {
  if (!existsSync(join(ROOT, entry))) throw new Error(`${entry} does not exist`);
  const files = reachableSources([entry]);
  const registered = new Set<string>();
  const controllers = new Map<string, string[]>();
  for (const file of files) {
    const text = readRepoFile(file);
    if (/\.setGlobalPrefix\(/.test(text)) throw new Error(`${file} sets a global route prefix: teach getRoutes about it`);
    // Parsing is the cost: only files that declare controllers or list them are parsed.
    if (!/@Controller\(|controllers\s*:/.test(text)) continue;
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
    const visit = (node: ts.Node): void => {
      if (ts.isPropertyAssignment(node) && node.name.getText() === 'controllers' && ts.isArrayLiteralExpression(node.initializer)) {
        for (const element of node.initializer.elements) if (ts.isIdentifier(element)) registered.add(element.text);
      }
      if (ts.isClassDeclaration(node) && node.name) {
        const controller = (ts.getDecorators(node) ?? []).map(decoratorCall).find((call) => call?.name === 'Controller');
        if (controller) {
          const routes: string[] = [];
          for (const member of node.members) {
            if (!ts.isMethodDeclaration(member)) continue;
            for (const call of (ts.getDecorators(member) ?? []).map(decoratorCall)) {
              if (call?.name !== 'Get' && call?.name !== 'All') continue;
              for (const prefix of routePaths(controller.args)) for (const path of routePaths(call.args)) routes.push(joinRoute(prefix, path));
            }
          }
          controllers.set(node.name.text, routes);
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  const routes = new Set<string>();
  for (const [name, paths] of controllers) if (registered.has(name)) paths.forEach((path) => routes.add(path));
  return routes;
}
