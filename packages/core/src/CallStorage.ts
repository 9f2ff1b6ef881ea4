/**
 * An `AsyncLocalStorage` for values that live as long as a call (a tool call's credentials, its
 * request context), which turns Node's promise hooks off while no call is running.
 *
 * On Node < 24 (without `--experimental-async-context-frame`) an `AsyncLocalStorage` that has
 * been entered once makes every promise of the process pay an `init` hook, for the rest of the
 * process's life — also the promises of requests that never read it (HTTP parsing, the SDK's
 * dispatch, web streams). A `CallStorage` counts the calls running inside it and disables its
 * storage when the count falls to zero (`AsyncLocalStorage.prototype.disable`, documented to be
 * re-enabled by the next `run`), so the hooks cost only while a call is in flight. Where the
 * storage is built on async context frames (Node ≥ 24), there are no hooks to turn off and it is
 * never disabled.
 *
 * A value is visible to the code `run` calls and to the promises and timers it starts, until the
 * promise it returns settles (or, when it returns something else, until it returns); `hold` keeps
 * the storage on for longer (an Effect scope that may call plain code later). After that, code
 * the call left behind reads `undefined` — or, while other calls run, the value it had, which
 * callers must treat as ended (a closed `CurrentCredential` scope holds no credential).
 *
 * @since 0.1.0
 */
import { AsyncLocalStorage } from "node:async_hooks"

/**
 * @since 0.1.0
 * @category models
 */
export interface CallStorage<A> {
  /**
   * Calls `f` with `value` visible to `get` in `f` and in the asynchronous work it starts, until
   * the promise `f` returns settles.
   */
  readonly run: <R>(value: A, f: () => R) => R
  /** The value of the current call, if any. */
  readonly get: () => A | undefined
  /** Keeps the storage on until the returned function is called (once). */
  readonly hold: () => () => void
  /** Calls running (or held) right now. */
  readonly active: () => number
  /**
   * Makes `value` the current value for the rest of this synchronous execution and the work it
   * starts (`AsyncLocalStorage.enterWith`), returning the value it replaces; does nothing while no
   * call runs (the storage is off). For integrations that go on with one call's work in another
   * call's async context (an Effect fiber woken by another call's fiber): enter the fiber's value
   * when it resumes, and put the returned one back when it suspends.
   */
  readonly enter: (value: A | undefined) => A | undefined
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const make = <A>(): CallStorage<A> => {
  const storage = new AsyncLocalStorage<A>()
  // the async_hooks implementation (Node < 24) has these; the async-context-frame one does not
  const hookBased = typeof (storage as any)._propagate === "function"
  let active = 0
  const release = () => {
    if (--active === 0 && hookBased) storage.disable()
  }
  const hold = () => {
    active++
    let released = false
    return () => {
      if (released) return
      released = true
      release()
    }
  }
  const run = <R>(value: A, f: () => R): R => {
    active++
    let result: R
    try {
      result = storage.run(value, f)
    } catch (e) {
      release()
      throw e
    }
    if (isThenable(result)) {
      return result.then(
        (a) => {
          release()
          return a
        },
        (e) => {
          release()
          throw e
        }
      ) as R
    }
    release()
    return result
  }
  const enter = (value: A | undefined): A | undefined => {
    // entering a disabled storage would turn the promise hooks on for good
    if (active === 0) return undefined
    const previous = storage.getStore()
    if (previous !== value) storage.enterWith(value as A)
    return previous
  }
  return { run, get: () => storage.getStore(), hold, active: () => active, enter }
}

const isThenable = (u: unknown): u is PromiseLike<unknown> =>
  typeof u === "object" && u !== null && typeof (u as any).then === "function"
