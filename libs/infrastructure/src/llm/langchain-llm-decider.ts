import type { LlmDecider, LlmDeciderFailure, LlmDeciderRequest, LlmDeciderResult } from '@meridian/agents';
import type { LlmEngine } from '@meridian/domain';
import { LlmDecisionFailedError } from './llm-decision-failed.error';
import type { LlmReasoningEngine } from './llm-reasoning-engine';

/** The runtime's LLM port on top of the LangChain engine: the recorded output is the engine's, verbatim. */
export class LangChainLlmDecider implements LlmDecider {
  constructor(private readonly engine: LlmReasoningEngine) {}

  async decide(
    engine: LlmEngine,
    request: LlmDeciderRequest,
    options: { readonly signal?: AbortSignal; readonly onToken?: (delta: string) => void },
  ): Promise<LlmDeciderResult> {
    const output = await this.engine.decide(
      engine,
      {
        ...(request.instructions !== undefined && { instructions: request.instructions }),
        input: request.input,
        ...(request.history !== undefined && { history: request.history.map((turn) => ({ role: turn.role, content: turn.content })) }),
        allowedTools: request.allowedTools,
      },
      options,
    );
    return { output, actions: output.actions, usage: output.usage };
  }

  describeFailure(error: unknown): LlmDeciderFailure {
    if (error instanceof LlmDecisionFailedError) {
      return {
        code: error.code,
        message: error.message,
        ...(error.failure.output !== undefined && { output: error.failure.output }),
        aborted: error.code === 'LLM_ABORTED',
      };
    }
    return { code: 'LLM_ENGINE_ERROR', message: error instanceof Error ? error.message : String(error), aborted: false };
  }
}
