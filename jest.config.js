/** Tests by tier: unit (no IO), int (adapters against real services), e2e (booted apps). */
const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
      target: 'es2022',
      keepClassNames: true,
    },
    module: { type: 'commonjs' },
  },
];
const moduleNameMapper = {
  '^@meridian/domain$': '<rootDir>/libs/domain/src',
  '^@meridian/domain/(.*)$': '<rootDir>/libs/domain/src/$1',
  '^@meridian/agents$': '<rootDir>/libs/agents/src',
  '^@meridian/agents/(.*)$': '<rootDir>/libs/agents/src/$1',
  '^@meridian/infrastructure$': '<rootDir>/libs/infrastructure/src',
  '^@meridian/infrastructure/(.*)$': '<rootDir>/libs/infrastructure/src/$1',
};
const project = (name, pattern, extra = {}) => ({
  displayName: name,
  testEnvironment: 'node',
  rootDir: __dirname,
  roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/test'],
  testMatch: [`**/*.${pattern}.spec.ts`],
  transform: { '^.+\\.ts$': swc },
  moduleNameMapper,
  ...extra,
});
module.exports = {
  globalSetup: '<rootDir>/test/support/global-setup.js',
  projects: [
    project('unit', 'unit'),
    project('int', 'int', { slowTestThreshold: 30, setupFilesAfterEnv: ['<rootDir>/test/support/io-test-timeout.js'] }),
    project('e2e', 'e2e', { slowTestThreshold: 60, setupFilesAfterEnv: ['<rootDir>/test/support/io-test-timeout.js'] }),
  ],
};
