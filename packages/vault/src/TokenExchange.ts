/**
 * On-behalf-of credentials (RFC 8693 token exchange): a credential backend that trades the MCP
 * caller's own access token, at the identity provider's token endpoint, for a token issued for a
 * downstream API (`audience`, `resource`, `scopes`). The tool then calls that API as the user,
 * with a token the API accepts and that is worth nothing elsewhere; the user's MCP token never
 * leaves for the API, and neither token reaches the model (both are scrubbed like every secret of
 * the call).
 *
 * ```ts
 * const app = Layer.mergeAll(
 *   JwtVerifier.layer({ issuer, audience: "https://mcp.example.com" }),
 *   CredentialBackend.layerNamed("orders", TokenExchange.layer({
 *     provider: { name: "idp", issuer, clientId: "mcp-server", clientSecret: Redacted.make(secret) },
 *     audience: "https://orders.example.com",
 *     scopes: ["orders:read"]
 *   }))
 * )
 * creds.registerTool("list_orders", { credentials: { orders: "oauth" } }, async () => {
 *   const token = McpCredentials.getCredentials("orders") // an OAuthCredential
 * })
 * ```
 *
 * The caller's token is the one the transport's auth verified (`McpAuth`): a call without one
 * fails with `TokenExchangeError`. It is sent to `provider`'s token endpoint, so the MCP server
 * should accept only tokens that provider issued. Exchanged tokens are kept per caller token (by
 * its SHA-256, never the token itself) until shortly before they expire, and concurrent calls of
 * one caller share one exchange.
 *
 * @since 0.1.0
 */
import { CredentialBackend, CredentialError, type ResolvedCredential } from "@mcp-credentials/core"
import * as ToolContext from "@mcp-credentials/server/ToolContext"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { createHash } from "node:crypto"
import * as SingleFlight from "./internal/oauthSingleFlight.js"
import * as OAuthProvider from "./OAuthProvider.js"
import { OAuthConfigError, type OAuthDiscoveryError, type TokenRequestError } from "./OAuthProviderError.js"

/**
 * Options of `make` and `layer`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The provider that exchanges: a built `OAuthProvider`, or its options (discovery runs when the backend is built). */
  readonly provider: OAuthProvider.OAuthProvider | OAuthProvider.Options
  /**
   * The grant: `"token-exchange"` (default, RFC 8693: Keycloak, Okta, ZITADEL, …) or
   * `"on-behalf-of"` (Entra ID: the `jwt-bearer` grant with `requested_token_use=on_behalf_of`;
   * the downstream API is named by `scopes`, e.g. `["api://orders/.default"]`, and `audience`,
   * `resource` and the token types do not apply).
   */
  readonly grant?: "token-exchange" | "on-behalf-of" | undefined
  /** The downstream service(s) the new token is for (`audience`, RFC 8693). */
  readonly audience?: string | ReadonlyArray<string> | undefined
  /** The downstream resource URI(s) (`resource`, RFC 8707). */
  readonly resource?: string | ReadonlyArray<string> | undefined
  /** The scopes asked for; default the provider's `scopes`. */
  readonly scopes?: ReadonlyArray<string> | undefined
  /** Default `urn:ietf:params:oauth:token-type:access_token`. */
  readonly requestedTokenType?: string | undefined
  /** The type of the caller's token; default `urn:ietf:params:oauth:token-type:access_token`. */
  readonly subjectTokenType?: string | undefined
  /** How long before its expiry an exchanged token is exchanged anew. Default 60 seconds. */
  readonly expiryMargin?: Duration.DurationInput | undefined
  /**
   * The longest an exchanged token is kept, also when the answer has no `expires_in`. Default 5
   * minutes: a caller whose own token was revoked keeps the exchanged one at most this long.
   */
  readonly maxTtl?: Duration.DurationInput | undefined
  /** The most exchanged tokens kept (least recently used go first). Default 1000; `0` exchanges on every call. */
  readonly capacity?: number | undefined
}

/**
 * A call that cannot be exchanged: it carries no verified access token (the server has no
 * `McpAuth`, or the tool ran outside a call), or the tool declared a static credential (an
 * exchange gives an OAuth token). Reaches the client as the tool's error; names no token.
 *
 * @since 0.1.0
 * @category errors
 */
export class TokenExchangeError extends Schema.TaggedError<TokenExchangeError>(
  "@mcp-credentials/vault/TokenExchangeError"
)("TokenExchangeError", {
  provider: Schema.String,
  reason: Schema.Literal("no_subject_token", "static_requested", "unexpected_token_type", "interaction_required")
}) {
  readonly [CredentialError.TypeId]: CredentialError.TypeId = CredentialError.TypeId
  override get message(): string {
    switch (this.reason) {
      case "no_subject_token":
        return `Token exchange at ${this.provider} needs the caller's access token, and this call has none: ` +
          `serve the MCP server with McpAuth.authenticate, which verifies the caller's bearer token.`
      case "static_requested":
        return `Token exchange at ${this.provider} gives an OAuth token: declare the credential as "oauth", not "static".`
      case "unexpected_token_type":
        return `Token exchange at ${this.provider} issued a token that is not the bearer access token asked for ` +
          `(issued_token_type or token_type differs).`
      case "interaction_required":
        return `${this.provider} needs the user first: they must consent to this application's access to the API, or ` +
          `meet a sign-in requirement (multi-factor, conditional access). Ask them to sign in to the application again ` +
          `interactively, or an administrator to grant consent; then call the tool again.`
    }
  }
}

/**
 * The default `maxTtl`.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxTtl: Duration.Duration = Duration.minutes(5)

/**
 * The default `expiryMargin`.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultExpiryMargin: Duration.Duration = Duration.seconds(60)

/**
 * Builds the backend (discovering the provider when given its options). Exchanges still running
 * when the scope closes are interrupted.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<CredentialBackend.CredentialBackend["Type"], OAuthConfigError | OAuthDiscoveryError, Scope.Scope> =>
  Effect.gen(function*() {
    // a built provider is valid options: `make` checks it again and discovers nothing
    const provider = yield* OAuthProvider.make(options.provider)
    const margin = Duration.toMillis(Duration.decode(options.expiryMargin ?? defaultExpiryMargin))
    const maxTtl = Duration.toMillis(Duration.decode(options.maxTtl ?? defaultMaxTtl))
    const capacity = options.capacity ?? 1000
    if (!Number.isInteger(capacity) || capacity < 0) {
      return yield* new OAuthConfigError({ provider: provider.name, field: "capacity", reason: "must be a whole number, 0 or more" })
    }
    const requestedTokenType = options.requestedTokenType ?? OAuthProvider.accessTokenType
    const cache = new Map<string, { readonly credential: ResolvedCredential.OAuthCredential; readonly until: number }>()
    // concurrent calls of one caller share one exchange, which a cancelled call does not cancel
    const flights = SingleFlight.make<ResolvedCredential.OAuthCredential, TokenRequestError | TokenExchangeError>(yield* Effect.scope)

    const onBehalfOf = options.grant === "on-behalf-of"
    if (onBehalfOf) {
      if ((options.scopes ?? provider.scopes).length === 0) {
        return yield* new OAuthConfigError({ provider: provider.name, field: "scopes", reason: "on-behalf-of names the downstream API by its scopes: give at least one" })
      }
      for (const field of ["audience", "resource", "requestedTokenType", "subjectTokenType"] as const) {
        if (options[field] !== undefined) {
          return yield* new OAuthConfigError({ provider: provider.name, field, reason: "is RFC 8693's: on-behalf-of names the API by its scopes" })
        }
      }
    }
    const exchange = (subjectToken: Redacted.Redacted<string>, key: string, subjectExpiry: number | undefined) =>
      (onBehalfOf
        ? OAuthProvider.onBehalfOf(provider, { assertion: subjectToken, scopes: options.scopes }).pipe(
          // Entra: the user must consent or meet a sign-in requirement; no retry of this call helps
          Effect.catchIf(
            (e) => e._tag === "OAuthTokenError" && (e.error === "interaction_required" || e.suberror === "consent_required"),
            () => Effect.fail(new TokenExchangeError({ provider: provider.name, reason: "interaction_required" }))
          )
        )
        : OAuthProvider.exchangeToken(provider, {
          subjectToken,
          subjectTokenType: options.subjectTokenType,
          requestedTokenType,
          audience: options.audience,
          resource: options.resource,
          scopes: options.scopes
        })).pipe(
        Effect.flatMap((response) =>
          // RFC 8693 §2.2.1: what was issued is what the answer says; a tool sends it as a bearer token
          (response.issuedTokenType !== undefined && response.issuedTokenType !== requestedTokenType) ||
            response.tokenType.toLowerCase() !== "bearer"
            ? Effect.fail(new TokenExchangeError({ provider: provider.name, reason: "unexpected_token_type" }))
            // exchanged anew when it expires, never refreshed: no refresh token kept
            : OAuthProvider.toCredential(provider, { ...response, refreshToken: undefined })
        ),
        Effect.tap((credential) =>
          Effect.map(Clock.currentTimeMillis, (now) => {
            if (capacity === 0) return
            const expiry = credential.expiresAt === undefined ? Infinity : credential.expiresAt.epochMillis - margin
            // never kept beyond the caller's own token
            const until = Math.min(expiry, now + maxTtl, subjectExpiry ?? Infinity)
            if (until <= now) return
            cache.delete(key)
            cache.set(key, { credential, until })
            while (cache.size > capacity) cache.delete(cache.keys().next().value!)
          })
        )
      )

    const resolve = (request: CredentialBackend.CredentialRequest) =>
      Effect.gen(function*() {
        if (request.kind !== "oauth") return yield* new TokenExchangeError({ provider: provider.name, reason: "static_requested" })
        const tool = yield* Effect.serviceOption(ToolContext.ToolContext)
        const info = Option.flatMap(tool, (t) => t.authInfo)
        if (Option.isNone(info)) return yield* new TokenExchangeError({ provider: provider.name, reason: "no_subject_token" })
        const subjectToken = info.value.token
        const key = createHash("sha256").update(Redacted.value(subjectToken), "utf8").digest("base64url")
        const now = yield* Clock.currentTimeMillis
        const hit = cache.get(key)
        if (hit !== undefined) {
          cache.delete(key)
          if (hit.until > now) {
            cache.set(key, hit) // most recently used goes last
            return hit.credential
          }
        }
        const expiresAt = info.value.expiresAt
        return yield* flights.run(key, exchange(subjectToken, key, expiresAt === undefined ? undefined : expiresAt * 1000))
      })

    return CredentialBackend.CredentialBackend.of({
      // the provider's refusals (OAuthTokenError, OAuthRequestError) reach the client as they are: their messages name no token
      resolve: (request) => resolve(request) as Effect.Effect<ResolvedCredential.ResolvedCredential, any>
    })
  })

/**
 * The backend as the default `CredentialBackend`. For a named credential:
 * `CredentialBackend.layerNamed("orders", TokenExchange.layer({ … }))`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<CredentialBackend.CredentialBackend, OAuthConfigError | OAuthDiscoveryError> =>
  Layer.scoped(CredentialBackend.CredentialBackend, make(options))
