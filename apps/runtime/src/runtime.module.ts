import { Global, Module } from '@nestjs/common';
import { EVENT_STORE, type EventStore } from '@meridian/domain';
import { INBOUND_EVENTS, IngestEventsService } from '@meridian/agents';

/**
 * The runtime: takes inbound domain events and appends them idempotently (and, as it grows, routes
 * them to agents' mailboxes, runs decisions and triggers). In standalone mode the gateway hands it
 * events in process through INBOUND_EVENTS.
 */
@Global()
@Module({
  providers: [{ provide: INBOUND_EVENTS, useFactory: (store: EventStore) => new IngestEventsService(store), inject: [EVENT_STORE] }],
  exports: [INBOUND_EVENTS],
})
export class RuntimeModule {}
