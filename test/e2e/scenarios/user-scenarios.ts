import { startOpenAiCompatibleServer, type OpenAiCompatibleServer } from '../../support/openai-compatible-server';
import { WebhookReceiver } from '../support/webhook-receiver';
import type { MeridianUnderTest } from './meridian-under-test';
import { agentsAskEachOther, pauseAndResume, projectionRebuild } from './agents.scenarios';
import { approval, conversationAcrossReplicas, idempotentRetry, streamedReply } from './conversations.scenarios';
import { publishedEvents, quickstart, reactionAcrossReplicas, reconnectOnOtherReplica } from './events.scenarios';
import { ScenarioApi, type Scenario } from './scenario-api';
import { absenceTrigger, thresholdTrigger } from './triggers.scenarios';

/** Per scenario: setting up agents, waiting for their reactions, several WebSockets. */
const SCENARIO_TIMEOUT_MS = 240_000;
const SETUP_TIMEOUT_MS = 300_000;

/**
 * What users do with Meridian, as they do it: REST and WebSocket against the gateway, writing
 * through replica A and watching through replica B. Registers one `it` per scenario under
 * `describe(name)`; every scenario makes its own agents, subjects and event types, so they share
 * the deployment without seeing each other's data.
 *
 * `factory` starts the deployment once for the whole suite; `gate` is the `describe` to use (a
 * service gate such as `describeDistributed()` skips the suite when a service is missing).
 */
export function userScenarios(name: string, factory: () => Promise<MeridianUnderTest>, gate: typeof describe = describe): void {
  gate(name, () => {
    let meridian: MeridianUnderTest | undefined;
    const receiver = new WebhookReceiver();
    let llm: OpenAiCompatibleServer | undefined;

    beforeAll(async () => {
      await receiver.start();
      llm = await startOpenAiCompatibleServer();
      meridian = await factory();
    }, SETUP_TIMEOUT_MS);

    afterAll(async () => {
      await meridian?.close();
      await llm?.close();
      await receiver.close();
    }, 120_000);

    const scenario = (title: string, body: Scenario) =>
      it(
        title,
        async () => {
          if (meridian === undefined || llm === undefined) throw new Error('the deployment did not start');
          const api = new ScenarioApi(meridian);
          try {
            await body(api, { receiver, llm });
          } catch (error: unknown) {
            // The processes' logs explain a failure of the distributed mode; keep them with it.
            const logs = meridian.logs();
            if (error instanceof Error && logs !== '') error.message += `\n\nLogs of the ${meridian.mode} deployment:\n${logs}`;
            throw error;
          } finally {
            await api.closeSockets();
          }
        },
        SCENARIO_TIMEOUT_MS,
      );

    scenario('1. the README quickstart: an agent, a batch ingested (then again: duplicates), events and the entity read with minPosition', quickstart);
    scenario('2. an agent reacting to an event ingested through replica A is watched live on a WebSocket of replica B, in order', reactionAcrossReplicas);
    scenario('3. a person chats with a rules agent: messages posted through replica A, replies arrive on replica B, both replicas show the conversation', conversationAcrossReplicas);
    scenario('4. a WebSocket client reconnects to the other replica with fromPosition: exactly the missed events, then live ones', reconnectOnOtherReplica);
    scenario('5. a threshold trigger fires once per burst and its emitted event wakes an agent, visible over REST', thresholdTrigger);
    scenario('6. an agent proposes an action, a person approves it on replica B, the action runs once', approval);
    scenario('7. a business system publishes events (standalone: over HTTP; distributed: on the inbound Kafka topic) and redelivers them: stored once, reacted to once, seen live on both replicas', publishedEvents);
    scenario("8. an LLM agent's reply streams as tokens to the conversation's subscribers on both replicas, then the stored reply", streamedReply);
    scenario('9. the README "orders that do not ship": an absence trigger wakes its agent once for each unshipped order only', absenceTrigger);
    scenario('10. agents ask each other: a request gets its reply back in the asker\'s mailbox, a broadcast reaches every agent with the tag', agentsAskEachOther);
    scenario('11. a client retries a POST on the other replica with the same Idempotency-Key: the first answer is replayed, the message is posted and answered once', idempotentRetry);
    scenario('12. a paused agent gets nothing; resumed with replayMissed on the other replica, it decides what it missed, in order, then what comes next', pauseAndResume);
    scenario('13. an operator rebuilds the agents and conversations projections: the other replica keeps serving, and the rebuilt read models equal the live ones', projectionRebuild);
  });
}
