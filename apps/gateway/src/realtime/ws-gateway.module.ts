import { DynamicModule, Module } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { MERIDIAN_CONFIG, type MeridianConfig } from '@meridian/infrastructure/config/meridian-config';
import { PROJECTION_MANAGER, type ProjectionManager } from '@meridian/infrastructure/read-models';
import { ReadYourWrites } from '../shared/read-your-writes';
import { ConversationRealtimeCommands, REALTIME_COMMANDS } from './realtime-commands';
import { RealtimeGateway } from './realtime.gateway';
import { DEFAULT_WS_GATEWAY_OPTIONS, WS_GATEWAY_OPTIONS, type WsGatewayOptions } from './ws-gateway.options';

/**
 * The WebSocket gateway at `/ws`. Needs API_KEY_SERVICE and EVENT_STORE (PlatformModule) and
 * REALTIME_FEED (RealtimeModule), and the app must use the plain-WebSocket adapter:
 * `app.useWebSocketAdapter(new WsAdapter(app))`.
 *
 * The `message` and `approval` commands are taken when the app has the command side (a global
 * CommandBus with the conversation handler, and the read models for read-your-writes); tokens are
 * streamed when the runtime's TOKEN_STREAM is in the app. Without them the gateway only serves
 * subscriptions.
 *
 * Import it as is for the defaults, or through `forRoot` to tune the limits.
 */
@Module({
  providers: [
    { provide: WS_GATEWAY_OPTIONS, useValue: DEFAULT_WS_GATEWAY_OPTIONS },
    {
      provide: REALTIME_COMMANDS,
      useFactory: (commands?: CommandBus, projections?: ProjectionManager, config?: MeridianConfig) =>
        commands && projections && config ? new ConversationRealtimeCommands(commands, new ReadYourWrites(projections, config)) : null,
      inject: [
        { token: CommandBus, optional: true },
        { token: PROJECTION_MANAGER, optional: true },
        { token: MERIDIAN_CONFIG, optional: true },
      ],
    },
    RealtimeGateway,
  ],
  exports: [RealtimeGateway],
})
export class WsGatewayModule {
  static forRoot(options: Partial<WsGatewayOptions> = {}): DynamicModule {
    // A dynamic module's providers are added after the decorator's; for the same token the later
    // one wins, so this replaces the default options and keeps the gateway.
    return {
      module: WsGatewayModule,
      providers: [{ provide: WS_GATEWAY_OPTIONS, useValue: { ...DEFAULT_WS_GATEWAY_OPTIONS, ...options } }],
    };
  }
}
