import type { ValidationIssue } from '@meridian/infrastructure/validation/schema-validator';

/** RFC 9457 problem details, with Meridian's stable `code` and the request's correlation id. */
export interface ProblemDetails {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly code: string;
  readonly correlationId: string;
  readonly errors?: readonly ValidationIssue[];
  readonly [extension: string]: unknown;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  410: 'Gone',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  428: 'Precondition Required',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function problem(
  status: number,
  code: string,
  detail: string,
  correlationId: string,
  extra: { errors?: readonly ValidationIssue[]; [extension: string]: unknown } = {},
): ProblemDetails {
  return {
    type: `https://meridian.dev/problems/${code.toLowerCase().replace(/_/g, '-')}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    code,
    correlationId,
    ...extra,
  };
}

/** An error the HTTP layer raises itself (bad headers, body limits…), rendered as problem+json. */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
    readonly extra: { errors?: readonly ValidationIssue[]; [extension: string]: unknown } = {},
  ) {
    super(detail);
    this.name = 'HttpProblem';
  }
}
