/**
 * Running the integration's effects, shared by both SDK lines: a runtime from the caller or built
 * from a layer, and a fast path that runs synchronously when an effect can finish without waiting.
 * SDK-neutral.
 */
import * as Cause from "effect/Cause"
import type * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Runtime from "effect/Runtime"
import * as CallContext from "./callContext.js"

export interface RunnerOptions<R> {
  readonly layer?: Layer.Layer<R, unknown, never> | undefined
  readonly runtime?: Runtime.Runtime<R> | ManagedRuntime.ManagedRuntime<R, unknown> | undefined
}

export type Run<R> = <A, E>(effect: Effect.Effect<A, E, R>, signal?: AbortSignal) => Promise<Exit.Exit<A, E>>

/**
 * Runs an effect synchronously when it can finish without waiting (credential backends usually
 * do), and otherwise awaits the same fiber — no second run, and an abort interrupts it. Entering
 * the runtime through a promise costs several microseconds a call; this is the hot path.
 */
export const runFast = <R, A, E>(
  runtime: Runtime.Runtime<R>,
  effect: Effect.Effect<A, E, R>,
  signal?: AbortSignal,
  running?: Set<Fiber.RuntimeFiber<unknown, unknown>>
): Promise<Exit.Exit<A, E>> => {
  const exit = Runtime.runSyncExit(runtime)(effect)
  if (Exit.isSuccess(exit) || !Cause.isDie(exit.cause)) return Promise.resolve(exit)
  const defect = Cause.squash(exit.cause)
  if (!Runtime.isAsyncFiberException(defect)) return Promise.resolve(exit)
  const fiber = defect.fiber as Fiber.RuntimeFiber<A, E>
  running?.add(fiber)
  return new Promise((resolve) => {
    const interrupt = () => fiber.unsafeInterruptAsFork(FiberId.none)
    signal?.addEventListener("abort", interrupt, { once: true })
    fiber.addObserver((result) => {
      signal?.removeEventListener("abort", interrupt)
      running?.delete(fiber)
      resolve(result)
    })
    if (signal?.aborted) interrupt()
  })
}

export interface Runner<R> {
  readonly run: Run<R>
  /** The runtime once it is built (a layer's is built by the first `run`), for synchronous paths. */
  readonly runtime: () => Runtime.Runtime<R> | undefined
  readonly dispose: () => Promise<void>
  /** Interrupts every fiber still running (tool calls, resolutions) and waits until they have ended. */
  readonly interruptAll: () => Promise<void>
  /**
   * `dispose` once the fibers still running have ended (interrupted): none runs on a released
   * layer. With none running (most closes: a server per request), at once, with no promise.
   */
  readonly disposeAfterCalls: () => void
}

const settled: Promise<void> = Promise.resolve()

/** Interrupts `running` and waits for each (its finalizers included). */
const interruptAllOf = (running: Set<Fiber.RuntimeFiber<unknown, unknown>>) => (): Promise<void> =>
  // nothing running (most closes: a server per request): no promise per close
  running.size === 0 ? settled : Promise.all(Array.from(running, (fiber) =>
    new Promise<void>((resolve) => {
      fiber.addObserver(() => resolve())
      fiber.unsafeInterruptAsFork(FiberId.none)
    }))).then(() => undefined)

export const makeRunner = <R>(options: RunnerOptions<R>): Runner<R> => {
  let disposed = false
  const running = new Set<Fiber.RuntimeFiber<unknown, unknown>>()
  const interruptAll = interruptAllOf(running)
  const given = options.runtime
  if (given !== undefined && !ManagedRuntime.isManagedRuntime(given)) {
    // its fibers resume in their own call's async context (see `CallContext.withResync`)
    const rt = CallContext.withResync(given as Runtime.Runtime<R>)
    return {
      run: (effect, signal) => runFast(rt, effect, signal, running),
      runtime: () => rt,
      dispose: () => Promise.resolve(),
      interruptAll,
      disposeAfterCalls: () => void interruptAll()
    }
  }
  const managed = (given ?? ManagedRuntime.make((options.layer ?? Layer.empty) as Layer.Layer<R, unknown, never>)) as ManagedRuntime.ManagedRuntime<R, unknown>
  const owned = given === undefined
  let built: Runtime.Runtime<R> | undefined
  const dispose = async () => {
    if (disposed || !owned) return
    disposed = true
    await managed.dispose()
  }
  return {
    // a layer that fails to build fails every call with its error: the callers treat any
    // failure they do not recognise as unexpected
    run: <A, E>(effect: Effect.Effect<A, E, R>, signal?: AbortSignal) =>
      built !== undefined
        ? runFast(built, effect, signal, running)
        : managed.runtime().then(
          (runtime) => {
            built ??= CallContext.withResync(runtime)
            return runFast(built, effect, signal, running)
          },
          (error) => Exit.die(error) as Exit.Exit<A, E>
        ),
    runtime: () => built,
    dispose,
    interruptAll,
    disposeAfterCalls: () => {
      if (running.size > 0) void interruptAll().then(dispose)
      else void dispose()
    }
  }
}

/** What a tool handler may return besides a `CallToolResult` (`toToolResult` turns it into one). */
export type PlainOutput = string | number | boolean | Readonly<Record<string, unknown>> | ReadonlyArray<unknown> | void | undefined

export const isPromiseLike = (u: unknown): u is PromiseLike<unknown> =>
  typeof u === "object" && u !== null && typeof (u as any).then === "function"

const isToolResult = (u: unknown): boolean =>
  typeof u === "object" && u !== null && Array.isArray((u as any).content)

/**
 * Turns a handler's output into a tool result: a result passes as is, a string becomes text
 * content, an object becomes `structuredContent` and its JSON as text.
 */
export const toToolResult = (output: unknown): { readonly content: Array<any>; readonly [key: string]: unknown } => {
  if (isToolResult(output)) return output as any
  if (typeof output === "string") return { content: [{ type: "text", text: output }] }
  if (output === undefined || output === null) return { content: [] }
  const text = JSON.stringify(output)
  if (typeof output === "object" && !Array.isArray(output)) {
    return { content: [{ type: "text", text }], structuredContent: output as Record<string, unknown> }
  }
  return { content: [{ type: "text", text }] }
}
