/**
 * The SDK-neutral heart of the middleware: resolve the credentials a tool declared, run the tool
 * with them in scope, and close the scope when it ends. The server package calls this for every
 * tool call; it has no MCP dependency.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberRefs from "effect/FiberRefs"
import type * as Runtime from "effect/Runtime"
import { type CredentialError, CredentialNotFoundError } from "./CredentialError.js"
import { type RequestHeaders } from "./internal/backend.js"
import * as CredentialBackend from "./CredentialBackend.js"
import * as CurrentCredential from "./CurrentCredential.js"
import type { CredentialKind, ResolvedCredential } from "./ResolvedCredential.js"

/**
 * One credential a tool needs: its name (`"default"` or a named backend such as `"github"`) and
 * its kind.
 *
 * @since 0.1.0
 * @category models
 */
export interface Requirement {
  readonly name: string
  readonly kind: CredentialKind
}

/**
 * What the middleware knows of the request: its headers (absent over stdio) and the user.
 *
 * @since 0.1.0
 * @category models
 */
export interface CallContext {
  readonly headers?: RequestHeaders | undefined
  readonly user?: { readonly subject: string } | undefined
}

/**
 * Normalises a tool's declaration: `"static"` / `"oauth"` for the default credential, or a record
 * of names to kinds (`{ github: "oauth", jira: "static" }`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const requirements = (
  declaration: CredentialKind | Readonly<Record<string, CredentialKind>> | ReadonlyArray<Requirement> | undefined
): ReadonlyArray<Requirement> => {
  if (declaration === undefined) return []
  if (typeof declaration === "string") return [{ name: CredentialBackend.defaultName, kind: declaration }]
  if (Array.isArray(declaration)) return declaration as ReadonlyArray<Requirement>
  return Object.entries(declaration as Record<string, CredentialKind>).map(([name, kind]) => ({ name, kind }))
}

/**
 * Resolves every requirement with its backend (the default `CredentialBackend`, or the named one
 * from `CredentialBackend.layerNamed`). A name without a backend fails with
 * `CredentialNotFoundError`.
 *
 * @since 0.1.0
 * @category resolution
 */
export const resolveAll = (
  reqs: ReadonlyArray<Requirement>,
  context: CallContext
): Effect.Effect<CurrentCredential.Credentials, CredentialError> =>
  Effect.contextWithEffect((ctx: Context.Context<never>) => {
    const resolveOne = (req: Requirement): Effect.Effect<readonly [string, ResolvedCredential], CredentialError> => {
      const backend = Context.getOption(ctx, CredentialBackend.named(req.name))
      if (backend._tag === "None") return new CredentialNotFoundError({ credential: req.name })
      return Effect.map(
        backend.value.resolve(requestOf(req, context)),
        (credential) => [req.name, credential] as const
      )
    }
    if (reqs.length === 1) return Effect.map(resolveOne(reqs[0]!), (entry) => new Map([entry]))
    // a backend that asks the user for input (2026-07-28's input-required) does not cut its
    // siblings short: one of them may be waiting for a form the user is filling in (a resumed
    // elicitation), which an interruption would give up; the call ends with the first request
    // for input once the others have finished. Any other failure ends the call at once.
    let asked: CredentialError | undefined
    const deferAsk = (req: Requirement) =>
      Effect.catchIf(resolveOne(req), isInputRequest, (e) => {
        asked ??= e
        return Effect.succeed(undefined)
      })
    return Effect.flatMap(Effect.forEach(reqs, deferAsk, { concurrency: "unbounded" }), (entries) =>
      asked !== undefined
        ? Effect.fail(asked)
        : Effect.succeed(new Map(entries as ReadonlyArray<readonly [string, ResolvedCredential]>)))
  })

/** A failure that asks the client for input (`@mcp-credentials/server`'s `InputRequiredTypeId`). */
const inputRequestTypeId = Symbol.for("@mcp-credentials/server/InputRequired")
const isInputRequest = (e: CredentialError): boolean => typeof e === "object" && e !== null && inputRequestTypeId in e

/**
 * Resolves every requirement without a fiber when each backend can (`unsafeResolve`), with the
 * services of `runtime` (its backends, `Clock` and `ConfigProvider`): the credentials, or
 * `undefined` when a backend cannot answer synchronously or fails — run `resolveAll` then, which
 * reports the failure as usual. For the server's per-call hot path.
 *
 * @since 0.1.0
 * @category resolution
 */
export const unsafeResolveAll = (
  reqs: ReadonlyArray<Requirement>,
  context: CallContext,
  runtime: Runtime.Runtime<never>
): CurrentCredential.Credentials | undefined => {
  let services: Context.Context<DefaultServices.DefaultServices> | undefined
  const credentials = new Map<string, ResolvedCredential>()
  for (const req of reqs) {
    const backend = Context.getOption(runtime.context, CredentialBackend.named(req.name))
    if (backend._tag === "None" || backend.value.unsafeResolve === undefined) return undefined
    services ??= FiberRefs.getOrDefault(runtime.fiberRefs, DefaultServices.currentServices)
    const resolved = backend.value.unsafeResolve(requestOf(req, context), services)
    if (resolved === undefined || Either.isLeft(resolved)) return undefined
    credentials.set(req.name, resolved.right)
  }
  return credentials
}

/** The backend's request; the headers are read from `context` when the backend reads them. */
const requestOf = (req: Requirement, context: CallContext): CredentialBackend.CredentialRequest => ({
  kind: req.kind,
  get headers() {
    return context.headers
  },
  user: context.user
})

/**
 * Resolves the requirements, then runs `self` with the credentials in scope; the scope closes when
 * `self` ends. With no requirements, `self` runs as it is and no backend is called.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withCredentials = (reqs: ReadonlyArray<Requirement>, context: CallContext) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | CredentialError, R> =>
  reqs.length === 0
    ? self
    : Effect.flatMap(resolveAll(reqs, context), (credentials) => CurrentCredential.locally(self, credentials))
