import { describeDistributed } from './support/distributed-processes';
import { distributedUnderTest } from './scenarios/distributed.driver';
import { userScenarios } from './scenarios/user-scenarios';

// The same user scenarios against the distributed mode: projector, runtime and two gateway
// replicas as OS processes on PostgreSQL, Redis and Kafka. Writes go through replica A, watching
// through replica B (and the other way round), so what a scenario sees crossed the processes.
userScenarios('User scenarios (distributed: two gateway replicas)', () => distributedUnderTest('scenarios'), describeDistributed());
