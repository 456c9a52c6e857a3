/**
 * Typed domain errors with stable codes. The HTTP layer maps `kind` to a status; the code is
 * part of the external contract (API.md) and must never change meaning.
 */
export type DomainErrorKind = 'validation' | 'not-found' | 'conflict' | 'gone' | 'forbidden' | 'unprocessable';

export class DomainError extends Error {
  constructor(
    readonly code: string,
    readonly kind: DomainErrorKind,
    message: string,
    readonly details?: Readonly<Record<string, unknown>>,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const notFound = (code: string, message: string, details?: Record<string, unknown>) =>
  new DomainError(code, 'not-found', message, details);
export const invalid = (code: string, message: string, details?: Record<string, unknown>) =>
  new DomainError(code, 'validation', message, details);
export const conflict = (code: string, message: string, details?: Record<string, unknown>) =>
  new DomainError(code, 'conflict', message, details);
export const unprocessable = (code: string, message: string, details?: Record<string, unknown>) =>
  new DomainError(code, 'unprocessable', message, details);
