import { Body, Controller, Delete, Headers, HttpCode, Param, Patch, Post, Res } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBody, ApiHeader, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Static } from '@sinclair/typebox';
import type { Response } from 'express';
import { randomUUID } from 'node:crypto';
import type { TriggerCommand } from '@meridian/domain';
import { Ctx, type RequestContext } from '../../http/request-context.decorator';
import { TypeBoxBodyPipe } from '../../http/typebox.pipe';
import { HttpProblem } from '../../http/problem-details';
import { openApi } from '../../http/openapi-schema';
import { commandContext, etag, expectedRevisionFrom } from '../../shared/aggregate-command';
import { ReadYourWrites } from '../../shared/read-your-writes';
import { ChangeTriggerRequestSchema, CreateTriggerRequestSchema } from '../trigger-definition.schema';
import { assertValidTriggerRequest } from '../trigger-request.validation';
import { triggerViewFromState, TriggerViewSchema, type TriggerView } from '../trigger.view';
import { TriggerCommandMessage, type TriggerCommandOutcome } from './trigger-command.message';

/** The read model every trigger command waits for before answering. */
export const TRIGGERS_PROJECTION = 'triggers';

/**
 * Trigger commands. Each answers with the trigger as it now is (ETag: its revision) once the
 * triggers read model has caught up with the write (bounded wait). `DELETE` answers 200 with the
 * deleted trigger rather than 204, like retiring an agent: the client sees the final revision and
 * version. After deletion every command is 410 TRIGGER_DELETED.
 */
@ApiTags('triggers')
@Controller('api/v1/triggers')
export class TriggerCommandsHttpController {
  constructor(
    private readonly commands: CommandBus,
    private readonly readYourWrites: ReadYourWrites,
  ) {}

  /** Defines a trigger; its agent must exist and not be retired (422 otherwise). */
  @Post()
  @HttpCode(201)
  @ApiBody({ schema: openApi(CreateTriggerRequestSchema) })
  @ApiHeader({ name: 'Idempotency-Key', required: false })
  @ApiResponse({ status: 201, schema: openApi(TriggerViewSchema) })
  async define(
    @Body(new TypeBoxBodyPipe(CreateTriggerRequestSchema)) body: Static<typeof CreateTriggerRequestSchema>,
    @Ctx() ctx: RequestContext,
    @Res({ passthrough: true }) response: Response,
  ): Promise<TriggerView> {
    assertValidTriggerRequest(body);
    const { id, ...definition } = body;
    const triggerId = id ?? randomUUID();
    const outcome = await this.run({ type: 'DefineTrigger', data: { triggerId, ...definition } }, ctx);
    response.setHeader('Location', `/api/v1/triggers/${encodeURIComponent(triggerId)}`);
    return this.respond(outcome, response);
  }

  /** A new definition version; asking for the definition it already has changes nothing. */
  @Patch(':id')
  @ApiBody({ schema: openApi(ChangeTriggerRequestSchema) })
  @ApiHeader({ name: 'If-Match', required: false, description: 'ETag from a read; a mismatch is 412' })
  @ApiResponse({ status: 200, schema: openApi(TriggerViewSchema) })
  async change(
    @Param('id') triggerId: string,
    @Body(new TypeBoxBodyPipe(ChangeTriggerRequestSchema)) changes: Static<typeof ChangeTriggerRequestSchema>,
    @Headers('if-match') ifMatch: string | undefined,
    @Ctx() ctx: RequestContext,
    @Res({ passthrough: true }) response: Response,
  ): Promise<TriggerView> {
    assertValidTriggerRequest(changes);
    const outcome = await this.run({ type: 'ChangeTrigger', data: { triggerId, changes } }, ctx, expectedRevisionFrom(ifMatch));
    return this.respond(outcome, response);
  }

  @Post(':id/enable')
  @HttpCode(200)
  @ApiHeader({ name: 'If-Match', required: false, description: 'ETag from a read; a mismatch is 412' })
  @ApiResponse({ status: 200, schema: openApi(TriggerViewSchema) })
  async enable(@Param('id') triggerId: string, @Headers('if-match') ifMatch: string | undefined, @Ctx() ctx: RequestContext, @Res({ passthrough: true }) response: Response) {
    return this.respond(await this.run({ type: 'EnableTrigger', data: { triggerId } }, ctx, expectedRevisionFrom(ifMatch)), response);
  }

  @Post(':id/disable')
  @HttpCode(200)
  @ApiHeader({ name: 'If-Match', required: false, description: 'ETag from a read; a mismatch is 412' })
  @ApiResponse({ status: 200, schema: openApi(TriggerViewSchema) })
  async disable(@Param('id') triggerId: string, @Headers('if-match') ifMatch: string | undefined, @Ctx() ctx: RequestContext, @Res({ passthrough: true }) response: Response) {
    return this.respond(await this.run({ type: 'DisableTrigger', data: { triggerId } }, ctx, expectedRevisionFrom(ifMatch)), response);
  }

  /** Deletes the trigger for good: it never fires again; its history (and firings) stay. */
  @Delete(':id')
  @HttpCode(200)
  @ApiHeader({ name: 'If-Match', required: false, description: 'ETag from a read; a mismatch is 412' })
  @ApiResponse({ status: 200, schema: openApi(TriggerViewSchema) })
  async delete(@Param('id') triggerId: string, @Headers('if-match') ifMatch: string | undefined, @Ctx() ctx: RequestContext, @Res({ passthrough: true }) response: Response) {
    return this.respond(await this.run({ type: 'DeleteTrigger', data: { triggerId } }, ctx, expectedRevisionFrom(ifMatch)), response);
  }

  private async run(command: TriggerCommand, ctx: RequestContext, expectedRevision?: number): Promise<TriggerCommandOutcome> {
    const outcome = await this.commands.execute<TriggerCommandMessage, TriggerCommandOutcome>(new TriggerCommandMessage(command, commandContext(ctx), expectedRevision));
    await this.readYourWrites.waitFor(outcome.position, [TRIGGERS_PROJECTION]);
    return outcome;
  }

  private respond(outcome: TriggerCommandOutcome, response: Response): TriggerView {
    const view = triggerViewFromState(outcome.state, outcome.revision);
    if (!view) throw new HttpProblem(500, 'INTERNAL_ERROR', 'The trigger has no state after a successful command.');
    response.setHeader('ETag', etag(outcome.revision));
    return view;
  }
}
