// What went wrong, in one shape: `{ code, message }` for every client mistake (the API's error body),
// every failed job (its status and webhook) and the CLI's output. The message says what to change.
import { z } from 'zod';

export const problemSchema = z.object({
  code: z
    .string()
    .describe('A stable, machine-readable code (snake_case)')
    .meta({ examples: ['invalid_request', 'dns_not_found'] }),
  message: z.string().describe('What happened and what to change'),
});
export type Problem = z.infer<typeof problemSchema>;

/** The body of every 4xx/5xx answer of the API. */
export const errorBodySchema = z.object({ error: problemSchema });
export type ErrorBody = z.infer<typeof errorBodySchema>;
