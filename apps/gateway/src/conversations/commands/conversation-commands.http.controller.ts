import { Body, Controller, Headers, HttpCode, Param, Post, Res } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBody, ApiHeader, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Static } from '@sinclair/typebox';
import type { Response } from 'express';
import { randomUUID } from 'node:crypto';
import type { ConversationCommand } from '@meridian/domain';
import { Ctx, type RequestContext } from '../../http/request-context.decorator';
import { TypeBoxBodyPipe } from '../../http/typebox.pipe';
import { HttpProblem } from '../../http/problem-details';
import { openApi } from '../../http/openapi-schema';
import { commandContext, etag, expectedRevisionFrom } from '../../shared/aggregate-command';
import { ReadYourWrites } from '../../shared/read-your-writes';
import {
  PostConversationMessageRequestSchema,
  PostedConversationMessageSchema,
  ResolveApprovalRequestSchema,
  StartConversationRequestSchema,
} from '../conversation.schema';
import { conversationViewFromState, ConversationViewSchema, type ConversationView } from '../conversation.view';
import { ConversationCommandMessage, type ConversationCommandOutcome } from './conversation-command.message';

/** The read model every conversation command waits for before answering. */
export const CONVERSATIONS_PROJECTION = 'conversations';

/**
 * Conversation commands: start one with agents, post a person's message, decide on an approval an
 * agent asked for. Each answers once the conversations read model has caught up with the write
 * (bounded wait), so a client can read what it just wrote. Unknown conversations are 404
 * CONVERSATION_NOT_FOUND, unknown approvals 404 APPROVAL_NOT_FOUND (both from the decider).
 */
@ApiTags('conversations')
@Controller('api/v1/conversations')
export class ConversationCommandsHttpController {
  constructor(
    private readonly commands: CommandBus,
    private readonly readYourWrites: ReadYourWrites,
  ) {}

  /** Starts a conversation; every agent in `agentIds` must exist and not be retired (422 otherwise). */
  @Post()
  @HttpCode(201)
  @ApiBody({ schema: openApi(StartConversationRequestSchema) })
  @ApiHeader({ name: 'Idempotency-Key', required: false })
  @ApiResponse({ status: 201, schema: openApi(ConversationViewSchema) })
  async start(
    @Body(new TypeBoxBodyPipe(StartConversationRequestSchema)) body: Static<typeof StartConversationRequestSchema>,
    @Ctx() ctx: RequestContext,
    @Res({ passthrough: true }) response: Response,
  ): Promise<ConversationView> {
    const conversationId = body.id ?? randomUUID();
    const outcome = await this.run(
      { type: 'StartConversation', data: { conversationId, agentIds: body.agentIds, ...(body.title !== undefined ? { title: body.title } : {}) } },
      ctx,
    );
    response.setHeader('Location', `/api/v1/conversations/${encodeURIComponent(conversationId)}`);
    return this.respond(outcome, response);
  }

  /** A person's message; participating agents answer asynchronously (stored, and streamed over WebSocket). */
  @Post(':id/messages')
  @HttpCode(202)
  @ApiBody({ schema: openApi(PostConversationMessageRequestSchema) })
  @ApiHeader({ name: 'Idempotency-Key', required: false })
  @ApiResponse({ status: 202, schema: openApi(PostedConversationMessageSchema) })
  async message(
    @Param('id') conversationId: string,
    @Body(new TypeBoxBodyPipe(PostConversationMessageRequestSchema)) body: Static<typeof PostConversationMessageRequestSchema>,
    @Ctx() ctx: RequestContext,
  ): Promise<{ messageId: string; position: number }> {
    const messageId = randomUUID();
    const outcome = await this.run(
      { type: 'PostMessage', data: { conversationId, messageId, content: body.content, author: { kind: 'user', id: ctx.actor.id } } },
      ctx,
    );
    return { messageId, position: outcome.position };
  }

  /** Approves or rejects an action an agent proposed; the decision is recorded once (409 APPROVAL_ALREADY_RESOLVED after). */
  @Post(':id/approvals/:approvalId')
  @HttpCode(200)
  @ApiBody({ schema: openApi(ResolveApprovalRequestSchema) })
  @ApiHeader({ name: 'If-Match', required: false, description: 'ETag from a read; a mismatch is 412' })
  @ApiResponse({ status: 200, schema: openApi(ConversationViewSchema) })
  async resolveApproval(
    @Param('id') conversationId: string,
    @Param('approvalId') approvalId: string,
    @Body(new TypeBoxBodyPipe(ResolveApprovalRequestSchema)) body: Static<typeof ResolveApprovalRequestSchema>,
    @Headers('if-match') ifMatch: string | undefined,
    @Ctx() ctx: RequestContext,
    @Res({ passthrough: true }) response: Response,
  ): Promise<ConversationView> {
    const outcome = await this.run(
      {
        type: 'ResolveApproval',
        data: { conversationId, approvalId, decision: body.decision, ...(body.comment !== undefined ? { comment: body.comment } : {}) },
      },
      ctx,
      expectedRevisionFrom(ifMatch),
    );
    return this.respond(outcome, response);
  }

  private async run(command: ConversationCommand, ctx: RequestContext, expectedRevision?: number): Promise<ConversationCommandOutcome> {
    const outcome = await this.commands.execute<ConversationCommandMessage, ConversationCommandOutcome>(
      new ConversationCommandMessage(command, commandContext(ctx), expectedRevision),
    );
    await this.readYourWrites.waitFor(outcome.position, [CONVERSATIONS_PROJECTION]);
    return outcome;
  }

  private respond(outcome: ConversationCommandOutcome, response: Response): ConversationView {
    const view = conversationViewFromState(outcome.state, outcome.revision);
    if (!view) throw new HttpProblem(500, 'INTERNAL_ERROR', 'The conversation has no state after a successful command.');
    response.setHeader('ETag', etag(outcome.revision));
    return view;
  }
}
