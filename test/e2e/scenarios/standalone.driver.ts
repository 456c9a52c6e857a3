import { startStandalone } from '../support/standalone-app';
import type { MeridianUnderTest } from './meridian-under-test';

/** The standalone app in this process: both "replicas" are the one app. */
export async function standaloneUnderTest(env: Record<string, string> = {}): Promise<MeridianUnderTest> {
  const app = await startStandalone(env);
  const wsBase = `${app.baseUrl.replace(/^http/, 'ws')}/ws`;
  return {
    mode: 'standalone',
    apiKey: app.apiKey,
    request: (path, init = {}) => {
      const { replica: _replica, ...rest } = init;
      return app.request(path, rest);
    },
    wsUrl: () => wsBase,
    logs: () => '',
    close: () => app.close(),
  };
}
