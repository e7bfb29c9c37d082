/**
 * A front for a fake provider that notes when each request arrives, on a thread of its own.
 *
 * A fake in the test process stamps a request when its event loop gets to it; on a busy machine
 * (the loaded distributed test) that loop is late by tens to hundreds of ms, so requests that
 * arrived apart get stamped together and the fake counts a burst no real provider would see.
 * The front's thread does nothing else: it stamps each request as it arrives (headers parsed),
 * adds the time as `X-Arrived-At` (ms since the epoch), and passes the request and its answer
 * through unchanged (a reset or a cut answer stays one). Fakes that read the header
 * (`arrivedAt`) count their limits by it.
 */
import { Worker } from 'node:worker_threads';
import type { IncomingMessage } from 'node:http';

export interface ArrivalFront {
  /** Base URL to point the client at, instead of the fake's. */
  readonly url: string;
  close(): Promise<void>;
}

/** The header a front adds. */
export const ARRIVED_AT_HEADER = 'x-arrived-at';

/** When the request arrived at the front, or undefined when it did not come through one. */
export function arrivedAt(req: IncomingMessage): number | undefined {
  const v = Number(req.headers[ARRIVED_AT_HEADER]);
  return Number.isFinite(v) && v > 0 ? v : undefined;
}

// Plain JavaScript, run by the thread as is.
const FRONT = `
const http = require('node:http');
const { parentPort, workerData } = require('node:worker_threads');
const target = new URL(workerData.target);
const agent = new http.Agent({ keepAlive: true });
const server = http.createServer((req, res) => {
  const arrived = performance.timeOrigin + performance.now();
  const headers = { ...req.headers, '${ARRIVED_AT_HEADER}': String(arrived) };
  const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent }, (answer) => {
    res.writeHead(answer.statusCode, answer.headers);
    answer.pipe(res);
    answer.on('close', () => { if (!answer.complete) res.destroy(); });
    answer.on('error', () => res.destroy());
  });
  up.on('error', () => res.destroy());
  req.pipe(up);
  res.on('close', () => { if (!res.writableFinished) up.destroy(); });
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
parentPort.on('message', () => {
  server.closeAllConnections();
  server.close(() => { agent.destroy(); parentPort.close(); });
});
`;

/** Starts a front on 127.0.0.1 for the fake at `target` (its base URL). */
export async function startArrivalFront(target: string): Promise<ArrivalFront> {
  const worker = new Worker(FRONT, { eval: true, workerData: { target } });
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('message', (m: { port: number }) => resolve(m.port));
    worker.once('error', reject);
  });
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      const exited = new Promise<void>((r) => worker.once('exit', () => r()));
      worker.postMessage('close');
      await Promise.race([exited, new Promise<void>((r) => setTimeout(r, 2000).unref())]);
      await worker.terminate();
    },
  };
}
