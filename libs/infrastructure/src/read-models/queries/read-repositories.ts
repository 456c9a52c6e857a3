import type { DataSource } from 'typeorm';
import { AgentsReadRepository } from './agents.read-repository';
import { ChainsReadRepository } from './chains.read-repository';
import { ConversationsReadRepository } from './conversations.read-repository';
import { EntitiesReadRepository } from './entities.read-repository';
import { EventsReadRepository } from './events.read-repository';
import { TriggersReadRepository } from './triggers.read-repository';

/** Every read repository: each is built on the reader DataSource and is its own injection token. */
export const READ_REPOSITORIES: ReadonlyArray<new (reader: DataSource) => object> = [
  EventsReadRepository,
  EntitiesReadRepository,
  AgentsReadRepository,
  ConversationsReadRepository,
  TriggersReadRepository,
  ChainsReadRepository,
];
