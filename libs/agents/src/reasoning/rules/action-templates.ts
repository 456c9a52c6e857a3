import Handlebars from 'handlebars';
import { assertNever, isPlainObject, type AgentAction, type DirectAgentAction, type ValidationIssue } from '@meridian/domain';

/**
 * Action templates. Every string field of an action that the runtime fills in is a Handlebars
 * template rendered against the decision context: `reply.text`, `send-message.to` / `content` / `replyWithin`,
 * `emit-event.eventType` / `subject`, `call-webhook.url`, `remember.key`, `propose.reason`, and every
 * string inside `emit-event.data`, `call-webhook.body` and `remember.value` (object keys are not
 * templates, numbers / booleans / null stay as they are). `action` and `call-webhook.method` are
 * never rendered.
 *
 * Rendering rules:
 * - Output is text, not HTML: nothing is escaped. A missing value renders as an empty string.
 * - A value renders as Handlebars prints it (`false`, `42`, `1,2` for an array, `[object Object]`
 *   for an object); `{{json value}}` renders it as JSON instead.
 * - Only own properties of the context are read: `{{constructor}}`, `{{__proto__}}` and other
 *   prototype members render nothing.
 * - Helpers: `if`, `unless`, `each`, `with`, `lookup` and `json`. Any other helper, a partial, or a
 *   syntax error is rejected when the template is compiled.
 */

/** An isolated Handlebars environment, so no other code's helpers or partials leak in. */
const handlebars = Handlebars.create();
handlebars.unregisterHelper('log');
handlebars.registerHelper('json', function json(...args: unknown[]): string {
  // The last argument is Handlebars' options object.
  if (args.length !== 2) throw new Error('json takes exactly one value: {{json path}}');
  return JSON.stringify(args[0]) ?? '';
});

const COMPILE_OPTIONS: CompileOptions = {
  strict: false,
  noEscape: true,
  knownHelpersOnly: true,
  knownHelpers: { log: false, json: true },
};
/** Stated explicitly (they are also Handlebars' defaults) so denied lookups are not logged. */
const RUNTIME_OPTIONS: RuntimeOptions = { allowProtoPropertiesByDefault: false, allowProtoMethodsByDefault: false };

type CompileOptions = Parameters<typeof Handlebars.compile>[1];
type RuntimeOptions = Parameters<HandlebarsTemplateDelegate>[1];

/** A template failed while rendering (a helper given unusable values). */
export class TemplateRenderError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
    this.name = 'TemplateRenderError';
  }
}

type CompiledValue =
  | { readonly kind: 'literal'; readonly value: unknown }
  | { readonly kind: 'template'; readonly path: string; readonly render: HandlebarsTemplateDelegate }
  | { readonly kind: 'array'; readonly items: readonly CompiledValue[] }
  | { readonly kind: 'object'; readonly entries: readonly (readonly [string, CompiledValue])[] };

const at = (path: string, key: string | number) => (typeof key === 'number' ? `${path}[${key}]` : `${path}.${key}`);
const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

function compileString(template: string, path: string, issues: ValidationIssue[]): CompiledValue {
  // Most strings are plain text: no need to pay for a template.
  if (!template.includes('{{')) return { kind: 'literal', value: template };
  try {
    const render = handlebars.compile(template, COMPILE_OPTIONS);
    // Handlebars compiles lazily on first render; rendering once against nothing surfaces syntax
    // errors, unknown helpers and partials now, when the definition is compiled.
    render({}, RUNTIME_OPTIONS);
    return { kind: 'template', path, render };
  } catch (error: unknown) {
    issues.push({ path, message: `invalid template: ${messageOf(error).split('\n')[0]}` });
    return { kind: 'literal', value: template };
  }
}

/** Compiles a JSON value whose strings are templates. */
function compileValue(value: unknown, path: string, issues: ValidationIssue[]): CompiledValue {
  if (typeof value === 'string') return compileString(value, path, issues);
  if (Array.isArray(value)) return { kind: 'array', items: value.map((item: unknown, index) => compileValue(item, at(path, index), issues)) };
  if (isPlainObject(value)) {
    return { kind: 'object', entries: Object.entries(value).map(([key, item]) => [key, compileValue(item, at(path, key), issues)] as const) };
  }
  // Numbers, booleans and null are kept as they are.
  return { kind: 'literal', value };
}

function renderValue(compiled: CompiledValue, context: unknown): unknown {
  switch (compiled.kind) {
    case 'literal':
      return compiled.value;
    case 'template':
      try {
        return compiled.render(context, RUNTIME_OPTIONS);
      } catch (error: unknown) {
        throw new TemplateRenderError(compiled.path, messageOf(error));
      }
    case 'array':
      return compiled.items.map((item) => renderValue(item, context));
    case 'object':
      // fromEntries defines own properties: a "__proto__" key stays data, never a prototype.
      return Object.fromEntries(compiled.entries.map(([key, item]) => [key, renderValue(item, context)]));
  }
}

const renderString = (compiled: CompiledValue, context: unknown) => renderValue(compiled, context) as string;

/** An action whose templates are compiled; `render` gives the action to run. */
export interface CompiledAction {
  render(context: unknown): AgentAction;
}

function compileDirect(action: DirectAgentAction, path: string, issues: ValidationIssue[]): (context: unknown) => DirectAgentAction {
  const field = (value: string, key: string) => compileString(value, at(path, key), issues);
  switch (action.action) {
    case 'reply': {
      const text = field(action.text, 'text');
      return (context) => ({ action: 'reply', text: renderString(text, context) });
    }
    case 'send-message': {
      const to = field(action.to, 'to');
      const content = field(action.content, 'content');
      const replyWithin = action.replyWithin === undefined ? undefined : field(action.replyWithin, 'replyWithin');
      return (context) => ({
        action: 'send-message',
        to: renderString(to, context),
        content: renderString(content, context),
        ...(replyWithin !== undefined && { replyWithin: renderString(replyWithin, context) }),
      });
    }
    case 'emit-event': {
      const eventType = field(action.eventType, 'eventType');
      const subject = action.subject === undefined ? undefined : field(action.subject, 'subject');
      const data = action.data === undefined ? undefined : compileValue(action.data, at(path, 'data'), issues);
      return (context) => ({
        action: 'emit-event',
        eventType: renderString(eventType, context),
        ...(subject !== undefined && { subject: renderString(subject, context) }),
        ...(data !== undefined && { data: renderValue(data, context) }),
      });
    }
    case 'call-webhook': {
      const url = field(action.url, 'url');
      const method = action.method;
      const body = action.body === undefined ? undefined : compileValue(action.body, at(path, 'body'), issues);
      return (context) => ({
        action: 'call-webhook',
        url: renderString(url, context),
        ...(method !== undefined && { method }),
        ...(body !== undefined && { body: renderValue(body, context) }),
      });
    }
    case 'remember': {
      const key = field(action.key, 'key');
      const value = compileValue(action.value, at(path, 'value'), issues);
      return (context) => ({ action: 'remember', key: renderString(key, context), value: renderValue(value, context) });
    }
    default:
      return assertNever(action);
  }
}

/** Compiles an action's templates; problems are added to `issues` with paths under `path`. */
export function compileAction(action: AgentAction, path: string, issues: ValidationIssue[]): CompiledAction {
  if (action.action === 'propose') {
    const proposed = compileDirect(action.proposed, at(path, 'proposed'), issues);
    const reason = action.reason === undefined ? undefined : compileString(action.reason, at(path, 'reason'), issues);
    return {
      render: (context) => ({
        action: 'propose',
        proposed: proposed(context),
        ...(reason !== undefined && { reason: renderString(reason, context) }),
      }),
    };
  }
  const direct = compileDirect(action, path, issues);
  return { render: direct };
}

/** A JSON value whose strings are templates (trigger actions' `task`, `content`, `data`…). */
export interface CompiledTemplateValue {
  render(context: unknown): unknown;
}

/** Compiles any JSON value's strings as templates, with the rules above; problems go to `issues`. */
export function compileTemplateValue(value: unknown, path: string, issues: ValidationIssue[]): CompiledTemplateValue {
  const compiled = compileValue(value, path, issues);
  return { render: (context) => renderValue(compiled, context) };
}
