import { describe, expect, it } from 'vitest';
import { classifyFailure, PermanentFailure, TransientFailure } from '../../lib/contract/failures.js';

const named = (name: string, message: string) => Object.assign(new Error(message), { name });

describe('failure classification', () => {
  it.each([
    [new PermanentFailure('url_refused', 'no'), 'permanent', 'url_refused'],
    [new TransientFailure('render_timeout', 'slow'), 'transient', 'render_timeout'],
    [new Error('net::ERR_NAME_NOT_RESOLVED at https://nope.invalid'), 'permanent', 'dns_not_found'],
    [new Error('net::ERR_BLOCKED_BY_CLIENT at file:///etc/passwd'), 'permanent', 'url_refused'],
    [new Error('net::ERR_CONNECTION_REFUSED at http://x'), 'transient', 'page_unreachable'],
    [new Error('net::ERR_TUNNEL_CONNECTION_FAILED at https://x'), 'transient', 'page_unreachable'],
    [new Error('Navigating frame was detached'), 'transient', 'browser_crashed'],
    [named('TimeoutError', 'Navigation timeout of 100 ms exceeded'), 'transient', 'render_timeout'],
    [named('ProtocolError', 'Protocol error (Page.captureScreenshot): Target closed'), 'transient', 'browser_crashed'],
    [named('SlowDown', 'Please reduce your request rate'), 'transient', 'aws_throttled'],
    [named('ServiceUnavailable', 'try later'), 'transient', 'aws_unavailable'],
    [new Error('something nobody expected'), 'transient', 'internal_error'],
    ['a thrown string', 'transient', 'internal_error'],
  ])('%s -> %s %s', (error, kind, code) => {
    expect(classifyFailure(error)).toMatchObject({ kind, code });
  });
});
