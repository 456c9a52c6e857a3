import { Global, Inject, Injectable, Logger, Module, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { EVENT_STORE, type EventStore } from '@meridian/domain';
import { InProcessRealtimeFeed } from './in-process-realtime-feed';
import { REALTIME_FEED } from './realtime-feed.port';

/**
 * Starts the feed before the app accepts connections (onModuleInit runs before `listen`) and stops
 * it in onModuleDestroy, which runs before the platform closes the event store.
 */
@Injectable()
class RealtimeFeedLifecycle implements OnModuleInit, OnModuleDestroy {
  constructor(@Inject(REALTIME_FEED) private readonly feed: InProcessRealtimeFeed) {}

  async onModuleInit(): Promise<void> {
    await this.feed.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.feed.stop();
  }
}

/**
 * Provides REALTIME_FEED (the realtime fan-out port) with the embedded, in-process adapter. Needs
 * EVENT_STORE (PlatformModule). Global, so the gateway and any other consumer share one feed and
 * thus one store subscription.
 */
@Global()
@Module({
  providers: [
    {
      provide: REALTIME_FEED,
      useFactory: (store: EventStore) => {
        const logger = new Logger('RealtimeFeed');
        return new InProcessRealtimeFeed(store, {
          onError: (error, context) => logger.error({ err: error, context }, 'realtime feed failure'),
        });
      },
      inject: [EVENT_STORE],
    },
    RealtimeFeedLifecycle,
  ],
  exports: [REALTIME_FEED],
})
export class RealtimeModule {}
