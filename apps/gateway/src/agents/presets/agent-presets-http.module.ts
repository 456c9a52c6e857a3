import { Module } from '@nestjs/common';
import { AgentPresetsHttpController } from './agent-presets.http.controller';
import { GetAgentPresetHandler, ListAgentPresetsHandler } from './agent-presets.query';

/** The built-in agent kinds over HTTP: GET /api/v1/agent-presets and /api/v1/agent-presets/:kind. */
@Module({
  controllers: [AgentPresetsHttpController],
  providers: [ListAgentPresetsHandler, GetAgentPresetHandler],
})
export class AgentPresetsHttpModule {}
