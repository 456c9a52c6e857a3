import { standaloneUnderTest } from './scenarios/standalone.driver';
import { userScenarios } from './scenarios/user-scenarios';

// The user scenarios against the standalone app: replicas A and B are the one in-process app.
userScenarios('User scenarios (standalone)', () => standaloneUnderTest());
