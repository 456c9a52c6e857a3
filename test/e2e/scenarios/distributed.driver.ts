import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import { createDeployment, KAFKA_BROKERS, type AppProcess } from '../support/distributed-processes';
import type { MeridianUnderTest, Replica } from './meridian-under-test';

const LOG_TAIL_CHARS = 6_000;

/**
 * One distributed deployment as separate OS processes: a projector, a runtime and two gateway
 * replicas (A and B) on a fresh schema, topic prefix and Redis prefix. Business systems publish to
 * its inbound Kafka topic.
 */
export async function distributedUnderTest(name: string, env: Record<string, string> = {}): Promise<MeridianUnderTest> {
  const deployment = await createDeployment(name, env);
  let gateways: Record<Replica, AppProcess>;
  try {
    // Every app at once, as an orchestrator starts them. Settled, not raced: when one fails to
    // start, the others have finished starting before the deployment is closed.
    const started = await Promise.allSettled([deployment.start('projector'), deployment.start('runtime'), deployment.start('gateway'), deployment.start('gateway')]);
    const failed = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    const [a, b] = started.slice(2).map((result) => (result as PromiseFulfilledResult<AppProcess>).value);
    gateways = { A: a, B: b };
  } catch (error: unknown) {
    await deployment.close();
    throw error;
  }
  let producer: Producer | null = null;
  const connectedProducer = async (): Promise<Producer> => {
    if (producer === null) {
      const created = new Kafka({ clientId: `scenarios-${name}`, brokers: KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING }).producer({ createPartitioner: Partitioners.DefaultPartitioner });
      await created.connect();
      producer = created;
    }
    return producer;
  };
  return {
    mode: 'distributed',
    apiKey: deployment.apiKey,
    request: (path, init = {}) => {
      const { replica = 'A', ...rest } = init;
      return deployment.request(gateways[replica], path, rest);
    },
    wsUrl: (replica = 'A') => `${gateways[replica].baseUrl.replace(/^http/, 'ws')}/ws`,
    publish: async (events) => {
      await (
        await connectedProducer()
      ).send({
        topic: `${deployment.topicPrefix}.inbound`,
        acks: -1,
        messages: events.map((event) => ({ key: event.subject ?? event.source, value: JSON.stringify(event), headers: { 'content-type': 'application/cloudevents+json' } })),
      });
    },
    logs: () =>
      deployment.apps
        .map((proc) => {
          const label = proc === gateways.A ? 'gateway A' : proc === gateways.B ? 'gateway B' : proc.app;
          const output = proc.output();
          return `----- ${label} (port ${proc.port}) -----\n${output.length > LOG_TAIL_CHARS ? `…${output.slice(-LOG_TAIL_CHARS)}` : output}`;
        })
        .join('\n'),
    close: async () => {
      const open = producer;
      producer = null;
      await open?.disconnect().catch(() => undefined);
      await deployment.close();
    },
  };
}
