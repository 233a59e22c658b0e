// Polling for a condition in tests: the one wait that fails loudly instead of sleeping a guess.

/** Polls `probe` until `ok` holds and answers that value; throws when it does not within `timeoutMs`. */
export async function eventually<T>(probe: () => T | Promise<T>, ok: (v: T) => boolean, timeoutMs = 5000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    // Failing here, not returning the last value: a caller that forgets to check must not pass.
    if (Date.now() > until) throw new Error(`eventually: not met within ${timeoutMs} ms; last value: ${JSON.stringify(v)?.slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
