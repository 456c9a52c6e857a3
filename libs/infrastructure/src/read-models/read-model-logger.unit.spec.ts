import { toReadModelLogger } from './read-model-logger';

describe('toReadModelLogger', () => {
  it('calls a pino-like logger with the fields first and the message second', () => {
    const calls: unknown[][] = [];
    const logger = toReadModelLogger({
      info: (...args: unknown[]) => calls.push(['info', ...args]),
      warn: (...args: unknown[]) => calls.push(['warn', ...args]),
      error: (...args: unknown[]) => calls.push(['error', ...args]),
    });
    logger.info('projection switched', { projection: 'events' });
    logger.error('failed');
    expect(calls).toEqual([
      ['info', { projection: 'events' }, 'projection switched'],
      ['error', {}, 'failed'],
    ]);
  });

  it('calls a NestJS logger with one line holding the message and the fields', () => {
    const calls: unknown[][] = [];
    const logger = toReadModelLogger({
      log: (...args: unknown[]) => calls.push(['log', ...args]),
      warn: (...args: unknown[]) => calls.push(['warn', ...args]),
      error: (...args: unknown[]) => calls.push(['error', ...args]),
    });
    logger.info('projection switched', { projection: 'events' });
    logger.warn('slow');
    expect(calls).toEqual([
      ['log', 'projection switched {"projection":"events"}'],
      ['warn', 'slow'],
    ]);
  });

  it('is silent without a logger', () => {
    expect(() => toReadModelLogger(undefined).error('nothing', { a: 1 })).not.toThrow();
  });
});
