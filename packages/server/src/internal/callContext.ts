/**
 * The current tool call for plain code: its name and how to build its `ToolContext`, in an
 * `AsyncLocalStorage` (a `CallStorage`) set around the SDK's tool dispatch.
 */
import { CallStorage, CurrentCredential } from "@mcp-credentials/core"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import * as Runtime from "effect/Runtime"
import * as Supervisor from "effect/Supervisor"
import { globalValue } from "effect/GlobalValue"

export interface Call {
  readonly toolName: string
  /**
   * The call's `ToolContext`, built on demand by the line that made the call (`McpCredentials`,
   * `McpCredentialsV2`), so that `ToolContext.current()` works on every line without an SDK.
   */
  readonly toolContext: () => unknown
}

const storage = globalValue(
  Symbol.for("@mcp-credentials/server/CallContext/CallStorage"),
  // Node's promise hooks only while a call runs (see CallStorage)
  () => CallStorage.make<Call>()
)

/**
 * The call of a tool's fiber. A fiber woken by another call's fiber goes on in that call's async
 * context, so inside a fiber the call is read from the fiber first.
 */
const fiberCall = globalValue(
  Symbol.for("@mcp-credentials/server/CallContext/fiberCall"),
  // a fiber that joins another keeps its own call (see `CurrentCredential`'s scope)
  () => FiberRef.unsafeMake<Call | undefined>(undefined, { join: (parent) => parent })
)

export const run = <A>(call: Call, f: () => A): A => storage.run(call, f)

/**
 * Makes the current fiber `call`'s (and the fibers it forks): for a fiber that runs one tool call
 * and ends with it (nothing to put back, one step where `Effect.locally` costs an acquire/release).
 */
export const setOfFiber = (call: Call): Effect.Effect<void> => FiberRef.set(fiberCall, call)

/**
 * The current call. Inside a fiber, only the fiber's own: the async context a fiber runs in is
 * the context of whatever woke it last (another call's fiber, through a shared `Deferred`,
 * `Semaphore` or `Queue`), so it is never read there.
 */
export const current = (): Call | undefined => {
  const fiber = Fiber.getCurrentFiber()
  return fiber._tag === "Some" ? fiber.value.getFiberRef(fiberCall) : storage.get()
}

/**
 * The `ToolContext` of the current call (either SDK line), or `undefined` outside one. A fiber
 * that is no call's (one plain tool code starts with `Effect.runPromise`) has the context it is
 * given as a service (`tag`).
 */
export const currentToolContext = <S>(tag: Context.Tag<any, S>): S | undefined => {
  const fiber = Fiber.getCurrentFiber()
  if (fiber._tag === "None") return storage.get()?.toolContext() as S | undefined
  const call = fiber.value.getFiberRef(fiberCall)
  if (call !== undefined) return call.toolContext() as S
  return Context.getOrElse(fiber.value.getFiberRef(FiberRef.currentContext), tag, () => undefined)
}

/**
 * Keeps the async context of a call's fibers their own: a fiber woken by another call's fiber
 * (a shared `Deferred`, `Semaphore`, `Queue`) resumes in that call's async context, where the
 * plain code it starts (`Effect.promise(() => helper())` with `getCredentials()` or
 * `ToolContext.current()` inside) would read the other call. When a fiber of the integration's
 * runtime resumes, its own call and credential scope are entered, and what was there is put back
 * when it suspends. A fiber without a call (a resolution, a fiber before its call is set) is left
 * as it is: inside a fiber `ToolContext.current()` and `getCredentials()` read the fiber anyway.
 */
class Resync extends Supervisor.AbstractSupervisor<void> {
  get value(): Effect.Effect<void> {
    return Effect.void
  }
  // [fiber, call, scope] per fiber running now: resumes and suspends nest within one synchronous run
  private readonly saved: Array<unknown> = []
  override onResume(fiber: Fiber.RuntimeFiber<any, any>): void {
    const own = fiber.getFiberRef(fiberCall)
    // a fiber with no call of its own yet (a tool call's fiber sets it as its first step, in the
    // call's own async context) is left as it is
    if (own === undefined) return
    const call = storage.enter(own)
    this.saved.push(fiber, call, CurrentCredential.unsafeEnterFiberScope(fiber))
  }
  override onSuspend(fiber: Fiber.RuntimeFiber<any, any>): void {
    const saved = this.saved
    for (let i = saved.length - 3; i >= 0; i -= 3) {
      if (saved[i] !== fiber) continue
      CurrentCredential.unsafeEnterAsyncScope(saved[i + 2] as CurrentCredential.CredentialScope | undefined)
      storage.enter(saved[i + 1] as Call | undefined)
      saved.length = i
      return
    }
  }
}

const resync = globalValue(Symbol.for("@mcp-credentials/server/CallContext/resync"), () => new Resync())

// one derived runtime per runtime (a server per request shares the application's)
const resynced = globalValue(
  Symbol.for("@mcp-credentials/server/CallContext/resynced"),
  () => new WeakMap<Runtime.Runtime<any>, Runtime.Runtime<any>>()
)

/** `runtime` with the supervisor that keeps its fibers' async context their own (see `Resync`). */
export const withResync = <R>(runtime: Runtime.Runtime<R>): Runtime.Runtime<R> => {
  const known = resynced.get(runtime)
  if (known !== undefined) return known
  const current = FiberRefs.getOrDefault(runtime.fiberRefs, FiberRef.currentSupervisor)
  const derived = Runtime.setFiberRef(runtime, FiberRef.currentSupervisor, current === Supervisor.none ? resync : current.zip(resync))
  resynced.set(runtime, derived)
  resynced.set(derived, derived)
  return derived
}
