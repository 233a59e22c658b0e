// The API's JSON answers: jsonResponse() for every route, and every error in the contract's shape,
// { error: { code, message } } with a JSON content type (ApiError to throw one, jsonErrors to catch all).
import type middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type { ErrorBody, Problem } from '../../lib/contract/problem.js';

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const jsonResponse = (statusCode: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyResult => ({
  statusCode,
  headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  body: JSON.stringify(body),
});

const errorResponse = (statusCode: number, error: Problem) => jsonResponse(statusCode, { error } satisfies ErrorBody);

// What middy's own http middlewares throw, said so that the client knows what to change.
function fromMiddyError(error: { statusCode: number; message: string }): ApiError {
  switch (error.statusCode) {
    case 415:
      return new ApiError(415, 'unsupported_media_type', 'send the body as JSON with the header Content-Type: application/json');
    case 422:
      return error.message.startsWith('Forbidden key')
        ? new ApiError(400, 'invalid_request', 'the body contains a forbidden key (__proto__ or constructor.prototype); remove it')
        : new ApiError(400, 'invalid_json', 'the body is not valid JSON; send an object like {"url": "https://example.com"}');
    case 404:
      return new ApiError(404, 'not_found', 'no such route; see GET /openapi.json for the routes');
    default:
      return new ApiError(error.statusCode, 'bad_request', error.message);
  }
}

/** Turns every error into the contract's JSON shape; client mistakes stay 4xx, the rest is a 500. */
export const jsonErrors = (
  log: (message: string, error: unknown) => void,
): middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> => ({
  onError: async (request) => {
    const error = request.error as (Error & { statusCode?: number }) | null;
    let apiError: ApiError;
    if (error instanceof ApiError) apiError = error;
    else if (error && typeof error.statusCode === 'number' && error.statusCode < 500)
      apiError = fromMiddyError(error as { statusCode: number; message: string });
    else {
      log('unhandled error', error);
      apiError = new ApiError(500, 'internal_error', 'the service failed to handle the request; try again');
    }
    request.response = errorResponse(apiError.statusCode, { code: apiError.code, message: apiError.message });
  },
});
