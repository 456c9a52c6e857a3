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
    publish: async (events) => {
      const res = await app.request('/api/v1/events', { method: 'POST', headers: { 'content-type': 'application/cloudevents-batch+json' }, json: events });
      if (res.status !== 202) throw new Error(`publishing ${events.length} events → ${res.status}: ${await res.text()}`);
    },
    logs: () => '',
    close: () => app.close(),
  };
}
