import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'meridian:public';
/** Routes reachable without credentials: health probes, metrics, the OpenAPI document. */
export const Public = () => SetMetadata(IS_PUBLIC, true);
