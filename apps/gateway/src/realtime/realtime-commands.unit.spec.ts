import { Logger } from '@nestjs/common';
import { notFound, validationFailed, type ConversationCommand } from '@meridian/domain';
import type { Principal } from '@meridian/infrastructure/auth/principal';
import { Roles } from '../auth/roles.decorator';
import type { ConversationCommandMessage, ConversationCommandOutcome } from '../conversations/commands/conversation-command.message';
import { ConversationRealtimeCommands, rolesRequiredBy } from './realtime-commands';

const viewer: Principal = { tenantId: 'acme', role: 'viewer', actor: { kind: 'api-key', id: 'key-viewer' } };
const admin: Principal = { tenantId: 'acme', role: 'admin', actor: { kind: 'api-key', id: 'key-admin' } };

/** The command bus as the handler answers it: records what it was asked, answers or fails as told. */
class ScriptedCommandBus {
  readonly executed: ConversationCommandMessage[] = [];
  constructor(private readonly answer: (message: ConversationCommandMessage) => ConversationCommandOutcome) {}

  async execute<C, R>(message: C): Promise<R> {
    const command = message as unknown as ConversationCommandMessage;
    this.executed.push(command);
    return this.answer(command) as unknown as R;
  }
}

const waited: number[] = [];
const readYourWrites = {
  waitFor: async (position: number) => {
    waited.push(position);
  },
};

const outcome = (position: number): ConversationCommandOutcome => ({ state: null, revision: 1, position });

describe('rolesRequiredBy', () => {
  @Roles('admin')
  class AdminOnly {
    open(): void {}
    @Roles('admin', 'operator')
    narrowed(): void {}
  }
  class Open {
    route(): void {}
  }

  it('reads the roles of the route, the method overriding the controller', () => {
    expect(rolesRequiredBy(AdminOnly, 'open')).toEqual(['admin']);
    expect(rolesRequiredBy(AdminOnly, 'narrowed')).toEqual(['admin', 'operator']);
    expect(rolesRequiredBy(Open, 'route')).toBeUndefined();
  });

  it('refuses a name that is no method, so a renamed route cannot silently drop its roles', () => {
    expect(() => rolesRequiredBy(Open, 'missing')).toThrow('is not a route handler');
  });
});

describe('ConversationRealtimeCommands', () => {
  beforeEach(() => {
    waited.length = 0;
  });

  it('posts the message as the principal, as the HTTP route does, and answers once the read model has it', async () => {
    const bus = new ScriptedCommandBus(() => outcome(42));
    const commands = new ConversationRealtimeCommands(bus, readYourWrites, { message: undefined, approval: undefined });

    const result = await commands.postMessage(admin, { conversationId: 'c-1', content: 'hello' });

    expect(result).toEqual({ ok: true, position: 42, messageId: expect.any(String), correlationId: expect.any(String) });
    if (!result.ok) throw new Error('expected success');
    expect(bus.executed).toHaveLength(1);
    const [{ command, context }] = bus.executed;
    expect(command).toEqual<ConversationCommand>({
      type: 'PostMessage',
      data: { conversationId: 'c-1', messageId: result.messageId, content: 'hello', author: { kind: 'user', id: 'key-admin' } },
    });
    expect(context).toMatchObject({ tenantId: 'acme', actor: admin.actor, correlationId: result.correlationId });
    expect(waited).toEqual([42]);
  });

  it('starts a new chain for every command', async () => {
    const bus = new ScriptedCommandBus(() => outcome(1));
    const commands = new ConversationRealtimeCommands(bus, readYourWrites, { message: undefined, approval: undefined });
    const first = await commands.postMessage(admin, { conversationId: 'c-1', content: 'one' });
    const second = await commands.resolveApproval(admin, { conversationId: 'c-1', approvalId: 'a-1', decision: 'approve' });
    if (!first.ok || !second.ok) throw new Error('expected success');
    expect(first.correlationId).not.toBe(second.correlationId);
  });

  it('refuses a role the route does not allow with FORBIDDEN, before anything is run', async () => {
    const bus = new ScriptedCommandBus(() => outcome(1));
    const commands = new ConversationRealtimeCommands(bus, readYourWrites, { message: ['admin', 'operator'], approval: ['admin'] });

    await expect(commands.postMessage(viewer, { conversationId: 'c-1', content: 'hi' })).resolves.toEqual({
      ok: false,
      code: 'FORBIDDEN',
      detail: 'This command needs one of the roles: admin, operator.',
    });
    await expect(commands.resolveApproval(viewer, { conversationId: 'c-1', approvalId: 'a-1', decision: 'reject' })).resolves.toMatchObject({ ok: false, code: 'FORBIDDEN' });
    expect(bus.executed).toEqual([]);
    await expect(commands.postMessage(admin, { conversationId: 'c-1', content: 'hi' })).resolves.toMatchObject({ ok: true });
  });

  it('answers domain failures with the codes of the HTTP API', async () => {
    const missing = new ConversationRealtimeCommands(
      new ScriptedCommandBus(() => {
        throw notFound('CONVERSATION_NOT_FOUND', 'Conversation c-9 does not exist');
      }),
      readYourWrites,
    );
    await expect(missing.postMessage(admin, { conversationId: 'c-9', content: 'hi' })).resolves.toEqual({
      ok: false,
      code: 'CONVERSATION_NOT_FOUND',
      detail: 'Conversation c-9 does not exist',
    });

    const invalid = new ConversationRealtimeCommands(
      new ScriptedCommandBus(() => {
        throw validationFailed([{ path: 'data.content', message: 'must not be blank' }]);
      }),
      readYourWrites,
    );
    await expect(invalid.postMessage(admin, { conversationId: 'c-1', content: 'x' })).resolves.toMatchObject({
      ok: false,
      code: 'VALIDATION_FAILED',
      errors: [{ path: '/data/content', message: 'must not be blank' }],
    });
    expect(waited).toEqual([]);
  });

  it('reveals nothing of an unexpected failure, and logs it', async () => {
    const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const broken = new ConversationRealtimeCommands(
      new ScriptedCommandBus(() => {
        throw new Error('database password is hunter2');
      }),
      readYourWrites,
    );
    const result = await broken.resolveApproval(admin, { conversationId: 'c-1', approvalId: 'a-1', decision: 'approve', comment: 'ok' });
    expect(result).toMatchObject({ ok: false, code: 'INTERNAL_ERROR' });
    expect(JSON.stringify(result)).not.toContain('hunter2');
    expect(logged).toHaveBeenCalledWith(expect.objectContaining({ err: expect.any(Error), tenantId: 'acme' }), 'WebSocket command failed');
    logged.mockRestore();
  });
});
