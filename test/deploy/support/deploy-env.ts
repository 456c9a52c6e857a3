/**
 * Checks a deployed app's environment the way the app checks it at start: Meridian's own config
 * loader (loadConfig), then what runApp demands of a distributed-mode app. Every MERIDIAN_* name
 * must be one ConfigEnvSchema declares: loadConfig ignores unknown names, so a misspelt variable
 * would otherwise be dropped without a word and its default used.
 */
import { ConfigEnvSchema, ConfigError, loadConfig, type MeridianConfig } from '@meridian/infrastructure/config/meridian-config';

export interface EnvCheck {
  /** What loadConfig made of the environment; undefined when it refused it. */
  readonly config: MeridianConfig | undefined;
  readonly problems: readonly string[];
}

export function checkAppEnv(env: Readonly<Record<string, string>>): EnvCheck {
  const problems: string[] = [];
  const declared = new Set(Object.keys(ConfigEnvSchema.properties));
  for (const name of Object.keys(env)) {
    if (name.startsWith('MERIDIAN_') && !declared.has(name)) problems.push(`${name}: not a Meridian setting (ConfigEnvSchema does not declare it)`);
  }
  let config: MeridianConfig | undefined;
  try {
    config = loadConfig({ ...env });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(error.message);
  }
  if (config) {
    // The distributed apps refuse to start otherwise (runApp).
    if (config.eventStore.kind === 'sqlite') problems.push('MERIDIAN_EVENT_STORE must be postgres or kurrentdb in the distributed mode');
    if (config.readModels.kind !== 'postgres') problems.push('MERIDIAN_READ_MODELS must be postgres in the distributed mode');
    if (config.kafka === null) problems.push('MERIDIAN_KAFKA_BROKERS is required in the distributed mode');
    if (config.redis === null) problems.push('MERIDIAN_REDIS_URL is required in the distributed mode');
    // Without it, the admin API has no key: nobody can administer the deployment.
    if (config.adminApiKey === undefined) problems.push('MERIDIAN_ADMIN_API_KEY is not set');
  }
  return { config, problems };
}

/** Variables holding credentials: they belong in a Secret, never in a ConfigMap or a manifest. */
export function isCredential(name: string, value: string): boolean {
  if (/KEY|SECRET|PASSWORD|TOKEN/.test(name)) return true;
  try {
    return new URL(value).password !== '';
  } catch {
    return false;
  }
}

/** `host` and `port` of a broker address or a URL (with the scheme's default port). */
export function endpoint(address: string, defaultPort?: number): { host: string; port: number } {
  if (address.includes('://')) {
    const url = new URL(address);
    return { host: url.hostname, port: url.port === '' ? (defaultPort ?? NaN) : Number(url.port) };
  }
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at), port: Number(address.slice(at + 1)) };
}
