#!/usr/bin/env node
/**
 * Runs the whole test suite (every jest project: unit, int, e2e) and reports one machine-readable
 * total. This is what `npm test` runs after installing dependencies, locally and in CI (.ci/run).
 *
 *   node scripts/run-tests.mjs [extra jest args…]     e.g.  npm test -- --selectProjects=unit
 *
 * The layering check (dependency-cruiser) is not a separate step: it is a jest suite,
 * test/architecture/layering.unit.spec.ts, so it is counted like any other test.
 *
 * Writes node_modules/.cache/meridian/summary.json ({ passed, failed, skipped, … }) and prints
 * `N passed, N failed, N skipped` as its last line. Exits non-zero when anything failed or no test
 * ran. "Failed" includes more than failing assertions: a suite that could not run (syntax error, a
 * throwing import, a required service missing in CI), a suite whose hooks failed, and jest itself
 * failing all count, so a broken run can never look green.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SUMMARY_FILE = join(root, 'node_modules', '.cache', 'meridian', 'summary.json');

const isCi = process.env.CI === 'true' || process.env.CI === '1';

async function main() {
  rmSync(SUMMARY_FILE, { force: true });
  const workDir = mkdtempSync(join(tmpdir(), 'meridian-tests-'));
  const jsonFile = join(workDir, 'jest-results.json');
  try {
    const jestExitCode = await runJest(jsonFile, process.argv.slice(2));
    const summary = summarise(readJestResults(jsonFile), jestExitCode);
    mkdirSync(dirname(SUMMARY_FILE), { recursive: true });
    writeFileSync(SUMMARY_FILE, `${JSON.stringify(summary, null, 2)}\n`);

    for (const problem of summary.problems) process.stdout.write(`\n!! ${problem}\n`);
    process.stdout.write(`\nSummary: ${relative(root, SUMMARY_FILE)}\n`);
    process.stdout.write(`${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped\n`);
    return summary.failed > 0 || summary.passed + summary.failed === 0 ? 1 : 0;
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

/** Runs jest with the human-readable reporters on the terminal and a JSON copy of the results in a file. */
function runJest(jsonFile, extraArgs) {
  const require = createRequire(import.meta.url);
  const jestBin = require.resolve('jest/bin/jest', { paths: [root] });
  const args = [jestBin, '--ci', '--json', `--outputFile=${jsonFile}`];
  // In CI a test that leaks a handle must not hang the pipeline until its deadline; jest still
  // prints which suite kept the process alive.
  if (isCi) args.push('--forceExit');
  args.push(...extraArgs);

  process.stdout.write(`$ jest ${args.slice(1).join(' ')}\n`);
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  const forward = (signal) => child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  return new Promise((resolve) => {
    child.on('error', (error) => {
      process.stderr.write(`could not start jest: ${error.message}\n`);
      resolve(127);
    });
    child.on('exit', (code, signal) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve(code ?? 128 + (constants.signals[signal] ?? 0));
    });
  });
}

function readJestResults(jsonFile) {
  if (!existsSync(jsonFile)) return undefined;
  try {
    return JSON.parse(readFileSync(jsonFile, 'utf8'));
  } catch (error) {
    process.stderr.write(`unreadable jest results ${jsonFile}: ${error.message}\n`);
    return undefined;
  }
}

/** Totals from jest's JSON results, with every way a run can go wrong counted as a failure. */
function summarise(results, jestExitCode) {
  const problems = [];
  if (!results) {
    problems.push(`jest produced no results (exit code ${jestExitCode})`);
    return { passed: 0, failed: 1, skipped: 0, jestExitCode, problems };
  }

  const passed = count(results.numPassedTests);
  const skipped = count(results.numPendingTests) + count(results.numTodoTests);
  let failed = count(results.numFailedTests);

  // A suite can fail without a failing assertion: it did not run at all (compile error, throwing
  // import or describe, missing service in CI) or a hook failed. Count each such suite once.
  for (const suite of results.testResults ?? []) {
    const failedAssertions = (suite.assertionResults ?? []).filter((a) => a.status === 'failed').length;
    if (suite.status === 'failed' && failedAssertions === 0) {
      failed += 1;
      const reason = firstLine(suite.message) || 'failed outside any test';
      problems.push(`suite failed outside its tests: ${relative(root, suite.name)}: ${reason}`);
    }
  }
  // Any other failure jest knows about (e.g. a global setup error) but that left no trace above.
  if (failed === 0 && (jestExitCode !== 0 || results.success === false)) {
    failed = 1;
    problems.push(`jest reported failure (exit code ${jestExitCode}) without a failing test`);
  }
  if (passed + failed === 0) {
    problems.push('no test ran');
  }
  return { passed, failed, skipped, jestExitCode, suites: count(results.numTotalTestSuites), problems };
}

const count = (value) => (Number.isFinite(value) ? value : 0);

function firstLine(message) {
  if (typeof message !== 'string') return '';
  // eslint-disable-next-line no-control-regex
  const plain = message.replace(/\u001b\[[0-9;]*m/g, '');
  return (
    plain
      .split('\n')
      .map((line) => line.trim())
      .find((line) => line.length > 0 && !line.startsWith('●')) ?? ''
  );
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`${error?.stack ?? error}\n`);
    process.stdout.write('0 passed, 1 failed, 0 skipped\n');
    process.exitCode = 1;
  },
);
