import { AIMessage, HumanMessage, SystemMessage, ToolMessage, type AIMessageChunk, type BaseMessage } from '@langchain/core/messages';
import { assertNever } from '@meridian/domain';

/**
 * Provider-neutral chat messages: what a decision receives as history and what it records as the
 * model's output. Plain JSON, so an output message can be stored in an event and later given back
 * as history unchanged.
 */
export interface LlmToolCall {
  readonly id: string;
  readonly name: string;
  readonly args: Readonly<Record<string, unknown>>;
}

/** A tool call whose arguments were not JSON; kept verbatim. */
export interface LlmInvalidToolCall {
  readonly id?: string;
  readonly name?: string;
  readonly args?: string;
  readonly error?: string;
}

export interface LlmSystemMessage {
  readonly role: 'system';
  readonly content: string;
}
export interface LlmUserMessage {
  readonly role: 'user';
  readonly content: string;
}
export interface LlmAssistantMessage {
  readonly role: 'assistant';
  readonly content: string;
  readonly toolCalls?: readonly LlmToolCall[];
  readonly invalidToolCalls?: readonly LlmInvalidToolCall[];
  /** As the provider reported it: `stop`, `tool_calls`, `length`, … */
  readonly finishReason?: string;
  /** The provider's id for the completion. */
  readonly id?: string;
}
/**
 * The result of a tool call. OpenAI-compatible APIs reject an assistant message with tool calls
 * that is not followed by one tool message per call id, so history that replays a decision must
 * carry the outcome of each of its actions.
 */
export interface LlmToolMessage {
  readonly role: 'tool';
  readonly toolCallId: string;
  readonly content: string;
}

export type LlmMessage = LlmSystemMessage | LlmUserMessage | LlmAssistantMessage | LlmToolMessage;

export function toLangChainMessage(message: LlmMessage): BaseMessage {
  switch (message.role) {
    case 'system':
      return new SystemMessage(message.content);
    case 'user':
      return new HumanMessage(message.content);
    case 'assistant':
      return new AIMessage({
        content: message.content,
        tool_calls: (message.toolCalls ?? []).map((call) => ({ id: call.id, name: call.name, args: { ...call.args }, type: 'tool_call' as const })),
      });
    case 'tool':
      return new ToolMessage({ content: message.content, tool_call_id: message.toolCallId });
    default:
      return assertNever(message);
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The model's answer as plain JSON (a deep copy: nothing of the client library's objects leaks in). */
export function fromLangChainAnswer(message: AIMessage | AIMessageChunk): LlmAssistantMessage {
  const toolCalls = (message.tool_calls ?? []).map(
    (call, index): LlmToolCall => ({ id: call.id ?? `call_${index}`, name: call.name, args: isRecord(call.args) ? jsonCopy(call.args) : {} }),
  );
  const invalidToolCalls = (message.invalid_tool_calls ?? []).map(
    (call): LlmInvalidToolCall => ({
      ...(call.id !== undefined && { id: call.id }),
      ...(call.name !== undefined && { name: call.name }),
      ...(call.args !== undefined && { args: call.args }),
      ...(call.error !== undefined && { error: call.error }),
    }),
  );
  const finishReason = message.response_metadata?.finish_reason;
  return {
    role: 'assistant',
    content: message.text,
    ...(toolCalls.length > 0 && { toolCalls }),
    ...(invalidToolCalls.length > 0 && { invalidToolCalls }),
    ...(typeof finishReason === 'string' && { finishReason }),
    ...(typeof message.id === 'string' && { id: message.id }),
  };
}

function jsonCopy(value: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
}
