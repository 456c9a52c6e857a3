/**
 * Layering rules for Meridian: dependencies point inward only.
 *
 *   apps/*  ->  libs/infrastructure  ->  libs/agents  ->  libs/domain
 *
 * Checked by `npm run lint:layers` and by test/architecture/layering.unit.spec.ts (part of `npm test`).
 * Paths below are regular expressions matched against paths relative to the repository root, or,
 * for packages and node built-ins, against the resolved path (`node_modules/<pkg>/…`) or the bare
 * name when a package cannot be resolved. Type-only imports count too (tsPreCompilationDeps): a
 * domain file importing a type from typeorm is as coupled to typeorm as one importing a value.
 *
 * Spec files and test/ are outside the layering rules (a unit spec may wire a domain decider to an
 * in-memory adapter), but production code must never import them.
 */

/** Test code: specs and their fixtures (`*.fixture.ts`, only ever imported by specs) anywhere, and everything under test/. */
const TEST_CODE = ['\\.spec\\.ts$', '\\.fixture\\.ts$', '^test/'];

/** Matches a package by name, whether resolved into node_modules (incl. @types) or unresolvable. */
const pkg = (...names) =>
  `(^|/)(node_modules/)?(@types/)?(${names.map((n) => n.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})(/|$)`;
/** Matches a scope of packages, e.g. every @nestjs/* package. */
const scope = (name) => `(^|/)(node_modules/)?${name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}/`;
/** Matches a node built-in by name, with or without the `node:` prefix. */
const core = (...names) => `^(node:)?(${names.join('|')})$`;

/** Drivers, servers, HTTP clients and loggers: packages that do IO. None belongs below infrastructure. */
const IO_PACKAGES = [
  pkg(
    'typeorm',
    'pg',
    'pg-pool',
    'better-sqlite3',
    'sqlite3',
    'ioredis',
    'redis',
    'kafkajs',
    'ws',
    'socket.io',
    'express',
    'fastify',
    'axios',
    'node-fetch',
    'undici',
    'pino',
    'pino-http',
    'nestjs-pino',
  ),
  scope('@kurrent'),
  scope('@eventstore'),
];

/** NestJS is the application framework: infrastructure and apps may use it, the core may not. */
const NESTJS = [scope('@nestjs'), pkg('reflect-metadata')];

/** Built-ins that touch the file system, network, processes or the host. */
const IO_BUILTINS = core(
  'fs',
  'fs/promises',
  'net',
  'http',
  'https',
  'http2',
  'tls',
  'dgram',
  'dns',
  'dns/promises',
  'child_process',
  'cluster',
  'worker_threads',
  'os',
  'process',
  'readline',
  'readline/promises',
  'repl',
  'inspector',
  'v8',
  'vm',
  'module',
  'sqlite',
  'test',
);

/**
 * The only node built-ins the domain may use: pure computation, no IO, no clock, no host state.
 * (crypto is here for deterministic hashing; identifiers come from CommandContext.newId, time from
 * CommandContext.now.)
 */
const DOMAIN_BUILTINS = core('assert', 'assert/strict', 'buffer', 'crypto', 'string_decoder', 'url', 'util', 'util/types');

/** Pure libraries the domain may use. Keep this short; uuid is deliberately absent (ids are injected). */
const DOMAIN_PACKAGES = [pkg('@sinclair/typebox')];

/** Pure libraries the agent runtime may use. Adding one here is a design decision: say why in the commit. */
const AGENTS_PACKAGES = [
  pkg(
    'uuid',
    'json-logic-js',
    'cron-parser',
    'handlebars',
    'mustache',
    'liquidjs',
    'zod',
    'rxjs',
    '@sinclair/typebox',
  ),
  scope('@langchain'),
];

module.exports = {
  forbidden: [
    {
      name: 'domain-only-domain',
      severity: 'error',
      comment:
        'libs/domain is pure TypeScript: deciders, events, ports. It may depend on itself and on a short ' +
        'allow-list of pure libraries (DOMAIN_PACKAGES) — never on agents, infrastructure, apps, NestJS, ' +
        'ORMs, drivers or uuid. Anything it needs from outside arrives through a port or the CommandContext.',
      from: { path: '^libs/domain/', pathNot: TEST_CODE },
      to: {
        pathNot: ['^libs/domain/', ...DOMAIN_PACKAGES],
        dependencyTypesNot: ['core'],
      },
    },
    {
      name: 'domain-only-pure-builtins',
      severity: 'error',
      comment:
        'libs/domain does no IO: of the node built-ins it may use only pure ones (DOMAIN_BUILTINS) — ' +
        'no fs, net, http, child_process, os, timers or the like.',
      from: { path: '^libs/domain/', pathNot: TEST_CODE },
      to: { dependencyTypes: ['core'], pathNot: DOMAIN_BUILTINS },
    },
    {
      name: 'domain-relative-imports-only',
      severity: 'error',
      comment:
        'Inside libs/domain, import siblings by relative path. Importing the domain through its own ' +
        '@meridian/domain alias goes through the barrel and invites cycles.',
      from: { path: '^libs/domain/', pathNot: TEST_CODE },
      to: { dependencyTypes: ['aliased-tsconfig-paths'] },
    },
    {
      name: 'agents-not-to-outer-layers',
      severity: 'error',
      comment:
        'libs/agents depends on libs/domain and on ports only: never on libs/infrastructure (adapters) ' +
        'or on apps. Adapters are handed in at composition time.',
      from: { path: '^libs/agents/', pathNot: TEST_CODE },
      to: { path: ['^libs/infrastructure/', '^apps/'] },
    },
    {
      name: 'agents-not-to-io-or-nestjs',
      severity: 'error',
      comment:
        'libs/agents stays free of NestJS and of IO: no ORMs, database/queue/socket drivers, HTTP ' +
        'frameworks or IO built-ins. Those live in libs/infrastructure behind ports.',
      from: { path: '^libs/agents/', pathNot: TEST_CODE },
      to: { path: [...NESTJS, ...IO_PACKAGES, IO_BUILTINS] },
    },
    {
      name: 'agents-only-allowed-packages',
      severity: 'error',
      comment:
        'libs/agents may use pure libraries from AGENTS_PACKAGES only (uuid, json-logic-js, cron-parser, ' +
        'template engines, LangChain, schema libraries). A new one is a design decision: add it there.',
      from: { path: '^libs/agents/', pathNot: TEST_CODE },
      to: {
        dependencyTypes: ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-bundled', 'npm-no-pkg', 'npm-unknown'],
        pathNot: AGENTS_PACKAGES,
      },
    },
    {
      name: 'libs-not-to-apps',
      severity: 'error',
      comment: 'Libraries never depend on applications; apps compose libs, not the other way round.',
      from: { path: '^libs/', pathNot: TEST_CODE },
      to: { path: '^apps/' },
    },
    {
      name: 'apps-not-to-other-apps',
      severity: 'error',
      comment:
        'An app may not reach into another app: shared code belongs in libs. Only apps/standalone, ' +
        'which composes gateway, runtime and projector in one process, may import them.',
      from: { path: '^apps/([^/]+)/', pathNot: ['^apps/standalone/', ...TEST_CODE] },
      to: { path: '^apps/', pathNot: '^apps/$1/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'No dependency cycles: they make load order fragile (undefined imports at module init) and ' +
        'blur which module owns what.',
      from: { pathNot: TEST_CODE },
      to: { circular: true },
    },
    {
      name: 'not-to-test-code',
      severity: 'error',
      comment: 'Production code must not import specs or test support; test code is not shipped.',
      from: { pathNot: TEST_CODE },
      to: { path: TEST_CODE },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment:
        'Every import must resolve, otherwise the rules above cannot see where it points (an unresolved ' +
        '@meridian/* alias would slip past them). Install the package or fix the path.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // Record dependencies on packages, but do not cruise their internals.
    doNotFollow: { path: 'node_modules' },
    // Type-only imports are dependencies too.
    tsPreCompilationDeps: true,
    // Resolve @meridian/* through the same tsconfig paths the compiler and jest use.
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    skipAnalysisNotInRules: true,
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
