import { AIMessage } from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';
import { AGENT_TOOLS, type LlmEngine } from '@meridian/domain';
import { actionTools, toolCallToAction } from './llm-action-tools';
import { LlmDecisionFailedError } from './llm-decision-failed.error';
import { LlmReasoningEngine } from './llm-reasoning-engine';

const fakeEngine: LlmEngine = { type: 'llm', provider: 'fake', model: 'scripted' };
const input = { input: { kind: 'message', ref: 'm-1', payload: {} }, memory: {}, agent: { id: 'a', name: 'a', kind: 'custom' } } as const;

describe('LlmReasoningEngine with the fake provider (an in-process LangChain model)', () => {
  it('decides from the scripted model: tool calls become actions, usage from the message', async () => {
    const model = fakeModel()
      .respondWithTools([{ name: 'remember', args: { key: 'seen', value: true }, id: 't1' }])
      .respond(new AIMessage({ content: 'Hello', usage_metadata: { input_tokens: 3, output_tokens: 1, total_tokens: 4 } }));
    const engine = new LlmReasoningEngine({ env: {}, fakeModel: () => model, priceTable: { scripted: { inputUsdPerMillion: 1e6, outputUsdPerMillion: 0 } } });

    const first = await engine.decide(fakeEngine, { input, allowedTools: ['remember', 'reply'] });
    expect(first.actions).toEqual([{ action: 'remember', key: 'seen', value: true }]);
    expect(first.usageReported).toBe(false);
    expect(first.usage).toEqual({ inputTokens: 0, outputTokens: 0, totalTokens: 0, costUsd: 0 });

    const second = await engine.decide(fakeEngine, { instructions: 'Be brief.', input, allowedTools: ['remember', 'reply'] });
    expect(second.actions).toEqual([{ action: 'reply', text: 'Hello' }]);
    expect(second.usage).toEqual({ inputTokens: 3, outputTokens: 1, totalTokens: 4, costUsd: 3 });
    expect(model.callCount).toBe(2);
    expect(model.calls[1]?.messages.map((m) => m.type)).toEqual(['system', 'human']);
  });

  it('does not retry a fault of the model library, and says so with LLM_ENGINE_ERROR', async () => {
    const model = fakeModel().alwaysThrow(new Error('broken'));
    const engine = new LlmReasoningEngine({ env: {}, fakeModel: () => model });
    const error: unknown = await engine.decide(fakeEngine, { input, allowedTools: [] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LlmDecisionFailedError);
    expect(error).toMatchObject({ code: 'LLM_ENGINE_ERROR', failure: { attempts: 1 } });
    expect(model.callCount).toBe(1);
  });
});

describe('action tools', () => {
  it('offers each allowed action once, in catalogue order, named after the action', () => {
    expect(actionTools(['propose', 'reply', 'reply']).map((t) => t.function.name)).toEqual(['reply', 'propose']);
    expect(actionTools([...AGENT_TOOLS]).map((t) => t.function.name)).toEqual([...AGENT_TOOLS]);
    expect(actionTools([])).toEqual([]);
  });

  it('lets a proposal wrap any direct action', () => {
    const [propose] = actionTools(['propose']);
    const proposed = propose?.function.parameters.properties.proposed as { anyOf: Array<{ properties: { action: { const: string } } }> };
    expect(proposed.anyOf.map((schema) => schema.properties.action.const)).toEqual(['reply', 'send-message', 'emit-event', 'call-webhook', 'remember']);
  });

  it('maps a call by its tool name, whatever an "action" argument says', () => {
    expect(toolCallToAction({ name: 'reply', args: { text: 'hi', action: 'call-webhook' } }, ['reply'], 'c')).toEqual({ ok: true, action: { action: 'reply', text: 'hi' } });
  });

  it('rejects disallowed tools, unknown tools, missing fields and non-literal webhook URLs', () => {
    expect(toolCallToAction({ name: 'remember', args: { key: 'k', value: 1 } }, ['reply'], 'c')).toMatchObject({ ok: false, issues: [{ path: 'c.action' }] });
    expect(toolCallToAction({ name: 'rm -rf', args: {} }, [...AGENT_TOOLS], 'c')).toMatchObject({ ok: false, issues: [{ path: 'c.name' }] });
    expect(toolCallToAction({ name: 'remember', args: { key: 'k' } }, ['remember'], 'c')).toMatchObject({ ok: false, issues: [{ path: 'c.value', message: 'is required' }] });
    expect(toolCallToAction({ name: 'call-webhook', args: { url: 'https://x/{{memory.secret}}' } }, ['call-webhook'], 'c')).toMatchObject({
      ok: false,
      issues: [{ path: 'c.url', message: 'must be a literal http(s) URL' }],
    });
    expect(toolCallToAction({ name: 'propose', args: { proposed: { action: 'call-webhook', url: 'file:///etc/passwd' } } }, ['propose'], 'c')).toMatchObject({ ok: false });
  });

  it('lets an agent holding propose propose an action it does not hold', () => {
    expect(toolCallToAction({ name: 'propose', args: { proposed: { action: 'remember', key: 'k', value: 1 } } }, ['propose'], 'c')).toEqual({
      ok: true,
      action: { action: 'propose', proposed: { action: 'remember', key: 'k', value: 1 } },
    });
  });
});
