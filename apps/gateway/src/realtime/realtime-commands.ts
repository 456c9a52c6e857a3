import { Logger } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { CommandBus } from '@nestjs/cqrs';
import { randomUUID } from 'node:crypto';
import type { ApprovalDecision, ConversationCommand } from '@meridian/domain';
import type { Principal, Role } from '@meridian/infrastructure/auth/principal';
import type { ValidationIssue } from '@meridian/infrastructure/validation/schema-validator';
import { REQUIRED_ROLES } from '../auth/roles.decorator';
import { ConversationCommandMessage, type ConversationCommandOutcome } from '../conversations/commands/conversation-command.message';
import { CONVERSATIONS_PROJECTION, ConversationCommandsHttpController } from '../conversations/commands/conversation-commands.http.controller';
import { toProblem } from '../http/problem-details.filter';
import { HttpProblem } from '../http/problem-details';
import type { RequestContext } from '../http/request-context.decorator';
import { commandContext } from '../shared/aggregate-command';
import type { ReadYourWrites } from '../shared/read-your-writes';

/** The command side the WebSocket gateway writes through; absent when the app has none. */
export const REALTIME_COMMANDS = Symbol('RealtimeCommands');

export interface CommandFailure {
  readonly ok: false;
  /** The stable code the HTTP API answers the same failure with. */
  readonly code: string;
  readonly detail: string;
  readonly errors?: readonly ValidationIssue[];
}

export type CommandResult<T> = ({ readonly ok: true; readonly correlationId: string; readonly position: number } & T) | CommandFailure;

export interface RealtimeCommands {
  postMessage(principal: Principal, input: { conversationId: string; content: string }): Promise<CommandResult<{ messageId: string }>>;
  resolveApproval(
    principal: Principal,
    input: { conversationId: string; approvalId: string; decision: ApprovalDecision; comment?: string },
  ): Promise<CommandResult<Record<never, never>>>;
}

export interface RealtimeCommandRoles {
  readonly message: readonly Role[] | undefined;
  readonly approval: readonly Role[] | undefined;
}

const reflector = new Reflector();

/**
 * The roles the HTTP route requires (its `@Roles`, on the method or the controller), so a command
 * is allowed over the socket exactly when it is allowed over HTTP.
 */
export function rolesRequiredBy(controller: abstract new (...args: never[]) => unknown, method: string): readonly Role[] | undefined {
  const handler: unknown = (controller.prototype as Record<string, unknown>)[method];
  if (typeof handler !== 'function') throw new Error(`${controller.name}.${method} is not a route handler`);
  return reflector.getAllAndOverride<Role[] | undefined>(REQUIRED_ROLES, [handler, controller]);
}

/**
 * Conversation commands from WebSocket clients, run exactly as the HTTP routes run them: the same
 * CommandBus command (so the same decider and its checks), the connection's principal as the
 * author and actor, the HTTP route's roles, and an answer only once the conversations read model
 * has the write (bounded), so a client can read what was acknowledged. Failures carry the HTTP
 * API's stable codes.
 */
export class ConversationRealtimeCommands implements RealtimeCommands {
  private readonly logger = new Logger(ConversationRealtimeCommands.name);

  constructor(
    private readonly commands: Pick<CommandBus, 'execute'>,
    private readonly readYourWrites: Pick<ReadYourWrites, 'waitFor'>,
    /** Which roles may run each command (undefined: every role); the HTTP routes' by default. */
    private readonly roles: RealtimeCommandRoles = {
      message: rolesRequiredBy(ConversationCommandsHttpController, 'message'),
      approval: rolesRequiredBy(ConversationCommandsHttpController, 'resolveApproval'),
    },
  ) {}

  async postMessage(principal: Principal, input: { conversationId: string; content: string }): Promise<CommandResult<{ messageId: string }>> {
    const messageId = randomUUID();
    return this.run(principal, this.roles.message, (ctx) => ({
      type: 'PostMessage',
      data: { conversationId: input.conversationId, messageId, content: input.content, author: { kind: 'user', id: ctx.actor.id } },
    }), { messageId });
  }

  async resolveApproval(
    principal: Principal,
    input: { conversationId: string; approvalId: string; decision: ApprovalDecision; comment?: string },
  ): Promise<CommandResult<Record<never, never>>> {
    return this.run(principal, this.roles.approval, () => ({
      type: 'ResolveApproval',
      data: {
        conversationId: input.conversationId,
        approvalId: input.approvalId,
        decision: input.decision,
        ...(input.comment !== undefined ? { comment: input.comment } : {}),
      },
    }), {});
  }

  private async run<T extends object>(
    principal: Principal,
    roles: readonly Role[] | undefined,
    command: (ctx: RequestContext) => ConversationCommand,
    result: T,
  ): Promise<CommandResult<T>> {
    // Each command over the socket starts its own chain, as each HTTP request does.
    const ctx: RequestContext = { tenantId: principal.tenantId, actor: principal.actor, correlationId: randomUUID() };
    try {
      if (roles && !roles.includes(principal.role)) {
        throw new HttpProblem(403, 'FORBIDDEN', `This command needs one of the roles: ${roles.join(', ')}.`);
      }
      const outcome = await this.commands.execute<ConversationCommandMessage, ConversationCommandOutcome>(
        new ConversationCommandMessage(command(ctx), commandContext(ctx)),
      );
      await this.readYourWrites.waitFor(outcome.position, [CONVERSATIONS_PROJECTION]);
      return { ok: true, correlationId: ctx.correlationId, position: outcome.position, ...result };
    } catch (error: unknown) {
      const problem = toProblem(error, ctx.correlationId);
      if (problem.status >= 500) {
        this.logger.error({ err: error, tenantId: principal.tenantId, correlationId: ctx.correlationId }, 'WebSocket command failed');
      }
      return { ok: false, code: problem.code, detail: problem.detail, ...(problem.errors !== undefined ? { errors: problem.errors } : {}) };
    }
  }
}
