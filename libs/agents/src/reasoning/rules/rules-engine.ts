import { unprocessable, type AgentAction, type RulesEngine, type ValidationIssue } from '@meridian/domain';
import { compileJsonLogicCondition, type CompiledCondition } from '../../routing/json-logic-condition';
import { compileAction, TemplateRenderError, type CompiledAction } from './action-templates';
import type { DecisionContext } from './decision-context';

/**
 * The rules engine: a pure function from (definition, context) to the actions to take.
 *
 * Every rule whose `when` holds contributes its `then` actions, in definition order (rule by rule,
 * action by action); a rule without `when` always holds. All matching rules fire rather than only
 * the first because rules are independent reactions (remember something, and also notify someone):
 * exclusive rules are still expressible with exclusive conditions, whereas first-match would force
 * a definition to repeat actions in every combination of rules.
 *
 * `when` is a JSON Logic condition over the `DecisionContext` (`{ "var": "entity.state.status" }`)
 * with the semantics of `compileJsonLogicCondition`: only a boolean `true` holds. A condition that
 * throws or returns a non-boolean does not hold, and is listed in the output's `errors`.
 *
 * Action strings are Handlebars templates rendered against the same context (see
 * action-templates.ts).
 *
 * The output is deterministic: the same definition and context give byte-identical JSON, so it can
 * be recorded verbatim in `agent.decision-recorded` and replayed without deciding again.
 */

export interface MatchedRule {
  readonly index: number;
  readonly name?: string;
}

export interface RuleConditionError {
  readonly index: number;
  readonly name?: string;
  readonly reason: 'threw' | 'non-boolean';
  readonly message: string;
}

export interface RuleTrace {
  readonly index: number;
  readonly name?: string;
  readonly matched: boolean;
  /** How many actions the rule contributed (0 when it did not match). */
  readonly actions: number;
  readonly error?: string;
}

export interface RulesDecisionOutput {
  readonly matchedRules: readonly MatchedRule[];
  /** Rendered actions, ready to record and execute. */
  readonly actions: readonly AgentAction[];
  /** One entry per rule, when asked for with `{ trace: true }`. */
  readonly trace?: readonly RuleTrace[];
  /** Conditions that failed to evaluate; present only when there are some. */
  readonly errors?: readonly RuleConditionError[];
}

export interface DecideOptions {
  readonly trace?: boolean;
}

interface CompiledRule {
  readonly index: number;
  readonly name?: string;
  readonly when?: CompiledCondition;
  readonly then: readonly CompiledAction[];
}

export interface CompiledRulesEngine {
  decide(context: DecisionContext, options?: DecideOptions): RulesDecisionOutput;
}

/** Problems of a rules engine definition (empty when it compiles); paths like `engine.rules[0].when`. */
export function checkRulesEngine(definition: RulesEngine): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  compileRules(definition, issues);
  return issues;
}

function compileRules(definition: RulesEngine, issues: ValidationIssue[]): CompiledRule[] {
  return definition.rules.map((rule, index): CompiledRule => {
    const path = `engine.rules[${index}]`;
    let when: CompiledCondition | undefined;
    if (rule.when !== undefined) {
      const compilation = compileJsonLogicCondition(rule.when, `${path}.when`);
      if (compilation.ok) when = compilation.condition;
      else issues.push(...compilation.issues);
    }
    const then = rule.then.map((action, actionIndex) => compileAction(action, `${path}.then[${actionIndex}]`, issues));
    return { index, ...(rule.name !== undefined && { name: rule.name }), ...(when !== undefined && { when }), then };
  });
}

const identify = (rule: CompiledRule) => ({ index: rule.index, ...(rule.name !== undefined && { name: rule.name }) });

/**
 * Compiles a definition's conditions and templates. Throws a `RULES_ENGINE_INVALID` domain error
 * (details.errors: `{ path, message }[]`) when any of them is unusable; such a definition makes no
 * decision at all rather than a partial one.
 */
export function compileRulesEngine(definition: RulesEngine): CompiledRulesEngine {
  const issues: ValidationIssue[] = [];
  const rules = compileRules(definition, issues);
  if (issues.length > 0) {
    const summary = issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ');
    throw unprocessable('RULES_ENGINE_INVALID', `The rules engine cannot run: ${summary}`, { errors: issues });
  }
  return {
    decide(context, options = {}) {
      const matchedRules: MatchedRule[] = [];
      const actions: AgentAction[] = [];
      const trace: RuleTrace[] = [];
      const errors: RuleConditionError[] = [];
      for (const rule of rules) {
        const result = rule.when === undefined ? ({ ok: true, value: true } as const) : rule.when.evaluate(context);
        if (!result.ok) errors.push({ ...identify(rule), reason: result.reason, message: result.message });
        const matched = result.ok && result.value;
        if (matched) {
          matchedRules.push(identify(rule));
          rule.then.forEach((action, actionIndex) => actions.push(renderAction(action, context, rule.index, actionIndex)));
        }
        trace.push({
          ...identify(rule),
          matched,
          actions: matched ? rule.then.length : 0,
          ...(!result.ok && { error: `${result.reason}: ${result.message}` }),
        });
      }
      return {
        matchedRules,
        actions,
        ...(options.trace === true && { trace }),
        ...(errors.length > 0 && { errors }),
      };
    },
  };
}

function renderAction(action: CompiledAction, context: DecisionContext, ruleIndex: number, actionIndex: number): AgentAction {
  try {
    return action.render(context);
  } catch (error: unknown) {
    const path = error instanceof TemplateRenderError ? error.path : `engine.rules[${ruleIndex}].then[${actionIndex}]`;
    const message = error instanceof Error ? error.message : String(error);
    throw unprocessable('RULE_TEMPLATE_FAILED', `${path}: ${message}`, { path, ruleIndex, actionIndex });
  }
}

/**
 * Compiled engines per definition object. Definitions are immutable values (every change is a new
 * version, hence a new object), so identity is a safe key, and a WeakMap lets retired versions go.
 */
const compiledEngines = new WeakMap<RulesEngine, CompiledRulesEngine | Error>();

function compiledFor(definition: RulesEngine): CompiledRulesEngine {
  let compiled = compiledEngines.get(definition);
  if (compiled === undefined) {
    try {
      compiled = compileRulesEngine(definition);
    } catch (error: unknown) {
      compiled = error instanceof Error ? error : new Error(String(error));
    }
    compiledEngines.set(definition, compiled);
  }
  if (compiled instanceof Error) throw compiled;
  return compiled;
}

/**
 * Decides with a rules engine definition. Conditions and templates are compiled on the first call
 * for a definition object and reused afterwards.
 *
 * Throws a DomainError `RULES_ENGINE_INVALID` when the definition cannot be compiled, and
 * `RULE_TEMPLATE_FAILED` when a template fails while rendering (a helper given unusable values):
 * the runtime records such a decision as failed instead of running a partial set of actions.
 */
export function decide(definition: RulesEngine, input: DecisionContext, options?: DecideOptions): RulesDecisionOutput {
  return compiledFor(definition).decide(input, options);
}
