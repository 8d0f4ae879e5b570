// A small HTTP service that runs untrusted handlers in a pool of micro-VMs: what
// docs/deploying.md puts in a container. Endpoints:
//   GET  /healthz  liveness: the process answers
//   GET  /readyz   readiness: checkHypervisor() says micro-VMs can run, and the pool is up
//   POST /run      runs the `transform` handler on the JSON body, under the pool's limits
//   GET  /metrics  Prometheus text: pool size, busy, queued, calls, failures, terminations
// Listens on HOST:PORT (default 127.0.0.1:8080). Stops cleanly on SIGTERM (drains the pool).
import { createServer } from 'node:http';
import { checkHypervisor } from '@hyperlight/js-host-api';
import { anyOf, cpuTime, wallClock } from '@hyperlight/monitors';
import { createPool, defineSandbox } from '@hyperlight/sandbox';

const host = process.env.HOST ?? '127.0.0.1';
const port = Number(process.env.PORT ?? 8080);
const size = Number(process.env.POOL_SIZE ?? 4);

const check = checkHypervisor();
let pool;
let terminations = 0;
if (check.ok) {
  const definition = defineSandbox({
    handlers: {
      transform: `function handler(event) {
        return { words: String(event.text ?? '').split(/\\s+/).filter(Boolean).length,
                 upper: String(event.text ?? '').toUpperCase() };
      }`,
    },
    limits: anyOf(wallClock(1000), cpuTime(100)),
  });
  pool = await createPool(definition, {
    size,
    maxQueue: 256,
    queueTimeoutMs: 5000,
    hooks: {
      onTermination: () => {
        terminations++;
      },
    },
  });
}

function send(res, status, body, type = 'application/json') {
  res.writeHead(status, { 'content-type': type });
  res.end(type === 'application/json' ? JSON.stringify(body) : body);
}

const server = createServer(async (req, res) => {
  if (req.method === 'GET' && req.url === '/healthz') return send(res, 200, { ok: true });
  if (req.method === 'GET' && req.url === '/readyz') {
    return check.ok && pool
      ? send(res, 200, { ok: true, kvm: check.kvm })
      : send(res, 503, { ok: false, problem: check.problem, whatToDo: check.whatToDo });
  }
  if (req.method === 'GET' && req.url === '/metrics') {
    if (!pool) return send(res, 503, '', 'text/plain');
    const s = pool.stats;
    const lines = [
      `hyperlight_pool_size ${s.size}`,
      `hyperlight_pool_busy ${s.busy}`,
      `hyperlight_pool_queued ${s.queued}`,
      `hyperlight_pool_calls_total ${s.calls}`,
      `hyperlight_pool_failures_total ${s.failures}`,
      `hyperlight_monitor_terminations_total ${terminations}`,
    ];
    return send(res, 200, `${lines.join('\n')}\n`, 'text/plain; version=0.0.4');
  }
  if (req.method === 'POST' && req.url === '/run') {
    if (!pool) return send(res, 503, { error: 'no hypervisor' });
    let body = '';
    for await (const chunk of req) {
      body += chunk;
      if (body.length > 1 << 20) return send(res, 413, { error: 'body larger than 1 MiB' });
    }
    let event;
    try {
      event = JSON.parse(body || '{}');
    } catch {
      return send(res, 400, { error: 'the body is not JSON' });
    }
    try {
      return send(res, 200, await pool.call('transform', event));
    } catch (e) {
      return send(res, e.code === 'ERR_HANDLER' ? 422 : 500, { error: e.code, message: e.message });
    }
  }
  send(res, 404, { error: 'not found' });
});

server.listen(port, host, () => {
  const { port: actual } = server.address();
  console.log(`listening on http://${host}:${actual}`);
});

process.on('SIGTERM', async () => {
  server.close();
  await pool?.drain();
  await pool?.close();
  process.exit(0);
});
