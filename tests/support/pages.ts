// Real pages on 127.0.0.1 for the browser to render, with a count of every request they get.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type PageHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export interface PageServer {
  origin: string;
  /** host:port, the form URL2PNG_EGRESS_ALLOW takes. */
  hostPort: string;
  port: number;
  /** Requests received per path. */
  hits: Map<string, number>;
  close(): Promise<void>;
}

export const html = (body: string, head = '') =>
  `<!doctype html><html><head><meta charset="utf-8">${head}</head><body style="margin:0">${body}</body></html>`;

export async function servePages(routes: Record<string, string | PageHandler>): Promise<PageServer> {
  const hits = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const route = routes[path];
    if (route === undefined) {
      res.writeHead(404, { 'content-type': 'text/html' }).end(html('<h1>not found</h1>'));
    } else if (typeof route === 'string') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(route);
    } else {
      route(req, res);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    origin: `http://127.0.0.1:${port}`,
    hostPort: `127.0.0.1:${port}`,
    port,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A server that takes the request and never answers (no status line): nothing to capture, so the
 * job runs into its render deadline (a page that answered but never finishes loading is captured
 * at the load deadline instead: see neverLoadingPage).
 */
export const hangingPage: PageHandler = () => undefined;

/** A page whose response never ends, so `load` never fires: captured as it stands at the load deadline. */
export const neverLoadingPage: PageHandler = (_req, res) => {
  res.writeHead(200, { 'content-type': 'text/html' });
  res.write('<!doctype html><html><body style="margin:0"><h1>still loading</h1>');
};
