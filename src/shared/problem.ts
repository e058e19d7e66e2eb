import { STATUS_CODES } from 'node:http';
import { HttpResponseInit } from '@azure/functions';

/** One invalid input: `field` is where it came from (`body.quantity`, `query.limit`, `header.If-Match`). */
export interface FieldError {
  field: string;
  message: string;
}

/**
 * Problem details (RFC 9457), the body of every error answer, as `application/problem+json`.
 * `type` is a relative URI naming the kind of problem; `errors` lists each invalid field.
 */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

export const problemContentType = 'application/problem+json';

/** RFC 9110 reason phrases where Node's older names differ (413, 422); any other status takes Node's. */
const titles: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  428: 'Precondition Required',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function problem(
  status: number,
  type: string,
  detail: string,
  extra: Partial<ProblemDetails> = {},
): HttpResponseInit {
  const body: ProblemDetails = {
    type: `/problems/${type}`,
    title: titles[status] ?? STATUS_CODES[status] ?? 'Error',
    status,
    detail,
    ...extra,
  };
  return { status, jsonBody: body, headers: { 'content-type': problemContentType } };
}

/** 400 naming every invalid field; `detail` names the first so a person sees it at once. */
export function validationProblem(errors: FieldError[]): HttpResponseInit {
  const first = errors[0];
  return problem(400, 'validation', `${first.field}: ${first.message}`, { errors });
}
