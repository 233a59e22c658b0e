// `npx url2png mcp`, as an MCP client runs it: the SDK's own Client over StdioClientTransport
// starting bin/url2png.js, against a local stack over HTTP and on its own (the pipeline in-process).
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import { decodePng, near } from '../support/images.js';
import { html, servePages, type PageServer } from '../../fixtures/pages.js';
import { postScreenshot, startTestStack, waitForSettled } from '../support/stack.js';
import { closedPort, ROOT } from './support.js';

let pages: PageServer;
let stack: LocalStack;
const clients: Client[] = [];

beforeAll(async () => {
  pages = await servePages({
    '/split': html(
      '<div style="display:flex;height:100vh"><div style="flex:1;background:#c00"></div><div style="flex:1;background:#00c"></div></div>',
    ),
    '/green': html('<div style="height:100vh;background:#0a0"></div>'),
    '/green-dot': html('<div style="height:100vh;background:#0a0"><div style="width:40px;height:40px;background:#fff"></div></div>'),
  });
  stack = await startTestStack({ allow: [pages.hostPort] });
  // The first job launches Chromium (seconds on a loaded machine): not what these tests are about.
  const { json } = await postScreenshot(stack.apiUrl, { url: `${pages.origin}/green`, width: 320, height: 200 });
  await waitForSettled(String(json.statusUrl), 60_000);
}, 90_000);

afterAll(async () => {
  for (const client of clients) await client.close().catch(() => undefined);
  await stack?.stop();
  await pages?.close();
});

async function connect(args: string[], env: Record<string, string> = {}): Promise<Client> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ['bin/url2png.js', 'mcp', ...args],
    cwd: ROOT,
    env: { ...(process.env as Record<string, string>), URL2PNG_ENDPOINT: '', ...env },
    stderr: 'pipe',
  });
  const client = new Client({ name: 'url2png-test', version: '1.0.0' });
  await client.connect(transport);
  clients.push(client);
  return client;
}

const imagesOf = (result: CallToolResult) => result.content.filter((c) => c.type === 'image');
const textOf = (result: CallToolResult) =>
  result.content
    .filter((c) => c.type === 'text')
    .map((c) => c.text)
    .join('\n');
const pixelsOf = (image: { data: string }) => decodePng(Buffer.from(image.data, 'base64'));

describe('url2png mcp against a running service', () => {
  let client: Client;
  beforeAll(async () => {
    client = await connect(['--endpoint', stack.apiUrl]);
  });

  it('lists its tools, the screenshot tool taking the request schema', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([
      'batch_screenshots',
      'compare_screenshots',
      'list_devices',
      'screenshot',
      'verify_receipt',
    ]);
    const screenshot = tools.find((t) => t.name === 'screenshot')!;
    expect(Object.keys(screenshot.inputSchema.properties ?? {})).toEqual(
      expect.arrayContaining(['url', 'html', 'width', 'fullPage', 'device']),
    );
  });

  it('screenshot returns the image inline (pixels checked) and its status', async () => {
    const result = (await client.callTool({
      name: 'screenshot',
      arguments: { url: `${pages.origin}/split`, width: 400, height: 200 },
    })) as CallToolResult;
    expect(result.isError).toBeFalsy();
    const [image] = imagesOf(result);
    expect(image).toMatchObject({ type: 'image', mimeType: 'image/png' });
    const pixels = pixelsOf(image as { data: string });
    expect([pixels.width, pixels.height]).toEqual([400, 200]);
    expect(near(pixels.at(100, 100), [0xcc, 0, 0])).toBe(true);
    expect(near(pixels.at(300, 100), [0, 0, 0xcc])).toBe(true);
    expect(JSON.parse(textOf(result))).toMatchObject({ status: 'done', contentType: 'image/png', url: `${pages.origin}/split` });
  });

  it("a request the service refuses comes back as the tool's error, with the service's message", async () => {
    const result = (await client.callTool({
      name: 'screenshot',
      arguments: { url: `${pages.origin}/split`, width: 10 },
    })) as CallToolResult;
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/width must be at least 320/);
  });

  it('batch, compare, verify_receipt and list_devices work end to end', async () => {
    const batch = (await client.callTool({
      name: 'batch_screenshots',
      arguments: {
        requests: [
          { url: `${pages.origin}/green`, width: 320, height: 200 },
          { url: `${pages.origin}/split`, width: 320, height: 200 },
        ],
      },
    })) as CallToolResult;
    expect(batch.isError).toBeFalsy();
    const batchImages = imagesOf(batch) as Array<{ data: string }>;
    expect(batchImages).toHaveLength(2);
    expect(near(pixelsOf(batchImages[0]!).at(160, 100), [0, 0xaa, 0])).toBe(true);

    const compare = (await client.callTool({
      name: 'compare_screenshots',
      arguments: {
        baseline: { url: `${pages.origin}/green`, width: 320, height: 200 },
        current: { url: `${pages.origin}/green-dot`, width: 320, height: 200 },
      },
    })) as CallToolResult;
    expect(compare.isError).toBeFalsy();
    expect(textOf(compare)).toMatch(/^1600 of 64000 pixels changed/m);
    const [diffImage, currentImage] = imagesOf(compare) as Array<{ data: string }>;
    expect(pixelsOf(diffImage!).width).toBe(320);
    expect(near(pixelsOf(currentImage!).at(20, 20), [0xff, 0xff, 0xff])).toBe(true);

    const id = (
      JSON.parse(
        textOf(
          (await client.callTool({
            name: 'screenshot',
            arguments: { url: `${pages.origin}/green`, width: 320, height: 200 },
          })) as CallToolResult,
        ),
      ) as { id: string }
    ).id;
    const verified = (await client.callTool({ name: 'verify_receipt', arguments: { id } })) as CallToolResult;
    expect(verified.isError).toBeFalsy();
    expect(JSON.parse(textOf(verified))).toMatchObject({ ok: true, receipt: { jobId: id } });

    const devices = (await client.callTool({ name: 'list_devices', arguments: {} })) as CallToolResult;
    expect(JSON.parse(textOf(devices))).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'iPhone 15' })]));
  });
});

describe('url2png mcp with no service answering', () => {
  it('runs the pipeline in its own process and still returns the image', async () => {
    const client = await connect(['--endpoint', `http://127.0.0.1:${await closedPort()}`], { URL2PNG_EGRESS_ALLOW: pages.hostPort });
    const result = (await client.callTool(
      { name: 'screenshot', arguments: { url: `${pages.origin}/split`, width: 320, height: 200 } },
      undefined,
      { timeout: 120_000 },
    )) as CallToolResult;
    expect(result.isError, textOf(result)).toBeFalsy();
    const pixels = pixelsOf(imagesOf(result)[0] as { data: string });
    expect(near(pixels.at(60, 100), [0xcc, 0, 0])).toBe(true);
    await client.close();
  }, 150_000);
});
