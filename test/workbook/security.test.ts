// The kernel is private, as Jupyter's own clients keep it: loopback ports, a
// fresh HMAC key per kernel, an owner-only connection file removed afterwards,
// and a request with a wrong signature runs nothing and reveals nothing (a
// client that knows only the ports cannot learn a valid signature from iopub).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zmq from 'zeromq';
import { KernelClient } from '../../scripts/workbook/kernel';
import { decode, encode, makeMessage } from '../../scripts/workbook/protocol';
import { listeners } from './procs';

const notebooks = path.resolve(__dirname, '..', '..', 'notebooks');

function execute(kernel: KernelClient, code: string) {
  return kernel.request('shell', 'execute_request', { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true });
}

describe('workbook/protocol', () => {
  it('signs, verifies and rejects a tampered message', () => {
    const key = 'k'.repeat(64);
    const msg = makeMessage('session', 'execute_request', { code: '1' });
    const frames = encode(key, msg).map((f) => Buffer.from(f));
    assert.deepEqual(decode(key, frames).content, { code: '1' });
    assert.throws(() => decode('other-key', frames), /signature does not match/);
    const tampered = [...frames];
    tampered[5] = Buffer.from(JSON.stringify({ code: '2' }));
    assert.throws(() => decode(key, tampered), /signature does not match/);
    assert.throws(() => decode(key, frames.slice(1)), /delimiter/);
  });
});

describe('workbook/kernel privacy (real tslab kernel)', () => {
  let kernel: KernelClient;
  let other: KernelClient;
  before(async () => {
    [kernel, other] = await Promise.all([KernelClient.start({ cwd: notebooks }), KernelClient.start({ cwd: notebooks })]);
  });
  after(async () => {
    await Promise.all([kernel?.shutdown(), other?.shutdown()]);
  });

  it('uses a fresh random key per kernel and an owner-only connection file', () => {
    assert.match(kernel.connection.key, /^[0-9a-f]{64}$/);
    assert.notEqual(kernel.connection.key, other.connection.key);
    assert.equal(kernel.connection.signature_scheme, 'hmac-sha256');
    assert.equal(fs.statSync(kernel.connectionFile).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.dirname(kernel.connectionFile)).mode & 0o777, 0o700);
  });

  it('binds its ports to 127.0.0.1 only', function () {
    if (!fs.existsSync('/proc/net/tcp')) {
      console.log('      skipped: /proc/net/tcp not available on this OS');
      this.skip();
    }
    const c = kernel.connection;
    assert.equal(c.ip, '127.0.0.1');
    for (const port of [c.shell_port, c.iopub_port, c.control_port, c.stdin_port, c.hb_port]) {
      const addrs = listeners(port);
      assert.ok(addrs.length > 0, `port ${port} is listening`);
      assert.deepEqual([...new Set(addrs)], ['0100007F'], `port ${port} listens on loopback only (got ${addrs})`);
    }
  });

  it('runs nothing from an execute request with a wrong signature', async () => {
    const marker = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'forged-')), 'ran.txt');
    const code = `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran');`;
    await kernel.sendForged('execute_request', { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false });
    // A correctly signed request queued after it completes, so the forged one was processed (and dropped) first.
    const probe = await execute(kernel, 'console.log("still alive")');
    assert.equal((probe.content as { status: string }).status, 'ok');
    assert.equal(fs.existsSync(marker), false, 'the forged request must not run');
    const real = await execute(kernel, code);
    assert.equal((real.content as { status: string }).status, 'ok');
    assert.equal(fs.readFileSync(marker, 'utf8'), 'ran', 'the same code, signed correctly, runs');
    fs.rmSync(path.dirname(marker), { recursive: true });
  });

  it('gives a client that knows only the ports no way to run code (no signature leaked on iopub, no replay)', async function () {
    this.timeout(60_000);
    // A cell has run, so the kernel's stderr is a cell's stream: what tslab
    // 1.0.22 printed about a bad signature (the one it wanted) went to iopub.
    await execute(kernel, 'console.log("warm")');
    const marker = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'replay-')), 'ran.txt');
    const code = `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran');`;
    const c = kernel.connection;
    const shell = new zmq.Dealer();
    const iopub = new zmq.Subscriber();
    shell.connect(`tcp://${c.ip}:${c.shell_port}`);
    iopub.connect(`tcp://${c.ip}:${c.iopub_port}`);
    iopub.subscribe();
    const seen: string[] = [];
    const reading = (async () => {
      for await (const frames of iopub) seen.push(frames.map((f) => f.toString()).join('\n'));
    })().catch(() => undefined);
    try {
      await new Promise((r) => setTimeout(r, 500)); // let the subscription reach the kernel
      const msg = makeMessage('attacker', 'execute_request', { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false });
      const guess = 'f'.repeat(64);
      await shell.send(encode('not-the-key', msg, guess));
      await new Promise((r) => setTimeout(r, 1500));
      const leaked = new Set(seen.flatMap((text) => [...text.matchAll(/[0-9a-f]{64}/g)].map((m) => m[0])).filter((h) => h !== guess));
      // Every hex digest seen on iopub is replayed (tslab 1.0.22 printed 'want <hmac>').
      for (const signature of leaked) await shell.send(encode('not-the-key', msg, signature));
      await new Promise((r) => setTimeout(r, 1500));
      const probe = await execute(kernel, 'console.log("still alive")');
      assert.equal((probe.content as { status: string }).status, 'ok');
      assert.equal(fs.existsSync(marker), false, `code ran for a client without the key (replayed ${leaked.size} signature(s) seen on iopub)`);
      assert.deepEqual(seen.filter((t) => /hmac|signature/i.test(t)), [], 'nothing about the rejected signature is published');
    } finally {
      shell.close();
      iopub.close();
      await reading;
      fs.rmSync(path.dirname(marker), { recursive: true, force: true });
    }
  });

  it('removes the connection file when the kernel is shut down', async () => {
    const k = await KernelClient.start({ cwd: notebooks });
    const file = k.connectionFile;
    assert.ok(fs.existsSync(file));
    await k.shutdown();
    assert.equal(fs.existsSync(file), false);
    assert.equal(fs.existsSync(path.dirname(file)), false);
    assert.notEqual(k.process.exitCode ?? k.process.signalCode, null, 'the kernel process has ended');
  });
});
