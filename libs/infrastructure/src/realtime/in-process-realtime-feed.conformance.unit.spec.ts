import { InMemoryEventStore } from '../event-store/in-memory-event-store';
import { InProcessRealtimeFeed } from './in-process-realtime-feed';
import { realtimeFeedConformance } from './realtime-feed.conformance';

realtimeFeedConformance('InProcessRealtimeFeed', async () => {
  const store = new InMemoryEventStore({ retryInitialDelayMs: 10 });
  const listenerErrors: unknown[] = [];
  const feed = new InProcessRealtimeFeed(store, {
    onError: (error, context) => {
      if (context === 'listener') listenerErrors.push(error);
    },
  });
  await feed.start();
  return {
    store,
    feed,
    listenerErrors,
    cleanup: async () => {
      await feed.stop();
      await store.close();
    },
  };
});
