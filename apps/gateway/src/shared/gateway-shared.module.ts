import { Module } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { ReadYourWrites } from './read-your-writes';

/** What every API slice module uses: the command bus and read-your-writes. */
@Module({
  imports: [CqrsModule],
  providers: [ReadYourWrites],
  exports: [CqrsModule, ReadYourWrites],
})
export class GatewaySharedModule {}
