import { apply, type RulesLogic } from 'json-logic-js';
import { isPlainObject, type JsonLogicExpression, type ValidationIssue } from '@meridian/domain';

/**
 * JSON Logic conditions (subscription filters, rule conditions), checked once when compiled and
 * then evaluated per input with json-logic-js.
 *
 * Semantics every caller relies on:
 * - A condition holds only when it evaluates to the boolean `true`. Any other result (a number, a
 *   string, null, an object) does not hold and is reported as `non-boolean`: JSON Logic's `and` /
 *   `or` / `var` return values rather than booleans, so wrap a truthiness test in `!!`.
 * - An evaluation that throws does not hold either and is reported as `threw`; it never escapes.
 * - Compiling rejects, with a path for each problem: a top level that is not an operation (an
 *   object with exactly one operator key; `{}` is a literal in JSON Logic, not "always"), unknown
 *   operators, `log` (it writes to the process console), and literal `var` / `missing` paths
 *   through `__proto__`, `prototype` or `constructor`, so conditions read the data, never the
 *   objects' prototypes.
 */

/** json-logic-js 2.x built-in operators, less `log`. */
const OPERATORS: ReadonlySet<string> = new Set([
  'var', 'missing', 'missing_some',
  'if', '?:', 'and', 'or', '!', '!!',
  '==', '===', '!=', '!==', '>', '>=', '<', '<=',
  '+', '-', '*', '/', '%', 'min', 'max',
  'map', 'filter', 'reduce', 'all', 'none', 'some', 'merge', 'in',
  'cat', 'substr',
]);
const FORBIDDEN_PATH_SEGMENTS: ReadonlySet<string> = new Set(['__proto__', 'prototype', 'constructor']);

export type ConditionResult =
  | { readonly ok: true; readonly value: boolean }
  | { readonly ok: false; readonly reason: 'threw' | 'non-boolean'; readonly message: string };

export interface CompiledCondition {
  evaluate(data: unknown): ConditionResult;
}

export type ConditionCompilation =
  | { readonly ok: true; readonly condition: CompiledCondition }
  | { readonly ok: false; readonly issues: readonly ValidationIssue[] };

const at = (path: string, key: string | number) => (typeof key === 'number' ? `${path}[${key}]` : path === '' ? key : `${path}.${key}`);

/** An object with exactly one key is an operation in JSON Logic; anything else is a literal. */
function isOperation(value: unknown): value is Record<string, unknown> {
  return isPlainObject(value) && Object.keys(value).length === 1;
}

function checkDataPath(value: unknown, path: string, issues: ValidationIssue[]): void {
  if (typeof value !== 'string') return;
  const forbidden = value.split('.').find((segment) => FORBIDDEN_PATH_SEGMENTS.has(segment));
  if (forbidden !== undefined) issues.push({ path, message: `may not read "${forbidden}"` });
}

function checkNode(node: unknown, path: string, issues: ValidationIssue[]): void {
  if (Array.isArray(node)) {
    node.forEach((item: unknown, index) => checkNode(item, at(path, index), issues));
    return;
  }
  if (!isOperation(node)) return;
  const [operator] = Object.keys(node);
  const operatorPath = at(path, operator);
  if (operator === 'log') {
    issues.push({ path: operatorPath, message: 'the "log" operator is not allowed (it writes to the process console)' });
  } else if (!OPERATORS.has(operator)) {
    issues.push({ path: operatorPath, message: `unknown JSON Logic operator "${operator}"` });
  }
  const raw = node[operator];
  const args: readonly unknown[] = Array.isArray(raw) ? raw : [raw];
  const argPath = (index: number) => (Array.isArray(raw) ? at(operatorPath, index) : operatorPath);
  if (operator === 'var') checkDataPath(args[0], argPath(0), issues);
  if (operator === 'missing') {
    const keys = Array.isArray(args[0]) ? (args[0] as readonly unknown[]) : args;
    keys.forEach((key, index) => checkDataPath(key, Array.isArray(args[0]) ? at(argPath(0), index) : argPath(index), issues));
  }
  if (operator === 'missing_some' && Array.isArray(args[1])) {
    (args[1] as readonly unknown[]).forEach((key, index) => checkDataPath(key, at(argPath(1), index), issues));
  }
  args.forEach((arg, index) => checkNode(arg, argPath(index), issues));
}

/** Problems of a condition (empty when it is usable); paths are relative to `path`. */
export function checkJsonLogicCondition(expression: unknown, path = ''): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  if (!isOperation(expression)) {
    issues.push({ path, message: 'must be a JSON Logic operation: an object with exactly one operator key' });
    return issues;
  }
  checkNode(expression, path, issues);
  return issues;
}

/** Short, deterministic description of a non-boolean result for error reports. */
function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return 'a function';
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = Object.prototype.toString.call(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Checks a condition once and returns its evaluator. The expression is copied, so a caller that
 * later mutates its object cannot change a compiled condition.
 */
export function compileJsonLogicCondition(expression: JsonLogicExpression, path = ''): ConditionCompilation {
  const issues = checkJsonLogicCondition(expression, path);
  if (issues.length > 0) return { ok: false, issues };
  const logic = structuredClone(expression) as RulesLogic;
  return {
    ok: true,
    condition: {
      evaluate(data: unknown): ConditionResult {
        let value: unknown;
        try {
          value = apply(logic, data);
        } catch (error: unknown) {
          return { ok: false, reason: 'threw', message: errorMessage(error) };
        }
        if (typeof value === 'boolean') return { ok: true, value };
        return { ok: false, reason: 'non-boolean', message: `returned ${describe(value)}, not a boolean` };
      },
    },
  };
}
