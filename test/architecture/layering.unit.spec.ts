/**
 * The layering rules of .dependency-cruiser.cjs hold for apps and libs — and they bite: a fixture that
 * breaks them is reported.
 *
 * dependency-cruiser is published as ES modules only, while jest runs these specs as CommonJS, so the
 * cruise (its `cruise` API, with the project's config and tsconfig paths) runs in a child node process
 * that prints a JSON report.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const CONFIG_FILE = join(ROOT, '.dependency-cruiser.cjs');
const CRUISE_TIMEOUT_MS = 120_000;
const FIXTURE_PREFIX = 'fixtures-tmp-';
/** Older fixtures were left by interrupted runs; younger ones may belong to a run in progress. */
const STALE_FIXTURE_MS = 30 * 60_000;

interface Violation {
  rule: string;
  from: string;
  to: string;
  cycle: string[];
}

interface CruiseReport {
  modulesCruised: number;
  violations: Violation[];
}

/** Runs in the child process (cwd = the directory to cruise from). */
const CRUISE_SCRIPT = `
import { cruise } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';

const { configFile, targets } = JSON.parse(process.env.MERIDIAN_CRUISE_REQUEST);
const options = await extractDepcruiseOptions(configFile);
const tsConfig = options.tsConfig?.fileName ? extractTSConfig(options.tsConfig.fileName) : undefined;
const { output } = await cruise(targets, options, {}, { tsConfig });
process.stdout.write(JSON.stringify({
  modulesCruised: output.summary.totalCruised,
  violations: output.summary.violations.map((v) => ({
    rule: v.rule.name,
    from: v.from,
    to: v.to,
    cycle: (v.cycle ?? []).map((step) => step.name),
  })),
}));
`;

function cruiseWithProjectRules(cwd: string, targets: string[]): CruiseReport {
  const stdout = execFileSync(process.execPath, ['--input-type=module', '--eval', CRUISE_SCRIPT], {
    cwd,
    env: { ...process.env, MERIDIAN_CRUISE_REQUEST: JSON.stringify({ configFile: CONFIG_FILE, targets }) },
    encoding: 'utf8',
    timeout: CRUISE_TIMEOUT_MS,
    maxBuffer: 64 * 1024 * 1024,
  });
  return parseReport(stdout);
}

function parseReport(text: string): CruiseReport {
  const parsed: unknown = JSON.parse(text);
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    !('modulesCruised' in parsed) ||
    typeof parsed.modulesCruised !== 'number' ||
    !('violations' in parsed) ||
    !Array.isArray(parsed.violations)
  ) {
    throw new Error(`unexpected cruise report: ${text.slice(0, 500)}`);
  }
  const violations = parsed.violations.map((entry: unknown): Violation => {
    if (typeof entry !== 'object' || entry === null) throw new Error(`unexpected violation: ${String(entry)}`);
    const record = entry as Record<string, unknown>;
    return {
      rule: String(record.rule),
      from: String(record.from),
      to: String(record.to),
      cycle: Array.isArray(record.cycle) ? record.cycle.map(String) : [],
    };
  });
  return { modulesCruised: parsed.modulesCruised, violations };
}

function removeStaleFixtures(): void {
  for (const entry of readdirSync(__dirname)) {
    const path = join(__dirname, entry);
    if (entry.startsWith(FIXTURE_PREFIX) && Date.now() - statSync(path).mtimeMs > STALE_FIXTURE_MS) {
      rmSync(path, { recursive: true, force: true });
    }
  }
}

/** `../../node_modules/@scope/name/dist/index.js` -> `npm:@scope/name`; other paths unchanged. */
const readablePath = (path: string): string => path.replace(/^.*node_modules\/((?:@[^/]+\/)?[^/]+)(?:\/.*)?$/, 'npm:$1');

/** One line per violation, so a failing assertion lists every offending import. */
const describeViolation = (v: Violation): string =>
  `${v.rule}: ${v.from} → ${readablePath(v.to)}${v.cycle.length > 0 ? ` (cycle: ${v.cycle.join(' → ')})` : ''}`;

describe('layering (dependency-cruiser)', () => {
  it('apps and libs respect the layering rules', () => {
    const report = cruiseWithProjectRules(ROOT, ['apps', 'libs']);

    expect(report.modulesCruised).toBeGreaterThan(0);
    expect(report.violations.map(describeViolation)).toEqual([]);
  });

  describe('on a fixture that breaks them', () => {
    let fixture: string;

    const write = (path: string, content: string): void => {
      const file = join(fixture, path);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, content);
    };

    beforeAll(() => {
      removeStaleFixtures();
      // Inside the repository so that packages (typeorm) resolve from its node_modules. The sources
      // are plain .js (the rules match paths, not languages) so that a fixture left behind by an
      // interrupted run cannot break the project's typecheck, which covers test/.
      fixture = mkdtempSync(join(__dirname, FIXTURE_PREFIX));
      write(
        'tsconfig.json',
        JSON.stringify({
          compilerOptions: {
            allowJs: true,
            baseUrl: '.',
            paths: {
              '@meridian/domain': ['libs/domain/src'],
              '@meridian/infrastructure/*': ['libs/infrastructure/src/*'],
            },
          },
        }),
      );
      write('libs/domain/src/index.js', "export * from './order.decider';\n");
      write(
        'libs/domain/src/order.decider.js',
        [
          "import { DataSource } from 'typeorm';",
          "import { EVENTS_TABLE } from '@meridian/infrastructure/event-store/events-table';",
          "import { orderStream } from './order-stream';",
          'export const decide = () => [DataSource, EVENTS_TABLE, orderStream];',
          '',
        ].join('\n'),
      );
      write('libs/domain/src/order-stream.js', "export const orderStream = 'order';\n");
      write('libs/infrastructure/src/event-store/events-table.js', "export const EVENTS_TABLE = 'events';\n");
      write(
        'libs/agents/src/order-router.js',
        [
          "import { decide } from '@meridian/domain';",
          "import { EVENTS_TABLE } from '../../infrastructure/src/event-store/events-table';",
          'export const route = [decide, EVENTS_TABLE];',
          '',
        ].join('\n'),
      );
    });

    afterAll(() => {
      if (fixture) rmSync(fixture, { recursive: true, force: true });
    });

    it('reports the domain importing typeorm or infrastructure (relative or aliased), and agents importing infrastructure', () => {
      const report = cruiseWithProjectRules(fixture, ['libs']);
      const found = report.violations.map(describeViolation).sort();

      const domainFile = 'libs/domain/src/order.decider.js';
      const infraFile = 'libs/infrastructure/src/event-store/events-table.js';
      // Exactly these: the sibling import inside the domain and agents -> @meridian/domain are fine.
      expect(found).toEqual(
        [
          `agents-not-to-outer-layers: libs/agents/src/order-router.js → ${infraFile}`,
          `domain-only-domain: ${domainFile} → ${infraFile}`,
          `domain-only-domain: ${domainFile} → npm:typeorm`,
          `domain-relative-imports-only: ${domainFile} → ${infraFile}`,
        ].sort(),
      );
    });
  });
});
