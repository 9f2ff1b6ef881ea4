/**
 * The credentials of the current tool call. This is the only module that touches the FiberRef
 * (and the `AsyncLocalStorage` behind the plain-async accessor), so nothing else depends on how
 * request-scoped values are carried.
 *
 * A tool call's credentials live in a scope that `locally` opens and closes: when the wrapped
 * effect ends (success, failure or interruption) the scope is closed and emptied, so even code
 * that kept a reference to it (a timer, a stray promise) finds no credential any more.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import { globalValue } from "effect/GlobalValue"
import * as Option from "effect/Option"
import * as CallStorage from "./CallStorage.js"
import { NoCredentialInScopeError } from "./CredentialError.js"
import type { OAuthCredential, ResolvedCredential, StaticCredential } from "./ResolvedCredential.js"

/**
 * The credentials of one tool call, by name (`"default"` for the default credential).
 *
 * @since 0.1.0
 * @category models
 */
export type Credentials = ReadonlyMap<string, ResolvedCredential>

/**
 * The credentials of one tool call, open until the call ends.
 *
 * @since 0.1.0
 * @category models
 */
export class CredentialScope {
  #credentials: Map<string, ResolvedCredential> | undefined
  readonly #signal: AbortSignal | undefined
  /**
   * `signal`: the call's; once it aborts (the client cancelled), the scope is closed — checked on
   * every read, so no listener is added to the signal.
   */
  constructor(credentials: Credentials, signal?: AbortSignal) {
    this.#credentials = new Map(credentials)
    this.#signal = signal
  }
  #open(): Map<string, ResolvedCredential> | undefined {
    if (this.#signal?.aborted === true) this.close()
    return this.#credentials
  }
  /** The credential under `name`, or `undefined` once the scope is closed. */
  get(name: string): ResolvedCredential | undefined {
    return this.#open()?.get(name)
  }
  /** The names in scope (empty once closed). */
  names(): ReadonlyArray<string> {
    const credentials = this.#open()
    return credentials === undefined ? [] : Array.from(credentials.keys())
  }
  /** Whether the tool call is still running. */
  get isOpen(): boolean {
    return this.#open() !== undefined
  }
  /** Empties the scope. */
  close(): void {
    this.#credentials?.clear()
    this.#credentials = undefined
  }
  toString(): string {
    return `CredentialScope(${this.names().join(", ")})`
  }
  toJSON(): unknown {
    return { _id: "CredentialScope", names: this.names() }
  }
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString()
  }
}

const currentScope = globalValue(
  Symbol.for("@mcp-credentials/core/CurrentCredential/currentScope"),
  // a fiber that joins another keeps its own scope: joining a fiber another call started (a
  // shared refresh in flight) must not hand over that call's credentials
  () => FiberRef.unsafeMake<CredentialScope | undefined>(undefined, { join: (parent) => parent })
)

const asyncScope = globalValue(
  Symbol.for("@mcp-credentials/core/CurrentCredential/asyncScope/CallStorage"),
  () => CallStorage.make<CredentialScope>()
)

/**
 * Runs `self` with `credentials` in scope. The scope closes when `self` ends, by success, failure
 * or interruption.
 *
 * @since 0.1.0
 * @category combinators
 */
export const locally: {
  (credentials: Credentials): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, credentials: Credentials): Effect.Effect<A, E, R>
} = function() {
  if (arguments.length === 1) {
    const credentials = arguments[0] as Credentials
    return (self: Effect.Effect<any, any, any>) => locallyImpl(self, credentials)
  }
  return locallyImpl(arguments[0], arguments[1])
} as any

const locallyImpl = <A, E, R>(self: Effect.Effect<A, E, R>, credentials: Credentials): Effect.Effect<A, E, R> =>
  Effect.acquireUseRelease(
    // plain code the scope calls (`callWithScope`) may read it until it closes
    Effect.sync(() => ({ scope: new CredentialScope(credentials), release: asyncScope.hold() })),
    ({ scope }) => Effect.locally(self, currentScope, scope),
    ({ release, scope }) =>
      Effect.sync(() => {
        scope.close()
        release()
      })
  )

/**
 * Runs `self` inside an already open scope (one that `locally` opened for this tool call), for
 * integrations that continue a tool call in another fiber. It does not close the scope.
 *
 * @since 0.1.0
 * @category combinators
 */
export const inScope: {
  (scope: CredentialScope): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, scope: CredentialScope): Effect.Effect<A, E, R>
} = function() {
  if (arguments.length === 1) {
    const s = arguments[0] as CredentialScope
    return (self: Effect.Effect<any, any, any>) => inScopeImpl(self, s)
  }
  return inScopeImpl(arguments[0], arguments[1])
} as any

const inScopeImpl = <A, E, R>(self: Effect.Effect<A, E, R>, scope: CredentialScope): Effect.Effect<A, E, R> =>
  Effect.acquireUseRelease(
    Effect.sync(() => asyncScope.hold()),
    () => Effect.locally(self, currentScope, scope),
    (release) => Effect.sync(release)
  )

/** The scope of a tool call that declared no credential: empty, and closed. */
const noCredentials = globalValue(Symbol.for("@mcp-credentials/core/CurrentCredential/noCredentials"), () => {
  const scope = new CredentialScope(new Map())
  scope.close()
  return scope
})

/**
 * Runs `self` with no credential in scope, for the fiber of a tool call that declared none. A
 * fiber woken by another call's fiber (a shared `Deferred`, `Semaphore`, `Queue`) goes on in that
 * call's async context; with this, neither the fiber nor plain code it calls through
 * `callWithScope` falls back to the async context, where `unsafeGet` would find the other call's
 * credentials.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withoutCredentials = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.locally(self, currentScope, noCredentials)

/**
 * Sets the scope of the current fiber (`undefined`: no credential, as `withoutCredentials`), for
 * integrations that run a whole tool call in a fiber of its own, which ends with the call: there
 * is no earlier value to put back, so this is one step where `inScope` costs an acquire/release.
 * Plain code the fiber calls through `callWithScope` reads the scope from the async context, whose
 * propagation the caller keeps on with `unsafeHoldAsyncScope` for as long as the fiber runs.
 *
 * @since 0.1.0
 * @category unsafe
 */
export const unsafeSetFiberScope = (scope: CredentialScope | undefined): Effect.Effect<void> =>
  FiberRef.set(currentScope, scope ?? noCredentials)

/**
 * Keeps the async context's propagation on (Node's promise hooks, before Node 24) until the
 * returned function is called: what `inScope` holds while its effect runs.
 *
 * @since 0.1.0
 * @category unsafe
 */
export const unsafeHoldAsyncScope = (): (() => void) => asyncScope.hold()

/**
 * For a supervisor of tool fibers (the server package's): makes `fiber`'s scope the one plain
 * code reads (`unsafeGet`, in the promises the fiber starts), returning the one it replaces, to
 * be put back with `unsafeEnterAsyncScope` when the fiber suspends. A fiber woken by another
 * call's fiber resumes in that call's async context; this puts its own back.
 *
 * @since 0.1.0
 * @category unsafe
 */
export const unsafeEnterFiberScope = (fiber: Fiber.RuntimeFiber<unknown, unknown>): CredentialScope | undefined =>
  asyncScope.enter(fiber.getFiberRef(currentScope))

/**
 * Makes `scope` the one plain code reads for the rest of this synchronous execution and the
 * work it starts, returning the one it replaces (see `unsafeEnterFiberScope`).
 *
 * @since 0.1.0
 * @category unsafe
 */
export const unsafeEnterAsyncScope = (scope: CredentialScope | undefined): CredentialScope | undefined =>
  asyncScope.enter(scope)

/**
 * The current scope, if any. For integrations (the server package); tools use `get`.
 *
 * @since 0.1.0
 * @category accessors
 */
export const scope: Effect.Effect<Option.Option<CredentialScope>> = Effect.map(
  FiberRef.get(currentScope),
  Option.fromNullable
)

/**
 * The credential under `name` (default `"default"`) of the current tool call.
 *
 * @since 0.1.0
 * @category accessors
 */
export const get = (name: string = "default"): Effect.Effect<ResolvedCredential, NoCredentialInScopeError> =>
  Effect.flatMap(FiberRef.get(currentScope), (s) => {
    const credential = s?.get(name)
    return credential === undefined ? new NoCredentialInScopeError({ credential: name }) : Effect.succeed(credential)
  })

/**
 * Like `get`, for a tool that declared a static credential.
 *
 * @since 0.1.0
 * @category accessors
 */
export const getStatic = (name: string = "default"): Effect.Effect<StaticCredential, NoCredentialInScopeError> =>
  Effect.flatMap(get(name), (c) =>
    c.type === "static" ? Effect.succeed(c) : new NoCredentialInScopeError({ credential: name }))

/**
 * Like `get`, for a tool that declared an OAuth credential.
 *
 * @since 0.1.0
 * @category accessors
 */
export const getOAuth = (name: string = "default"): Effect.Effect<OAuthCredential, NoCredentialInScopeError> =>
  Effect.flatMap(get(name), (c) =>
    c.type === "oauth" ? Effect.succeed(c) : new NoCredentialInScopeError({ credential: name }))

/**
 * Calls `f` so that plain (non-Effect) code it starts, including its promises and timers, sees
 * the current fiber's credentials through `unsafeGet`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const callWithScope = <A>(f: () => A): Effect.Effect<A> =>
  Effect.flatMap(FiberRef.get(currentScope), (s) => Effect.sync(() => (s === undefined ? f() : asyncScope.run(s, f))))

/**
 * Calls `f` with `scope` visible to `unsafeGet` and to `unsafeCurrentScope` — in `f` and in the
 * promises and timers it starts. For integrations that run a tool call outside a fiber; the
 * caller opens the scope and closes it when the call ends.
 *
 * @since 0.1.0
 * @category unsafe
 */
export const unsafeRunInScope = <A>(scope: CredentialScope, f: () => A): A => asyncScope.run(scope, f)

/**
 * The credential under `name` for plain synchronous code (the seed's `get_credentials()`):
 * inside an Effect fiber it reads the fiber's scope, otherwise the async context set by
 * `callWithScope`. Throws `NoCredentialInScopeError` outside a tool call or after it ended.
 * A fiber that is not a tool call's (started in plain code with `Effect.runPromise`) has no
 * scope of its own and reads none: the async context it runs in is the call's only until another
 * call's fiber wakes it, when it would be that call's. Give it the call's scope:
 * `Effect.runPromise(CurrentCredential.inScope(effect, CurrentCredential.unsafeCurrentScope()!))`.
 *
 * @since 0.1.0
 * @category unsafe
 */
export const unsafeGet = (name: string = "default"): ResolvedCredential => {
  const credential = unsafeCurrentScope()?.get(name)
  if (credential === undefined) throw new NoCredentialInScopeError({ credential: name })
  return credential
}

/**
 * The scope visible to plain code right now, if any.
 *
 * @since 0.1.0
 * @category unsafe
 */
export const unsafeCurrentScope = (): CredentialScope | undefined => {
  const fiber = Fiber.getCurrentFiber()
  // inside a fiber, only the fiber's own scope: the async context it runs in may be another
  // call's (a fiber woken by another call's fiber, through a shared Semaphore, Deferred or Queue,
  // goes on in that call's async context), so it is never read there
  if (Option.isSome(fiber)) return fiber.value.getFiberRef(currentScope)
  return asyncScope.get()
}
