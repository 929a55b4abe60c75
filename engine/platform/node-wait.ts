/**
 * Cheap waiting for Dawn's Node binding (npm `webgpu`, dawn.node).
 *
 * How dawn.node waits: while any promise it returned is pending (mapAsync,
 * onSubmittedWorkDone, requestDevice, create*PipelineAsync, popErrorScope, ...)
 * its AsyncRunner (src/dawn/node/binding/AsyncRunner.cpp, ScheduleProcessEvents)
 * does `env.Global().Get("setImmediate").Call({Napi::Function::New(env, lambda)})`.
 * The lambda calls wgpuInstanceProcessEvents() and, while tasks are still
 * pending, schedules itself again the same way. A pending immediate makes libuv
 * poll for I/O with a zero timeout, so the event loop never sleeps: the main
 * thread burns a whole core until the GPU (lavapipe: worker threads on the same
 * cores) is done. No create() flag changes this; the binding only reads
 * backend, adapter, dlldir, validate, verbose, and enable/disable-dawn-features.
 *
 * Fix: the binding looks `setImmediate` up on the global object at every call,
 * so we wrap it. Before a Dawn poll runs, the wrapper may block the thread with
 * Atomics.wait, which sleeps in a futex and is allowed on Node's main thread.
 *
 * How we recognise Dawn's callback: Napi::Function::New without a name gives a
 * native function whose name is "" and whose source reads
 * "function () { [native code] }", and Dawn passes no extra arguments. JS
 * functions never stringify as native code, and bound functions and built-ins
 * have names. Another N-API addon that passes unnamed native callbacks to
 * setImmediate would be caught too. At worst it pays the same bounded sleeps,
 * and only when it schedules from inside such a callback.
 *
 * When we sleep (a chain is the run of polls from one 0 -> 1 pending transition
 * until nothing is pending):
 *  - never before the chain's first poll, the one scheduled by mapAsync() and
 *    the like; only a poll that re-schedules itself from inside a poll spins;
 *  - not during the chain's first `spinMs`, so short waits keep spin latency;
 *  - after that, sleeps of 0.05, 0.1, 0.2 ... ms, capped at `sleepMs`.
 *    A long wait thus costs at most ~sleepMs of extra latency and almost no
 *    CPU. Linux timer slack adds ~0.05 ms to each sleep.
 */

type ImmediateFn = typeof globalThis.setImmediate;
type Callback = (...args: unknown[]) => void;

interface WaitState {
  readonly original: ImmediateFn;
  sleepMs: number; // 0: inert pass-through
  spinMs: number;
  users: number;
  inDawnPoll: boolean; // true while a recognised Dawn poll runs
  chainStart: number; // performance.now() when the current chain began
  nextSleep: number; // the next backoff step, ms
}

/** Registry symbol: also shared by a second copy of this module (e.g. two bundles). */
const STATE = Symbol.for('gelan-webgpu.node-wait');
/** Never notified: Atomics.wait on it always waits for its full timeout. */
const SLEEP_CELL = new Int32Array(new SharedArrayBuffer(4));
const FIRST_SLEEP_MS = 0.05;
const NATIVE_ANONYMOUS = 'function () { [native code] }';

function stateOf(fn: unknown): WaitState | undefined {
  return typeof fn === 'function' ? (fn as { [STATE]?: WaitState })[STATE] : undefined;
}

function isDawnPoll(callback: unknown, extraArgs: number): callback is Callback {
  return (
    typeof callback === 'function' &&
    extraArgs === 0 &&
    callback.name === '' &&
    Function.prototype.toString.call(callback) === NATIVE_ANONYMOUS
  );
}

export interface IdleWaitOptions {
  /** Longest sleep before one Dawn poll, ms (default 0.5). 0 keeps Dawn spinning. */
  sleepMs?: number;
  /** How long each wait polls flat out before it starts sleeping, ms (default 0.2). */
  spinMs?: number;
}

/**
 * Makes dawn.node's pending-promise polling sleep instead of spin, and returns
 * a function that undoes it. Installing again only counts one more user. It
 * does not wrap twice, and the first install's options stay in force. The
 * original setImmediate comes back once every user has undone.
 */
export function installIdleWait(opts: IdleWaitOptions = {}): () => void {
  let state = stateOf(globalThis.setImmediate);
  if (state === undefined) {
    const s: WaitState = {
      original: globalThis.setImmediate,
      sleepMs: 0,
      spinMs: 0,
      users: 0,
      inDawnPoll: false,
      chainStart: 0,
      nextSleep: FIRST_SLEEP_MS,
    };
    const wrapper = (callback: Callback, ...args: unknown[]): NodeJS.Immediate => {
      if (!isDawnPoll(callback, args.length)) return s.original(callback, ...args);
      let sleep = 0;
      if (!s.inDawnPoll) {
        s.chainStart = performance.now(); // a new chain: poll at once
        s.nextSleep = FIRST_SLEEP_MS;
      } else if (performance.now() - s.chainStart >= s.spinMs) {
        sleep = Math.min(s.nextSleep, s.sleepMs);
        s.nextSleep = sleep * 2;
      }
      return s.original(() => {
        if (sleep > 0) Atomics.wait(SLEEP_CELL, 0, 0, sleep);
        s.inDawnPoll = true;
        try {
          callback();
        } finally {
          s.inDawnPoll = false;
        }
      });
    };
    // Keep setImmediate's extras, e.g. util.promisify.custom.
    for (const key of Reflect.ownKeys(s.original)) {
      if (!Object.prototype.hasOwnProperty.call(wrapper, key)) {
        Object.defineProperty(wrapper, key, Object.getOwnPropertyDescriptor(s.original, key)!);
      }
    }
    Object.defineProperty(wrapper, STATE, { value: s });
    globalThis.setImmediate = wrapper as unknown as ImmediateFn;
    state = s;
  }
  const installed = state;
  if (installed.users++ === 0) {
    // First user (also after an inert period): its options apply.
    installed.sleepMs = opts.sleepMs ?? 0.5;
    installed.spinMs = opts.spinMs ?? 0.2;
  }

  let undone = false;
  return () => {
    if (undone) return;
    undone = true;
    if (--installed.users > 0) return;
    if (stateOf(globalThis.setImmediate) === installed) {
      globalThis.setImmediate = installed.original;
    } else {
      // Someone wrapped setImmediate on top of us: we cannot unhook, so go inert.
      installed.sleepMs = 0;
    }
  };
}
