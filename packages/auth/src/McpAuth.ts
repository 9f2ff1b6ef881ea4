/**
 * Inbound auth for an MCP server served by `@mcp-credentials/server`: the request authenticator
 * (401 with `WWW-Authenticate`, 403 `missing_scopes` for required claims), the per-tool
 * `insufficient_scope` challenge, the caller's identity in tools, and the well-known routes
 * (RFC 9728 protected-resource metadata, the public JWE keys, scope discovery with CORS).
 *
 * @since 0.1.0
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
// by path, not the package index: the index loads both SDK lines, and this module needs neither
import * as ToolContext from "@mcp-credentials/server/ToolContext"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as jose from "jose"
import * as AccessToken from "./AccessToken.js"
import { AuthConfigError, MissingTokenError } from "./AuthError.js"
import * as AuthUser from "./AuthUser.js"
import { TokenVerifier } from "./TokenVerifier.js"

/**
 * A claim the server requires of every caller (the seed's `ScopeDefinition`): present in the
 * token's claims, whatever its value.
 *
 * @since 0.1.0
 * @category models
 */
export interface ScopeDefinition {
  readonly scope: string
  readonly description?: string | undefined
}

/**
 * Validates and normalises required claims, with the seed's rules: each is `{ scope }` (a bare
 * string is refused), trimmed, non-empty, no duplicates, order kept; `atLeastOne` refuses an
 * empty list (the seed middleware's rule).
 *
 * @since 0.1.0
 * @category constructors
 */
export const scopeDefinitions = (
  input: ReadonlyArray<unknown>,
  options: { readonly atLeastOne?: boolean } = {}
): Either.Either<ReadonlyArray<string>, AuthConfigError> => {
  if (options.atLeastOne && input.length === 0) {
    return Either.left(new AuthConfigError({ field: "scopes", reason: "at least one configured scope is required." }))
  }
  const out: Array<string> = []
  for (const item of input) {
    if (typeof item !== "object" || item === null) {
      return Either.left(new AuthConfigError({ field: "scopes", reason: "each configured scope must be an object { scope }." }))
    }
    const raw = (item as { scope?: unknown }).scope
    if (typeof raw !== "string") {
      return Either.left(new AuthConfigError({ field: "scopes", reason: "each configured scope must define a string 'scope' value." }))
    }
    const scope = raw.trim()
    if (scope === "") {
      return Either.left(new AuthConfigError({ field: "scopes", reason: "each configured scope must define a non-empty 'scope' value." }))
    }
    if (out.includes(scope)) {
      return Either.left(new AuthConfigError({ field: "scopes", reason: `Duplicate scope configured: ${scope}` }))
    }
    out.push(scope)
  }
  return Either.right(out)
}

/** Configured claim or scope names with the seed's rules (trimmed, non-empty, no duplicates); a bad list throws `AuthConfigError` naming `field`. */
const claimNames = (field: string, names: ReadonlyArray<string>): ReadonlyArray<string> => {
  const result = scopeDefinitions(names.map((scope) => ({ scope })))
  if (Either.isLeft(result)) throw new AuthConfigError({ field, reason: result.left.reason })
  return result.right
}

/**
 * @since 0.1.0
 * @category models
 */
export interface AuthenticateOptions {
  /**
   * The URL of this server's protected-resource metadata (RFC 9728), advertised in
   * `WWW-Authenticate` so a client can discover the authorization server. Default: derived from
   * `resource` (`resourceMetadataUrl(resource)`) when that is given.
   */
  readonly resourceMetadataUrl?: string | undefined
  /** The MCP endpoint's URL: `AuthInfo.resource`. Use it as the verifier's audience (RFC 8707). */
  readonly resource?: string | undefined
  /**
   * Claims every caller's token must carry (403 `missing_scopes` otherwise). Trimmed; an empty
   * name or a duplicate throws `AuthConfigError` when the authenticator is built (the seed's rules).
   */
  readonly requiredClaims?: ReadonlyArray<string> | undefined
  /**
   * Scopes every caller's token must grant (`AccessToken.scopes`): a token without one gets 403
   * `insufficient_scope` naming them in `scope`, so the client can ask for them; and every 401
   * names them in `scope` (the MCP authorization spec's scope selection: the client requests
   * these). Trimmed; an empty name, a duplicate or one that is no RFC 6749 scope token throws
   * `AuthConfigError` when built. With `allowAnonymous`, a request without a token passes
   * anonymous (only a presented token is checked).
   */
  readonly requiredScopes?: ReadonlyArray<string> | undefined
  /** Let requests without an `Authorization` header through, anonymous. Default `false`. */
  readonly allowAnonymous?: boolean | undefined
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } })

const quote = (value: string) => `"${value.replace(/["\\]/g, "")}"`

/** `Bearer` plus auth-params, as RFC 6750 §3 lays them out. */
const challenge = (params: Record<string, string | undefined>) => {
  const parts = Object.entries(params).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${quote(v!)}`)
  return parts.length === 0 ? "Bearer" : `Bearer ${parts.join(", ")}`
}

/**
 * What `authenticate` answers: the caller's `AuthInfo` (the SDK's shape, declared here so that no
 * SDK's types are needed), `undefined` for an anonymous request, or a `Response` to send instead.
 * It is what `McpHttpServer` and `McpHttpServerV2` take as `authenticate`.
 *
 * @since 0.1.0
 * @category models
 */
export type Authentication = AccessToken.McpAuthInfo | Response | undefined

/**
 * The request authenticator for `McpHttpServer`'s `authenticate` option, using the
 * `TokenVerifier` in context:
 * - no `Authorization: Bearer …` → 401 `{"error":"invalid_token"}` with
 *   `WWW-Authenticate: Bearer resource_metadata="…"` (unless `allowAnonymous`);
 * - a token the verifier refuses → 401 with `error="invalid_token"` and a fixed
 *   `error_description` (never token content);
 * - the verifier could not decide (JWKS or introspection endpoint down) → 503;
 * - a token without a required claim → 403 `{"error":"missing_scopes","missing":[{"scope":…}]}`;
 * - a token without a `requiredScopes` scope → 403 `insufficient_scope` with `scope="…"` (every
 *   401 names them too);
 * - otherwise the SDK's `AuthInfo` (tools get it as `extra.authInfo`).
 *
 * A `resource` that is not an absolute http(s) URL throws `AuthConfigError` here, when the
 * authenticator is built (as do `resourceMetadataUrl` and `wellKnownRouter`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const authenticate = (options: AuthenticateOptions = {}) => {
  const resource = options.resource === undefined ? undefined : resourceUrl(options.resource)
  // the MCP authorization spec requires it in every 401: derived from the resource when not given
  const metadataUrl = options.resourceMetadataUrl ?? (options.resource === undefined ? undefined : resourceMetadataUrl(options.resource))
  const required = claimNames("requiredClaims", options.requiredClaims ?? [])
  const requiredScopes = claimNames("requiredScopes", options.requiredScopes ?? [])
  // RFC 6749 §3.3 scope-token: what `scope="…"` in WWW-Authenticate can carry unambiguously
  if (requiredScopes.some((scope) => !/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(scope))) {
    throw new AuthConfigError({ field: "requiredScopes", reason: "a scope is printable ASCII without spaces, '\"' or '\\' (RFC 6749)" })
  }
  const scope = requiredScopes.length === 0 ? undefined : requiredScopes.join(" ")
  return (request: Request): Effect.Effect<Authentication, never, TokenVerifier> => {
    const header = request.headers.get("authorization")
    const where = `${request.method} ${new URL(request.url).pathname}`
    const unauthorized = (error: string | undefined, description?: string) =>
      json(401, { error: "invalid_token", ...(description ? { error_description: description } : {}) }, {
        "www-authenticate": challenge({
          error,
          error_description: description,
          scope,
          resource_metadata: metadataUrl
        })
      })
    if (header === null || !/^bearer /i.test(header)) {
      if (header === null && options.allowAnonymous) return Effect.succeed(undefined)
      return Effect.as(
        Effect.logWarning(header === null ? `Missing Bearer token: ${where}` : `Unsupported Authorization scheme: ${where} (expected 'Bearer')`),
        unauthorized(undefined)
      )
    }
    // RFC 6750 §2.1: `"Bearer" 1*SP b64token`, so the scheme may be followed by several spaces
    const token = Redacted.make(header.slice(7).replace(/^ +/, ""))
    return Effect.flatMap(TokenVerifier, (verifier) => verifier.verify(token)).pipe(
      Effect.matchEffect({
        onFailure: (e) =>
          e._tag === "JwksFetchError" || e._tag === "IntrospectionError"
            ? Effect.as(
              Effect.logError(`Token verification unavailable: ${where} (${e.message})`),
              json(503, { error: "temporarily_unavailable" }, { "retry-after": "5" })
            )
            : Effect.as(
              Effect.logWarning(`Bearer token provided but verification failed: ${where} (${e.message})`),
              unauthorized("invalid_token", e._tag === "InvalidTokenError" ? e.reason : "invalid token")
            ),
        onSuccess: (accessToken): Effect.Effect<Authentication> => {
          const missing = required.filter((claim) => !Object.hasOwn(accessToken.claims, claim))
          if (missing.length > 0) {
            return Effect.as(
              Effect.logWarning(`Rejecting request with missing scopes: ${where} (missing=${missing.join(",")})`),
              // the seed's body; RFC 6750 §3 asks a 403 for the token's shortcomings to say so too
              json(403, { error: "missing_scopes", missing: missing.map((scope) => ({ scope })) }, {
                "www-authenticate": challenge({ error: "insufficient_scope", resource_metadata: metadataUrl })
              })
            )
          }
          if (scope !== undefined && !requiredScopes.every((s) => accessToken.scopes.includes(s))) {
            return Effect.as(
              Effect.logWarning(`Rejecting request with insufficient scope: ${where} (required=${scope})`),
              json(403, { error: "insufficient_scope", scope }, {
                "www-authenticate": challenge({ error: "insufficient_scope", scope, resource_metadata: metadataUrl })
              })
            )
          }
          return Effect.succeed<Authentication>(AccessToken.toAuthInfo(accessToken, { resource }))
        }
      })
    )
  }
}

/**
 * The answer to a tool call whose tool requires scopes the token lacks, for `McpHttpServer`'s
 * `insufficientScope` option: 403 with
 * `WWW-Authenticate: Bearer error="insufficient_scope", scope="…", resource_metadata="…"` so the
 * client can ask the user for more (RFC 6750 §3.1, MCP step-up).
 *
 * @since 0.1.0
 * @category constructors
 */
export const insufficientScope = (options: { readonly resourceMetadataUrl?: string | undefined } = {}) =>
(missing: ReadonlyArray<string>): Response =>
  json(403, { error: "insufficient_scope", scope: missing.join(" ") }, {
    "www-authenticate": challenge({
      error: "insufficient_scope",
      scope: missing.join(" "),
      resource_metadata: options.resourceMetadataUrl
    })
  })

// -----------------------------------------------------------------------------
// identity in tools
// -----------------------------------------------------------------------------

/**
 * The caller's token in an Effect tool (fails with `MissingTokenError` for an anonymous call).
 *
 * @since 0.1.0
 * @category accessors
 */
export const currentAccessToken: Effect.Effect<AccessToken.AccessToken, MissingTokenError, ToolContext.ToolContext> =
  Effect.flatMap(ToolContext.ToolContext, (ctx) =>
    Option.match(ctx.authInfo, {
      onNone: () => new MissingTokenError(),
      onSome: (info) => Effect.succeed(AccessToken.fromAuthInfo(info))
    }))

/**
 * The caller in an Effect tool (the empty user for an anonymous call, as the seed's `get_user()`).
 *
 * @since 0.1.0
 * @category accessors
 */
export const currentUser: Effect.Effect<AuthUser.AuthUser, never, ToolContext.ToolContext> = Effect.map(
  ToolContext.ToolContext,
  (ctx) => Option.match(ctx.authInfo, { onNone: () => AuthUser.empty, onSome: (info) => AuthUser.make(AccessToken.fromAuthInfo(info).claims) })
)

/**
 * Services for `McpCredentials.install(server, { context: McpAuth.toolServices })`: every Effect
 * tool can then `yield* AuthUser.CurrentUser` (the empty user when anonymous) and, for an
 * authenticated call, `yield* AccessToken.CurrentAccessToken`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const toolServices = (
  tool: ToolContext.ToolContextShape
): Context.Context<AuthUser.CurrentUser | AccessToken.CurrentAccessToken> =>
  Option.match(tool.authInfo, {
    onNone: () => Context.make(AuthUser.CurrentUser, AuthUser.empty) as Context.Context<any>,
    onSome: (info) => {
      const token = AccessToken.fromAuthInfo(info)
      return Context.make(AuthUser.CurrentUser, AuthUser.make(token.claims)).pipe(
        Context.add(AccessToken.CurrentAccessToken, token)
      )
    }
  })

/**
 * The caller in plain (non-Effect) tool code: a fresh copy each call; the empty user outside a
 * request or for an anonymous call. Never throws (the seed's `get_user()`).
 *
 * @since 0.1.0
 * @category accessors
 */
export const getUser = (): AuthUser.AuthUser => {
  const info = ToolContext.current()?.authInfo
  return info === undefined || Option.isNone(info) ? AuthUser.empty : AuthUser.make(AccessToken.fromAuthInfo(info.value).claims)
}

/**
 * The caller's token in plain tool code, or `undefined` outside a request or when anonymous.
 *
 * @since 0.1.0
 * @category accessors
 */
export const getAccessToken = (): AccessToken.AccessToken | undefined => {
  const info = ToolContext.current()?.authInfo
  return info === undefined || Option.isNone(info) ? undefined : AccessToken.fromAuthInfo(info.value)
}

// -----------------------------------------------------------------------------
// well-known routes
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export interface WellKnownOptions {
  /** The MCP endpoint's URL (the protected resource), e.g. `https://mcp.example.com/mcp`. */
  readonly resource: string
  /** Authorization servers that issue tokens for it (RFC 9728 `authorization_servers`). */
  readonly authorizationServers?: ReadonlyArray<string> | undefined
  /** Scopes a client may request (`scopes_supported`). */
  readonly scopesSupported?: ReadonlyArray<string> | undefined
  /** Public JWE keys (`JweVerifier.PublicKeys`), served at `jwksPath` for any method. */
  readonly publicKeys?: jose.JSONWebKeySet | undefined
  /** Default `/.well-known/jwks.json`. */
  readonly jwksPath?: string | undefined
  /**
   * A scope-discovery document with CORS (GET): `"openid-configuration"` is the seed's
   * `{ issuer, jwks_uri, scopes_supported: [names] }` at `/.well-known/openid-configuration`;
   * `"fhswf-scopes"` is the seed's legacy `{ scopes_supported: [{ scope }] }` at
   * `/.well-known/fhswf-scopes`. `path` overrides the path.
   */
  readonly scopeDiscovery?: {
    readonly shape: "openid-configuration" | "fhswf-scopes"
    readonly path?: string | undefined
    readonly scopes: ReadonlyArray<string>
    /**
     * The issuer (trailing `/` removed); default: the request's base URL (`Host`, and `https`
     * when `X-Forwarded-Proto` says so), answered with `Vary: Host, X-Forwarded-Proto`. Set it
     * when the server is reachable under one public URL.
     */
    readonly issuer?: string | undefined
  } | undefined
}

const cors = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "GET",
  "access-control-allow-headers": "*"
}

/** `resource` as a URL; a value that is not an absolute http(s) URL throws `AuthConfigError` (naming the option, not quoting it). */
const resourceUrl = (resource: string): URL => {
  let url: URL
  try {
    url = new URL(resource)
  } catch {
    throw new AuthConfigError({ field: "resource", reason: "not an absolute URL" })
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new AuthConfigError({ field: "resource", reason: "not an http(s) URL" })
  return url
}

/**
 * Where RFC 9728 puts the metadata of `resource`: `/.well-known/oauth-protected-resource`
 * followed by the resource's path.
 *
 * @since 0.1.0
 * @category constructors
 */
export const resourceMetadataUrl = (resource: string): string => {
  const url = resourceUrl(resource)
  const path = url.pathname === "/" ? "" : url.pathname.replace(/\/$/, "")
  return `${url.origin}/.well-known/oauth-protected-resource${path}`
}

/**
 * The well-known routes, to pass as `McpHttpServer`'s `routes` (or mount on your router):
 * protected-resource metadata at `/.well-known/oauth-protected-resource` (and the path-suffixed
 * form RFC 9728 prescribes), the public JWE keys, and optional scope discovery. All answer
 * without authentication.
 *
 * @since 0.1.0
 * @category constructors
 */
export const wellKnownRouter = (options: WellKnownOptions): HttpRouter.HttpRouter => {
  resourceUrl(options.resource)
  const jwksPath = options.jwksPath ?? "/.well-known/jwks.json"
  const metadata = Effect.sync(() =>
    HttpServerResponse.unsafeJson({
      resource: options.resource,
      ...(options.authorizationServers ? { authorization_servers: options.authorizationServers } : {}),
      ...(options.scopesSupported ? { scopes_supported: options.scopesSupported } : {}),
      bearer_methods_supported: ["header"],
      ...(options.publicKeys ? { jwks_uri: new URL(jwksPath, options.resource).toString() } : {})
    }, { headers: cors })
  )
  const suffixed = new URL(resourceMetadataUrl(options.resource)).pathname
  // a browser client sends MCP-Protocol-Version with its discovery requests: it asks first (CORS
  // preflight), and gets the same headers with no body
  const preflight = Effect.succeed(HttpServerResponse.empty({ status: 204, headers: cors }))
  const document = (path: string, handler: Effect.Effect<HttpServerResponse.HttpServerResponse>) => (r: HttpRouter.HttpRouter<never, never>) =>
    r.pipe(HttpRouter.get(path as HttpRouter.PathInput, handler), HttpRouter.options(path as HttpRouter.PathInput, preflight))
  let router = HttpRouter.empty.pipe(document("/.well-known/oauth-protected-resource", metadata))
  if (suffixed !== "/.well-known/oauth-protected-resource") {
    router = router.pipe(document(suffixed, metadata))
  }
  if (options.publicKeys !== undefined) {
    const keys = options.publicKeys
    router = router.pipe(HttpRouter.all(jwksPath as HttpRouter.PathInput, Effect.sync(() => HttpServerResponse.unsafeJson(keys, { headers: cors }))))
  }
  const discovery = options.scopeDiscovery === undefined
    ? undefined
    : { ...options.scopeDiscovery, scopes: claimNames("scopeDiscovery.scopes", options.scopeDiscovery.scopes) }
  if (discovery !== undefined) {
    const path = discovery.path ?? (discovery.shape === "fhswf-scopes" ? "/.well-known/fhswf-scopes" : "/.well-known/openid-configuration")
    router = router.pipe(HttpRouter.options(path as HttpRouter.PathInput, preflight))
    router = router.pipe(HttpRouter.get(path as HttpRouter.PathInput, Effect.map(HttpServerRequest.HttpServerRequest, (req) => {
      if (discovery.shape === "fhswf-scopes") {
        return HttpServerResponse.unsafeJson({ scopes_supported: discovery.scopes.map((scope) => ({ scope })) }, { headers: cors })
      }
      const configured = discovery.issuer?.replace(/\/+$/, "")
      const base = configured ?? baseUrlOf(req)
      return HttpServerResponse.unsafeJson({
        issuer: base,
        jwks_uri: `${base}/${jwksPath.replace(/^\//, "")}`,
        scopes_supported: discovery.scopes
      }, { headers: configured === undefined ? derivedHeaders : cors })
    })))
  }
  return router
}

// an issuer taken from the request differs by Host and X-Forwarded-Proto: a shared cache must
// not answer one host's clients with the document built for another
const derivedHeaders = { ...cors, vary: "Host, X-Forwarded-Proto" }

const baseUrlOf = (req: HttpServerRequest.HttpServerRequest): string => {
  const host = req.headers["host"] ?? "localhost"
  const proto = req.headers["x-forwarded-proto"] === "https" ? "https" : "http"
  return `${proto}://${host}`
}
