import { Controller, Get, Param } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ApiResponse, ApiTags } from '@nestjs/swagger';
import { openApi } from '../../http/openapi-schema';
import { AgentPresetListSchema, AgentPresetViewSchema, type AgentPresetView } from './agent-preset.view';
import { GetAgentPresetQuery, ListAgentPresetsQuery } from './agent-presets.query';

/** The built-in agent kinds, readable by every authenticated role (docs/agent-kinds.md). */
@ApiTags('agents')
@Controller('api/v1/agent-presets')
export class AgentPresetsHttpController {
  constructor(private readonly queries: QueryBus) {}

  /** Each built-in kind with its parameters and an example definition, ready for POST /api/v1/agents. */
  @Get()
  @ApiResponse({ status: 200, schema: openApi(AgentPresetListSchema) })
  async list(): Promise<{ items: AgentPresetView[]; nextCursor: null }> {
    return { items: await this.queries.execute(new ListAgentPresetsQuery()), nextCursor: null };
  }

  @Get(':kind')
  @ApiResponse({ status: 200, schema: openApi(AgentPresetViewSchema) })
  async get(@Param('kind') kind: string): Promise<AgentPresetView> {
    return this.queries.execute(new GetAgentPresetQuery(kind));
  }
}
