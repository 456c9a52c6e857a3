/**
 * docker-compose.yml as Docker Compose reads it: YAML merge keys (`<<: *anchor`) applied, then
 * `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}`, `${VAR:+alt}` and `$$`
 * interpolated in every value from the given shell environment. A `$` Compose would reject (such as
 * `${a.b}`) throws here too.
 */
import { parse } from 'yaml';

export type ShellEnv = Readonly<Record<string, string | undefined>>;

export interface ComposeHealthcheck {
  readonly test?: string | readonly string[];
  readonly disable?: boolean;
}

export interface ComposeService {
  readonly image?: string;
  readonly build?: string | { readonly context?: string; readonly dockerfile?: string };
  readonly command?: string | readonly string[];
  readonly entrypoint?: string | readonly string[];
  readonly environment?: Readonly<Record<string, string | number | boolean | null>> | readonly string[];
  readonly env_file?: unknown;
  readonly depends_on?: readonly string[] | Readonly<Record<string, { readonly condition?: string }>>;
  readonly healthcheck?: ComposeHealthcheck;
  readonly ports?: readonly (string | number | { readonly target?: number; readonly published?: string | number })[];
  readonly deploy?: { readonly replicas?: number };
  readonly scale?: number;
}

export interface ComposeFile {
  readonly services: Readonly<Record<string, ComposeService>>;
}

const NAME = '[A-Za-z_][A-Za-z0-9_]*';

function interpolateString(value: string, env: ShellEnv): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const char = value[i];
    if (char !== '$') {
      out += char;
      continue;
    }
    const rest = value.slice(i + 1);
    if (rest.startsWith('$')) {
      out += '$';
      i++;
      continue;
    }
    const bare = new RegExp(`^${NAME}`).exec(rest);
    if (bare) {
      out += env[bare[0]] ?? '';
      i += bare[0].length;
      continue;
    }
    const braced = new RegExp(`^\\{(${NAME})(?:(:?[-?+])([^}]*))?\\}`).exec(rest);
    if (!braced) throw new Error(`invalid interpolation format in "${value}" at "$${rest.slice(0, 20)}" (write $$ for a literal $)`);
    const [whole, name, operator, argument = ''] = braced;
    const current = env[name];
    const set = current !== undefined;
    const nonEmpty = set && current !== '';
    switch (operator) {
      case undefined:
        out += current ?? '';
        break;
      case ':-':
        out += nonEmpty ? current : interpolateString(argument, env);
        break;
      case '-':
        out += set ? current : interpolateString(argument, env);
        break;
      case ':?':
      case '?':
        if (operator === ':?' ? !nonEmpty : !set) throw new Error(`required variable ${name} is missing a value: ${argument}`);
        out += current;
        break;
      case ':+':
        out += nonEmpty ? interpolateString(argument, env) : '';
        break;
      case '+':
        out += set ? interpolateString(argument, env) : '';
        break;
    }
    i += whole.length;
  }
  return out;
}

function interpolate(value: unknown, env: ShellEnv): unknown {
  if (typeof value === 'string') return interpolateString(value, env);
  if (Array.isArray(value)) return value.map((item) => interpolate(item, env));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, interpolate(item, env)]));
  }
  return value;
}

export function loadCompose(text: string, env: ShellEnv): ComposeFile {
  const parsed: unknown = parse(text, { merge: true });
  const interpolated = interpolate(parsed, env);
  if (interpolated === null || typeof interpolated !== 'object' || !('services' in interpolated)) {
    throw new Error('docker-compose.yml has no services');
  }
  return interpolated as ComposeFile;
}

/** The service's environment as the container gets it from Compose (values as strings). */
export function serviceEnvironment(service: ComposeService): Record<string, string> {
  const environment = service.environment ?? {};
  if (Array.isArray(environment)) {
    return Object.fromEntries(
      (environment as readonly string[]).map((entry) => {
        const at = entry.indexOf('=');
        return at < 0 ? [entry, ''] : [entry.slice(0, at), entry.slice(at + 1)];
      }),
    );
  }
  return Object.fromEntries(
    Object.entries(environment as Readonly<Record<string, string | number | boolean | null>>)
      .filter(([, value]) => value !== null)
      .map(([key, value]) => [key, String(value)]),
  );
}

/** Services this one waits for, with the condition (`service_started` when only named). */
export function serviceDependencies(service: ComposeService): Record<string, string> {
  const dependsOn = service.depends_on ?? [];
  if (Array.isArray(dependsOn)) return Object.fromEntries((dependsOn as readonly string[]).map((name) => [name, 'service_started']));
  return Object.fromEntries(
    Object.entries(dependsOn as Readonly<Record<string, { readonly condition?: string }>>).map(([name, dependency]) => [name, dependency.condition ?? 'service_started']),
  );
}

export function replicasOf(service: ComposeService): number {
  return service.deploy?.replicas ?? service.scale ?? 1;
}

/** A command or entrypoint as an argument list (the string form split on spaces, as Compose does). */
export function argv(value: string | readonly string[] | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value.split(/\s+/).filter(Boolean) : [...value];
}

export interface PublishedPort {
  readonly hostRange: readonly [number, number] | undefined;
  readonly containerPort: number;
}

/** Short (`[ip:]host[-host]:container[/proto]`) and long port syntaxes. */
export function publishedPorts(service: ComposeService): PublishedPort[] {
  return (service.ports ?? []).map((port) => {
    if (typeof port === 'object') {
      const published = port.published === undefined ? undefined : String(port.published);
      return { containerPort: Number(port.target), hostRange: published === undefined ? undefined : range(published) };
    }
    const spec = String(port).replace(/\/(tcp|udp)$/, '');
    const parts = spec.split(':');
    const container = parts[parts.length - 1];
    if (container.includes('-')) throw new Error(`container port ranges are not used here: ${spec}`);
    const host = parts.length >= 2 ? parts[parts.length - 2] : undefined;
    return { containerPort: Number(container), hostRange: host === undefined || host === '' ? undefined : range(host) };
  });
}

function range(text: string): [number, number] {
  const [from, to = from] = text.split('-');
  return [Number(from), Number(to)];
}
