import { Body, Controller, Delete, Headers, HttpCode, Param, Patch, Post, Query, Res } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBody, ApiHeader, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Type, type Static } from '@sinclair/typebox';
import type { Response } from 'express';
import { randomUUID } from 'node:crypto';
import type { AgentCommand, AgentDefinitionInput, AgentDefinitionPatch } from '@meridian/domain';
import { Ctx, type RequestContext } from '../../http/request-context.decorator';
import { TypeBoxBodyPipe, TypeBoxQueryPipe } from '../../http/typebox.pipe';
import { HttpProblem } from '../../http/problem-details';
import { openApi } from '../../http/openapi-schema';
import { commandContext, etag, expectedRevisionFrom } from '../../shared/aggregate-command';
import { ReadYourWrites } from '../../shared/read-your-writes';
import { CreateAgentRequestSchema, PostAgentMessageRequestSchema, ReconfigureAgentRequestSchema } from '../agent-definition.schema';
import { AgentsReadRepository } from '@meridian/infrastructure/read-models';
import { agentViewFromReadModel, agentViewFromState, AgentViewSchema, type AgentView } from '../agent.view';
import { AgentCommandMessage, type AgentCommandOutcome } from './agent-command.message';

const ResumeQuerySchema = Type.Object({ replayMissed: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])) }, { additionalProperties: false });

/**
 * Agent lifecycle commands. Each answers once the agent's read model has caught up with the write
 * (bounded wait), so a client can read what it just wrote.
 */
@ApiTags('agents')
@Controller('api/v1/agents')
export class AgentCommandsHttpController {
  constructor(
    private readonly commands: CommandBus,
    private readonly readYourWrites: ReadYourWrites,
    private readonly agents: AgentsReadRepository,
  ) {}

  @Post()
  @HttpCode(201)
  @ApiBody({ schema: openApi(CreateAgentRequestSchema) })
  @ApiHeader({ name: 'Idempotency-Key', required: false })
  @ApiResponse({ status: 201, schema: openApi(AgentViewSchema) })
  async define(
    @Body(new TypeBoxBodyPipe(CreateAgentRequestSchema)) body: Static<typeof CreateAgentRequestSchema>,
    @Ctx() ctx: RequestContext,
    @Res({ passthrough: true }) response: Response,
  ): Promise<AgentView> {
    const { id, ...definition } = body;
    const agentId = id ?? randomUUID();
    const outcome = await this.run({ type: 'DefineAgent', data: { agentId, definition: definition as AgentDefinitionInput } }, ctx);
    response.setHeader('Location', `/api/v1/agents/${encodeURIComponent(agentId)}`);
    return this.respond(outcome, response, ctx);
  }

  @Patch(':id')
  @ApiBody({ schema: openApi(ReconfigureAgentRequestSchema) })
  @ApiHeader({ name: 'If-Match', required: false, description: 'ETag from a read; a mismatch is 412' })
  @ApiResponse({ status: 200, schema: openApi(AgentViewSchema) })
  async reconfigure(
    @Param('id') agentId: string,
    @Body(new TypeBoxBodyPipe(ReconfigureAgentRequestSchema)) changes: Static<typeof ReconfigureAgentRequestSchema>,
    @Headers('if-match') ifMatch: string | undefined,
    @Ctx() ctx: RequestContext,
    @Res({ passthrough: true }) response: Response,
  ): Promise<AgentView> {
    const outcome = await this.run({ type: 'ReconfigureAgent', data: { agentId, changes: changes as AgentDefinitionPatch } }, ctx, expectedRevisionFrom(ifMatch));
    return this.respond(outcome, response, ctx);
  }

  @Post(':id/pause')
  @HttpCode(200)
  @ApiResponse({ status: 200, schema: openApi(AgentViewSchema) })
  async pause(@Param('id') agentId: string, @Headers('if-match') ifMatch: string | undefined, @Ctx() ctx: RequestContext, @Res({ passthrough: true }) response: Response) {
    return this.respond(await this.run({ type: 'PauseAgent', data: { agentId } }, ctx, expectedRevisionFrom(ifMatch)), response, ctx);
  }

  /** Resumes a paused agent; with `?replayMissed=true` it also gets the events it missed while paused. */
  @Post(':id/resume')
  @HttpCode(200)
  @ApiQuery({ name: 'replayMissed', required: false, schema: { type: 'boolean' }, description: 'Route the events the agent missed while paused to it now' })
  @ApiResponse({ status: 200, schema: openApi(AgentViewSchema) })
  async resume(
    @Param('id') agentId: string,
    @Query(new TypeBoxQueryPipe(ResumeQuerySchema)) query: Static<typeof ResumeQuerySchema>,
    @Headers('if-match') ifMatch: string | undefined,
    @Ctx() ctx: RequestContext,
    @Res({ passthrough: true }) response: Response,
  ) {
    const replayMissed = query.replayMissed === 'true';
    return this.respond(await this.run({ type: 'ResumeAgent', data: { agentId, ...(replayMissed && { replayMissed }) } }, ctx, expectedRevisionFrom(ifMatch)), response, ctx);
  }

  /** Retires the agent: it stops reacting; its history stays. */
  @Delete(':id')
  @HttpCode(200)
  @ApiResponse({ status: 200, schema: openApi(AgentViewSchema) })
  async retire(@Param('id') agentId: string, @Headers('if-match') ifMatch: string | undefined, @Ctx() ctx: RequestContext, @Res({ passthrough: true }) response: Response) {
    return this.respond(await this.run({ type: 'RetireAgent', data: { agentId } }, ctx, expectedRevisionFrom(ifMatch)), response, ctx);
  }

  /** Puts a message in the agent's mailbox. */
  @Post(':id/messages')
  @HttpCode(202)
  @ApiBody({ schema: openApi(PostAgentMessageRequestSchema) })
  async message(
    @Param('id') agentId: string,
    @Body(new TypeBoxBodyPipe(PostAgentMessageRequestSchema)) body: Static<typeof PostAgentMessageRequestSchema>,
    @Ctx() ctx: RequestContext,
  ): Promise<{ messageId: string; position: number }> {
    const messageId = randomUUID();
    const outcome = await this.run(
      { type: 'ReceiveMessage', data: { agentId, messageId, from: { kind: 'user', id: body.from ?? ctx.actor.id }, content: body.content } },
      ctx,
    );
    return { messageId, position: outcome.position };
  }

  private async run(command: AgentCommand, ctx: RequestContext, expectedRevision?: number): Promise<AgentCommandOutcome> {
    const outcome = await this.commands.execute<AgentCommandMessage, AgentCommandOutcome>(new AgentCommandMessage(command, commandContext(ctx), expectedRevision));
    await this.readYourWrites.waitFor(outcome.position, ['agents']);
    return outcome;
  }

  /** The read model's view once it has caught up (same shape as GET), else the decider's state. */
  private async respond(outcome: AgentCommandOutcome, response: Response, ctx: RequestContext): Promise<AgentView> {
    response.setHeader('ETag', etag(outcome.revision));
    const id = outcome.state?.id;
    const projected = id ? await this.agents.get(id, ctx.tenantId) : null;
    if (projected && projected.revision === outcome.revision) return agentViewFromReadModel(projected);
    const view = agentViewFromState(outcome.state, outcome.revision);
    if (!view) throw new HttpProblem(500, 'INTERNAL_ERROR', 'The agent has no state after a successful command.');
    return view;
  }
}
