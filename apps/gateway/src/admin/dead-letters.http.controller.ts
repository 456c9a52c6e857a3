import { Controller, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { Type, type Static } from '@sinclair/typebox';
import { DEAD_LETTERS, type DeadLettersPort } from '@meridian/infrastructure/kafka/dead-letters.service';
import type { DeadLetter } from '@meridian/infrastructure/kafka/dead-letter.store';
import { Roles } from '../auth/roles.decorator';
import { TypeBoxQueryPipe } from '../http/typebox.pipe';

const DeadLettersQuerySchema = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false },
);

/** Messages a Kafka consumer gave up on (distributed mode), with their error; a retry replays one. */
@ApiTags('operations')
@Roles('admin', 'operator')
@Controller('api/v1/admin/dead-letters')
export class DeadLettersHttpController {
  constructor(@Inject(DEAD_LETTERS) private readonly deadLetters: DeadLettersPort) {}

  @Get()
  list(@Query(new TypeBoxQueryPipe(DeadLettersQuerySchema)) query: Static<typeof DeadLettersQuerySchema>): Promise<{ items: DeadLetter[]; nextCursor: string | null }> {
    return this.deadLetters.list({ limit: query.limit ?? 50, ...(query.cursor !== undefined && { after: query.cursor }) });
  }

  /** Produces the original message to its original topic again; 202 once the broker has it. */
  @Post(':id/retry')
  @HttpCode(202)
  retry(@Param('id') id: string): Promise<DeadLetter> {
    return this.deadLetters.retry(id);
  }
}
