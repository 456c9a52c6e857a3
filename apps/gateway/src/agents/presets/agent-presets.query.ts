import { IQueryHandler, Query, QueryHandler } from '@nestjs/cqrs';
import { notFound } from '@meridian/domain';
import { agentPresetCatalogue } from '@meridian/agents';
import type { AgentPresetView } from './agent-preset.view';

/** The built-in agent kinds (libs/agents presets): the same for every tenant, computed, not stored. */
export class ListAgentPresetsQuery extends Query<AgentPresetView[]> {}

export class GetAgentPresetQuery extends Query<AgentPresetView> {
  constructor(readonly kind: string) {
    super();
  }
}

function catalogue(): AgentPresetView[] {
  // Definitions are plain JSON values: the view only widens their static types.
  return agentPresetCatalogue().map((preset) => JSON.parse(JSON.stringify(preset)) as AgentPresetView);
}

@QueryHandler(ListAgentPresetsQuery)
export class ListAgentPresetsHandler implements IQueryHandler<ListAgentPresetsQuery> {
  async execute(): Promise<AgentPresetView[]> {
    return catalogue();
  }
}

@QueryHandler(GetAgentPresetQuery)
export class GetAgentPresetHandler implements IQueryHandler<GetAgentPresetQuery> {
  async execute({ kind }: GetAgentPresetQuery): Promise<AgentPresetView> {
    const preset = catalogue().find((candidate) => candidate.kind === kind);
    if (preset === undefined) throw notFound('AGENT_PRESET_NOT_FOUND', `There is no built-in agent kind "${kind}": analyst, communicator, executor and monitor are.`);
    return preset;
  }
}
