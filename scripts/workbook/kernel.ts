// Starts a tslab kernel and talks to it over ZeroMQ, the way Jupyter's own
// clients do: loopback-only ports, a fresh random HMAC key, a connection file
// only its owner can read, removed when the kernel is gone. The kernel runs in
// its own process group, so that ending it ends whatever its cells started.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zmq from 'zeromq';
import { decode, encode, makeMessage, type Message } from './protocol';

export interface ConnectionInfo {
  ip: string;
  transport: 'tcp';
  shell_port: number;
  iopub_port: number;
  stdin_port: number;
  control_port: number;
  hb_port: number;
  key: string;
  signature_scheme: 'hmac-sha256';
  kernel_name: string;
}

export interface StartOptions {
  /** Working directory of the kernel: the notebook's folder, as Jupyter does. */
  cwd: string;
  /** Extra environment variables for the kernel process. */
  env?: Record<string, string>;
  /** How long to wait for the kernel to answer its first request. */
  startTimeoutMs?: number;
  /**
   * Command that starts the kernel, as a kernelspec's argv: '{connection_file}'
   * is replaced by the connection file's path. Default: this project's tslab.
   */
  argv?: string[];
}

/** The kernel process ended while something waited on it. */
export class KernelDiedError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
  ) {
    super(message);
    this.name = 'KernelDiedError';
  }
}

type Listener = (msg: Message) => void;

const LOOPBACK = '127.0.0.1';
const WINDOWS = process.platform === 'win32';
const STDERR_KEPT = 8192;
/** After an execute_reply, how long to wait for the idle status (and trailing output) that should follow it. */
export const IDLE_GRACE_MS = 1000;

/** Kernels started and not yet ended, for the last-resort cleanup when this process exits. */
const live = new Set<KernelClient>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers run synchronously: whatever is still up is killed outright.
  process.on('exit', () => KernelClient.killAllNow());
}

/** Asks the OS for a free loopback port (the same approach jupyter_client uses). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, LOOPBACK, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function tslabBinary(): string {
  return require.resolve('tslab/bin/tslab');
}

export class KernelClient {
  /** The client session sent in every header; a front end starts a new one when its page reloads. */
  session: string = randomUUID();
  private shell = new zmq.Dealer();
  private control = new zmq.Dealer();
  /** The last send on each socket: zeromq refuses a send while another is in flight (one still waiting for the kernel to connect, say). */
  private lastSend = new Map<zmq.Dealer, Promise<unknown>>();
  private iopub = new zmq.Subscriber();
  private replyListeners = new Map<string, Listener>();
  private iopubListeners = new Map<string, Listener>();
  private unclaimedListener: Listener | null = null;
  private deathListeners = new Set<(err: KernelDiedError) => void>();
  private stderrTail = '';
  private closed = false;
  private death: KernelDiedError | null = null;
  private groupEnded = false;

  private constructor(
    readonly connection: ConnectionInfo,
    readonly connectionFile: string,
    private readonly connectionDir: string,
    readonly process: ChildProcess,
  ) {}

  /** Launches a fresh kernel and waits until it answers on shell and iopub. */
  static async start(options: StartOptions): Promise<KernelClient> {
    const ports = [];
    for (let i = 0; i < 5; i++) ports.push(await freePort());
    const connection: ConnectionInfo = {
      ip: LOOPBACK,
      transport: 'tcp',
      shell_port: ports[0],
      iopub_port: ports[1],
      stdin_port: ports[2],
      control_port: ports[3],
      hb_port: ports[4],
      key: randomBytes(32).toString('hex'),
      signature_scheme: 'hmac-sha256',
      kernel_name: 'tslab',
    };
    // mkdtemp makes the folder 0700; the file itself is 0600 and must not exist yet.
    const connectionDir = fs.mkdtempSync(path.join(os.tmpdir(), 'workbook-kernel-'));
    const connectionFile = path.join(connectionDir, 'kernel.json');
    fs.writeFileSync(connectionFile, JSON.stringify(connection), { mode: 0o600, flag: 'wx' });

    // detached: a process group of its own, which kill() ends as a whole; it
    // also keeps a terminal's Ctrl-C away from the kernel (the runner handles
    // it). Windows has no process groups to signal (and detached would open a
    // console window there): the kernel alone is ended.
    const argv = (options.argv ?? [process.execPath, tslabBinary(), 'kernel', '--config-path', '{connection_file}']).map((a) =>
      a === '{connection_file}' ? connectionFile : a,
    );
    const child = spawn(argv[0], argv.slice(1), {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: !WINDOWS,
    });
    const client = new KernelClient(connection, connectionFile, connectionDir, child);
    installExitHook();
    live.add(client);
    client.watchProcess();
    try {
      client.connect();
      await client.waitReady(options.startTimeoutMs ?? 60_000);
    } catch (err) {
      await client.kill();
      throw err;
    }
    return client;
  }

  /** Last lines the kernel process wrote to its own stderr (not the cells' output). */
  get processStderr(): string {
    return this.stderrTail;
  }

  get isAlive(): boolean {
    return this.death === null && !this.closed;
  }

  private watchProcess(): void {
    const keep = (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString()).slice(-STDERR_KEPT);
    };
    this.process.stderr?.on('data', keep);
    this.process.stdout?.on('data', keep);
    this.process.on('exit', (code, signal) => {
      const how = signal ? `signal ${signal}` : `exit code ${code}`;
      const tail = this.stderrTail.trim().split('\n').slice(-5).join('\n');
      this.death = new KernelDiedError(
        `kernel process ended (${how})${tail ? `; its last output:\n${tail}` : ''}`,
        code,
        signal,
      );
      for (const listener of this.deathListeners) listener(this.death);
      this.deathListeners.clear();
      // What the cells started dies with the kernel, however the kernel ended.
      this.signalGroup('SIGKILL');
      this.groupEnded = true;
      this.removeConnectionFile();
      live.delete(this);
    });
  }

  /** Signals the kernel's process group; false when no process of it is left. */
  private signalGroup(signal: NodeJS.Signals): boolean {
    const pid = this.process.pid;
    // Once the group has been killed its id may be reused: never signal it again.
    if (pid === undefined || this.groupEnded) return false;
    try {
      if (WINDOWS) return this.process.kill(signal);
      process.kill(-pid, signal);
      return true;
    } catch {
      return false; // ESRCH: the group is empty
    }
  }

  /**
   * Kills every kernel this process started, with their process groups, and
   * removes their connection files, synchronously: for signal handlers and
   * process exit, where nothing asynchronous may run any more.
   */
  static killAllNow(): void {
    for (const kernel of live) {
      kernel.signalGroup('SIGKILL');
      kernel.removeConnectionFile();
      live.delete(kernel);
    }
  }

  private address(port: number): string {
    return `tcp://${this.connection.ip}:${port}`;
  }

  private connect(): void {
    this.shell.connect(this.address(this.connection.shell_port));
    this.control.connect(this.address(this.connection.control_port));
    this.iopub.connect(this.address(this.connection.iopub_port));
    this.iopub.subscribe();
    void this.receiveLoop(this.shell, this.replyListeners);
    void this.receiveLoop(this.control, this.replyListeners);
    void this.receiveLoop(this.iopub, this.iopubListeners);
  }

  private async receiveLoop(socket: zmq.Dealer | zmq.Subscriber, listeners: Map<string, Listener>) {
    try {
      for await (const frames of socket) {
        let msg: Message;
        try {
          msg = decode(this.connection.key, frames);
        } catch {
          continue; // unsigned or forged: ignored, as the kernel ignores ours
        }
        const parent = msg.parent_header.msg_id;
        const listener = parent ? listeners.get(parent) : undefined;
        if (listener) listener(msg);
        else if (listeners === this.iopubListeners) this.unclaimedListener?.(msg);
      }
    } catch (err) {
      if (!this.closed) throw err;
    }
  }

  /** Rejects when the kernel dies; resolves never otherwise. */
  private deathPromise(): { promise: Promise<never>; cancel: () => void } {
    let listener: (err: KernelDiedError) => void = () => {};
    const promise = new Promise<never>((_, reject) => {
      if (this.death) return reject(this.death);
      listener = reject;
      this.deathListeners.add(listener);
    });
    return { promise, cancel: () => this.deathListeners.delete(listener) };
  }

  /**
   * Receives iopub messages that no pending request claims: output a cell
   * produced after its request was done (a timer's log, a late rejection).
   */
  onUnclaimedIopub(listener: Listener | null): void {
    this.unclaimedListener = listener;
  }

  /**
   * Sends a request and resolves with its reply. `onIopub` sees every iopub
   * message the request causes; the promise resolves once both the reply and
   * the kernel's `idle` status for the request have arrived, so no output is
   * lost to the next request, or `IDLE_GRACE_MS` after the reply if the idle
   * status does not come (a kernel that failed to send it must not hang the run).
   */
  async request(
    channel: 'shell' | 'control',
    msgType: string,
    content: unknown,
    onIopub?: Listener,
    signatureOverride?: string,
  ): Promise<Message> {
    const msg = makeMessage(this.session, msgType, content);
    const id = msg.header.msg_id;
    let reply: Message | null = null;
    let idle = false;
    let done: () => void = () => {};
    const finished = new Promise<void>((resolve) => (done = resolve));
    let graceTimer: NodeJS.Timeout | undefined;
    this.replyListeners.set(id, (m) => {
      reply = m;
      if (idle) done();
      else graceTimer = setTimeout(done, IDLE_GRACE_MS);
    });
    this.iopubListeners.set(id, (m) => {
      onIopub?.(m);
      if (m.header.msg_type === 'status' && (m.content as { execution_state?: string }).execution_state === 'idle') {
        idle = true;
        if (reply) done();
      }
    });
    const death = this.deathPromise();
    try {
      const socket = channel === 'shell' ? this.shell : this.control;
      await Promise.race([this.sendOn(socket, encode(this.connection.key, msg, signatureOverride)), death.promise]);
      await Promise.race([finished, death.promise]);
      return reply as unknown as Message;
    } finally {
      clearTimeout(graceTimer);
      death.cancel();
      this.replyListeners.delete(id);
      this.iopubListeners.delete(id);
    }
  }

  /** Sends after the socket's previous send has finished (or failed), so sends never overlap. */
  private sendOn(socket: zmq.Dealer, frames: string[]): Promise<void> {
    const next = (this.lastSend.get(socket) ?? Promise.resolve()).catch(() => undefined).then(() => socket.send(frames));
    this.lastSend.set(socket, next);
    return next;
  }

  /**
   * Sends a request signed with a wrong key and does not wait for an answer:
   * a kernel that checks signatures drops it.
   */
  async sendForged(msgType: string, content: unknown): Promise<void> {
    const msg = makeMessage(this.session, msgType, content);
    await this.sendOn(this.shell, encode(this.connection.key, msg, 'f'.repeat(64)));
  }

  /**
   * Waits for the first kernel_info_reply, then until iopub delivers (a
   * subscriber that joins late misses messages, so outputs of the first cell
   * could be lost otherwise).
   */
  private async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      let sawIopub = false;
      const attempt = this.request('shell', 'kernel_info_request', {}, () => (sawIopub = true));
      const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 1000).unref());
      const result = await Promise.race([attempt.then(() => 'reply' as const), timer]);
      if (result === 'reply' && sawIopub) return;
      if (result === 'timeout') attempt.catch(() => {});
    }
    throw new Error(
      `kernel did not answer within ${timeoutMs / 1000}s${this.stderrTail ? `; its output:\n${this.stderrTail}` : ''}`,
    );
  }

  /** SIGINT, which tslab turns into an interrupt of the running cell. */
  interrupt(): void {
    if (this.isAlive) this.process.kill('SIGINT');
  }

  /** Asks the kernel to shut down, then makes sure the process is gone. */
  async shutdown(graceMs = 3000): Promise<void> {
    if (this.isAlive) {
      // tslab closes its sockets on shutdown_request but its process stays up
      // (as with Jupyter's own clients, it is then ended by signal): a short
      // wait lets it finish what it was writing, then kill() ends it.
      const exited = new Promise((resolve) => this.process.once('exit', resolve));
      const msg = makeMessage(this.session, 'shutdown_request', { restart: false });
      await this.sendOn(this.control, encode(this.connection.key, msg)).catch(() => undefined);
      await Promise.race([exited, new Promise((r) => setTimeout(r, Math.min(graceMs, 300)).unref())]);
    }
    await this.kill(graceMs);
  }

  /** Ends the kernel's process group (SIGTERM, then SIGKILL) and closes the sockets. */
  async kill(graceMs = 3000): Promise<void> {
    if (this.process.exitCode === null && this.process.signalCode === null) {
      const exited = new Promise((resolve) => this.process.once('exit', resolve));
      this.signalGroup('SIGTERM');
      const timer = setTimeout(() => this.signalGroup('SIGKILL'), graceMs);
      await exited; // its 'exit' handler has killed the rest of the group
      clearTimeout(timer);
    }
    live.delete(this);
    if (this.closed) return;
    this.closed = true;
    this.shell.close();
    this.control.close();
    this.iopub.close();
    this.removeConnectionFile();
  }

  private removeConnectionFile(): void {
    fs.rmSync(this.connectionDir, { recursive: true, force: true });
  }
}
