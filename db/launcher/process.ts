/**
 * The one way HMS runs a child process — the launcher (initdb, PostgreSQL, PostgREST) and the
 * tests that start processes (npm start, a PostgreSQL 15 server, vitest itself) all use it:
 *
 *   startProcess()  spawn, then wait until it is ready (a line of its output, or a probe);
 *                   if it exits or times out first, it is stopped and the error carries its output
 *   runProcess()    spawn and wait for it to exit (initdb, useradd, a child test run)
 *   stop()          send the process its own clean-stop signal, wait for it to exit, and SIGKILL
 *                   it if it has not gone within the grace period
 *
 * Every process is addressed by its PID, never by name. Those still running when this Node
 * process exits (an unexpected error, a test that failed half-way) are sent their stop signal
 * from an 'exit' listener, so none outlives the process that started it. That listener only
 * signals; it never calls process.exit, so it cannot change an exit status.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ProcessOptions {
  /** Named in errors ("PostgREST exited while starting: …"). */
  name: string;
  command: string;
  args?: string[];
  cwd?: string;
  /** The whole environment of the child (not merged with this process's). */
  env?: NodeJS.ProcessEnv;
  /** Run as this user (root starting PostgreSQL as the postgres system user). */
  uid?: number;
  gid?: number;
  /**
   * A process group of its own: a terminal's Ctrl-C (SIGINT to the foreground group) then reaches
   * only the parent, which stops its children itself, in order. Tests also use it to signal a
   * whole group, as a terminal does.
   */
  detached?: boolean;
  /** The signal that stops it cleanly (PostgreSQL: SIGINT, its fast shutdown). Default SIGTERM. */
  stopSignal?: NodeJS.Signals;
  /** How long stop() waits for it before SIGKILL. Default 10 s. */
  stopTimeoutMs?: number;
  stdin?: 'ignore' | 'inherit';
  /** Called with each chunk of stdout/stderr as it arrives. */
  onOutput?: (text: string) => void;
}

export interface StartOptions extends ProcessOptions {
  /** Ready when its output matches this pattern, or when this probe resolves true. */
  ready: RegExp | (() => Promise<boolean>);
  /** Default 60 s. */
  readyTimeoutMs?: number;
}

/** Output kept per process: enough for any error message, bounded for a server that runs for days. */
const OUTPUT_LIMIT = 256 * 1024;
const running = new Set<ManagedProcess>();
let exitListenerInstalled = false;

function installExitListener(): void {
  if (exitListenerInstalled) return;
  exitListenerInstalled = true;
  process.on('exit', () => {
    for (const child of running) child.signal(child.stopSignal);
  });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user (a postmaster running as postgres, seen by a non-root user).
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly stopSignal: NodeJS.Signals;
  readonly exited: Promise<Exit>;
  private readonly stopTimeoutMs: number;
  private text = '';
  private result: Exit | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(options: ProcessOptions) {
    this.name = options.name;
    this.stopSignal = options.stopSignal ?? 'SIGTERM';
    this.stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
    const stdio: StdioOptions = [options.stdin ?? 'ignore', 'pipe', 'pipe'];
    this.child = spawn(options.command, options.args ?? [], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      uid: options.uid,
      gid: options.gid,
      detached: options.detached ?? false,
      stdio,
    });
    const spawnError = new Promise<Exit>((resolve) =>
      this.child.once('error', (error) => {
        this.append(`${this.name}: ${error.message}\n`);
        resolve({ code: null, signal: null });
      }),
    );
    const exit = new Promise<Exit>((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    this.exited = Promise.race([exit, spawnError]).then((result) => {
      this.result = result;
      running.delete(this);
      this.notify();
      return result;
    });
    for (const stream of [this.child.stdout, this.child.stderr]) {
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        this.append(chunk);
        options.onOutput?.(chunk);
      });
    }
    this.pid = this.child.pid ?? -1;
    if (this.child.pid !== undefined) {
      running.add(this);
      installExitListener();
    }
  }

  private append(chunk: string): void {
    this.text += chunk;
    if (this.text.length > OUTPUT_LIMIT) this.text = this.text.slice(-OUTPUT_LIMIT);
    this.notify();
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  /** stdout and stderr as they arrived (the last 256 KiB). */
  output(): string {
    return this.text;
  }

  get running(): boolean {
    return this.result === undefined && this.pid > 0;
  }

  /** The exit status once it has exited, else undefined. */
  get exit(): Exit | undefined {
    return this.result;
  }

  /** Sends a signal without waiting; false when it has already gone. */
  signal(signal: NodeJS.Signals): boolean {
    if (!this.running) return false;
    try {
      process.kill(this.pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  /** Resolves with the match once its output matches; rejects if it exits or the time runs out first. */
  waitForOutput(pattern: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`${this.name}: no output matching ${pattern} after ${timeoutMs / 1000} s:\n${this.tail()}`)), timeoutMs);
      const check = () => {
        const match = this.text.match(pattern);
        if (match) done(undefined, match);
        else if (this.result) done(new Error(`${this.name} exited (${describeExit(this.result)}) before printing ${pattern}:\n${this.tail()}`));
      };
      const done = (error?: Error, match?: RegExpMatchArray) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        if (error) reject(error);
        else resolve(match!);
      };
      this.listeners.add(check);
      check();
    });
  }

  /** The last lines of its output, for error messages. */
  tail(chars = 2000): string {
    return this.text.slice(-chars);
  }

  /**
   * Stops it: its stop signal (or the one given), then waits; SIGKILL if it is still there after
   * the grace period. Resolves with its exit status once it has exited.
   */
  async stop(signal: NodeJS.Signals = this.stopSignal, timeoutMs = this.stopTimeoutMs): Promise<Exit> {
    if (!this.running) return this.exited;
    this.signal(signal);
    const timer = new Promise<'timeout'>((resolve) => setTimeout(resolve, timeoutMs, 'timeout').unref());
    if ((await Promise.race([this.exited, timer])) === 'timeout') this.signal('SIGKILL');
    return this.exited;
  }
}

export function describeExit(exit: Exit): string {
  return exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
}

/** Spawns a process and returns at once (no readiness wait). */
export function spawnProcess(options: ProcessOptions): ManagedProcess {
  return new ManagedProcess(options);
}

/**
 * Spawns a server and resolves once it is ready. If it exits first, or is not ready in time, it
 * is stopped and the promise rejects with the end of its output.
 */
export async function startProcess(options: StartOptions): Promise<ManagedProcess> {
  const child = spawnProcess(options);
  const timeoutMs = options.readyTimeoutMs ?? 60_000;
  try {
    if (options.ready instanceof RegExp) {
      await child.waitForOutput(options.ready, timeoutMs);
    } else {
      const deadline = Date.now() + timeoutMs;
      while (!(await options.ready())) {
        if (!child.running) throw new Error(`${options.name} exited while starting (${describeExit(child.exit!)}):\n${child.tail()}`);
        if (Date.now() > deadline) throw new Error(`${options.name} was not ready after ${timeoutMs / 1000} s:\n${child.tail()}`);
        await sleep(50);
      }
    }
  } catch (error) {
    await child.stop();
    throw error;
  }
  return child;
}

/** Runs a command to completion; resolves with its exit status and output (never rejects on a non-zero exit). */
export async function runProcess(options: ProcessOptions & { timeoutMs?: number }): Promise<Exit & { output: string }> {
  const child = spawnProcess(options);
  let timer: NodeJS.Timeout | undefined;
  if (options.timeoutMs) timer = setTimeout(() => void child.stop(), options.timeoutMs);
  const exit = await child.exited;
  clearTimeout(timer);
  return { ...exit, output: child.output() };
}
