// Refuses request bodies larger than the API accepts, before anything parses them (413, in the
// contract's JSON error shape).
import type middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { ApiError } from './json.js';

/** Refuses bodies larger than `maxBytes` before anything parses them. */
export const bodyLimit = (maxBytes: number): middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> => ({
  before: async (request) => {
    const { body, isBase64Encoded } = request.event;
    if (body == null) return;
    const size = isBase64Encoded ? Math.floor((body.length * 3) / 4) : Buffer.byteLength(body);
    if (size > maxBytes) {
      throw new ApiError(413, 'body_too_large', `the body is ${size} bytes; send at most ${maxBytes} bytes`);
    }
  },
});
