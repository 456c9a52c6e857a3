import { Module } from '@nestjs/common';
import { GatewaySharedModule } from '../shared/gateway-shared.module';
import { GetChainHttpController } from './get-chain.http.controller';
import { GetChainHandler } from './get-chain.query';

/** Chains over HTTP (API.md "Chains"). */
@Module({
  imports: [GatewaySharedModule],
  controllers: [GetChainHttpController],
  providers: [GetChainHandler],
})
export class ChainsHttpModule {}
