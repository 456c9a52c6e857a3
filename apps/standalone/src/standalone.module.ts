import { DynamicModule, Global, Module } from '@nestjs/common';
import type { MeridianConfig } from '@meridian/infrastructure/config/meridian-config';
import { PlatformModule, type AdminKeySink } from '@meridian/infrastructure/platform/platform.module';
import { ReadModelsModule } from '@meridian/infrastructure/read-models';
import { MetricsModule } from '@meridian/infrastructure/metrics';
import { DEAD_LETTERS, NoDeadLetters } from '@meridian/infrastructure/kafka/dead-letters.service';
import { RealtimeModule } from '@meridian/infrastructure/realtime/realtime.module';
import { GatewayModule } from '../../gateway/src/gateway.module';
import { ProjectorModule } from '../../projector/src/projector.module';
import { RuntimeModule } from '../../runtime/src/runtime.module';

/** No Kafka in one process, hence no dead letters. */
@Global()
@Module({ providers: [{ provide: DEAD_LETTERS, useClass: NoDeadLetters }], exports: [DEAD_LETTERS] })
class StandaloneDeadLettersModule {}

/** Gateway, runtime and projector in one process, on the embedded defaults unless configured otherwise. */
@Module({})
export class StandaloneModule {
  static forRoot(config: MeridianConfig, options: { adminKeySink?: AdminKeySink } = {}): DynamicModule {
    return {
      module: StandaloneModule,
      imports: [
        PlatformModule.forRoot(config, options),
        ReadModelsModule.forRoot({ database: config.readModels.kind === 'sqlite' ? { type: 'sqlite', path: config.readModels.path } : { type: 'postgres', url: config.readModels.url, schema: config.readModels.schema } }),
        RuntimeModule.standalone(),
        ProjectorModule,
        RealtimeModule,
        StandaloneDeadLettersModule,
        GatewayModule,
        MetricsModule.forRoot({ runtime: true }),
      ],
    };
  }
}
