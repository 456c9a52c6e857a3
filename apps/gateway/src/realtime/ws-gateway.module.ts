import { DynamicModule, Module } from '@nestjs/common';
import { RealtimeGateway } from './realtime.gateway';
import { DEFAULT_WS_GATEWAY_OPTIONS, WS_GATEWAY_OPTIONS, type WsGatewayOptions } from './ws-gateway.options';

/**
 * The WebSocket gateway at `/ws`. Needs API_KEY_SERVICE and EVENT_STORE (PlatformModule) and
 * REALTIME_FEED (RealtimeModule), and the app must use the plain-WebSocket adapter:
 * `app.useWebSocketAdapter(new WsAdapter(app))`.
 *
 * Import it as is for the defaults, or through `forRoot` to tune the limits.
 */
@Module({
  providers: [{ provide: WS_GATEWAY_OPTIONS, useValue: DEFAULT_WS_GATEWAY_OPTIONS }, RealtimeGateway],
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
