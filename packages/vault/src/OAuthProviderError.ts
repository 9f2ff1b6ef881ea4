/**
 * The tagged errors of downstream OAuth: discovery, the token endpoint, refresh coordination and
 * re-authorization. A message names the provider, the grant and the OAuth error code; it never
 * holds an access token, refresh token, authorization code, PKCE verifier or `state`.
 *
 * @since 0.1.0
 */
import { CredentialError } from "@mcp-credentials/core"
import * as Schema from "effect/Schema"

/**
 * The requests this package sends to a provider: the grants of its token endpoint
 * (`"token_exchange"` is RFC 8693's `urn:ietf:params:oauth:grant-type:token-exchange`,
 * `"on_behalf_of"` Entra ID's `urn:ietf:params:oauth:grant-type:jwt-bearer` with
 * `requested_token_use=on_behalf_of`), and
 * `"revocation"` (RFC 7009, its revocation endpoint).
 *
 * @since 0.1.0
 * @category models
 */
export const Grant = Schema.Literal(
  "authorization_code",
  "refresh_token",
  "client_credentials",
  "token_exchange",
  "on_behalf_of",
  "revocation"
)

const grantName = (grant: Grant) => grant === "token_exchange" ? "token exchange" : grant === "on_behalf_of" ? "on-behalf-of" : grant

const requestName = (grant: Grant) =>
  grant === "revocation"
    ? "revocation request"
    : grant === "token_exchange"
    ? "token exchange"
    : grant === "on_behalf_of"
    ? "on-behalf-of request"
    : `${grant} grant`

/**
 * @since 0.1.0
 * @category models
 */
export type Grant = typeof Grant.Type

/**
 * The provider's options are unusable (a missing endpoint, a URL that does not parse, an empty
 * client id). `field` names the option.
 *
 * @since 0.1.0
 * @category errors
 */
export class OAuthConfigError extends Schema.TaggedError<OAuthConfigError>(
  "@mcp-credentials/vault/OAuthConfigError"
)("OAuthConfigError", {
  provider: Schema.String,
  field: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `OAuth provider ${this.provider}: invalid ${this.field}: ${this.reason}`
  }
}

/**
 * The issuer's metadata (OIDC discovery or RFC 8414) could not be fetched or is not usable.
 *
 * @since 0.1.0
 * @category errors
 */
export class OAuthDiscoveryError extends Schema.TaggedError<OAuthDiscoveryError>(
  "@mcp-credentials/vault/OAuthDiscoveryError"
)("OAuthDiscoveryError", {
  provider: Schema.String,
  issuer: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `OAuth provider ${this.provider}: discovery at ${this.issuer} failed: ${this.reason}`
  }
}

/**
 * The token endpoint answered with an OAuth error (`invalid_grant`, `invalid_client`, …).
 * `description` is the provider's `error_description`, with every value this request sent
 * removed, cut to 200 characters.
 *
 * @since 0.1.0
 * @category errors
 */
export class OAuthTokenError extends Schema.TaggedError<OAuthTokenError>(
  "@mcp-credentials/vault/OAuthTokenError"
)("OAuthTokenError", {
  provider: Schema.String,
  grant: Grant,
  status: Schema.Number,
  error: Schema.String,
  /** Entra ID's finer code (`suberror`: `consent_required`, `basic_action`, …), when it gives one. */
  suberror: Schema.optional(Schema.String),
  description: Schema.optional(Schema.String)
}) {
  override get message(): string {
    return `OAuth provider ${this.provider} refused the ${requestName(this.grant)} (HTTP ${this.status}): ${this.error}` +
      (this.suberror === undefined ? "" : `/${this.suberror}`) +
      (this.description === undefined ? "" : ` (${this.description})`)
  }
}

/**
 * The token request did not get a usable answer: the endpoint was unreachable, timed out,
 * redirected, or answered with something that is not a token response.
 *
 * @since 0.1.0
 * @category errors
 */
export class OAuthRequestError extends Schema.TaggedError<OAuthRequestError>(
  "@mcp-credentials/vault/OAuthRequestError"
)("OAuthRequestError", {
  provider: Schema.String,
  grant: Grant,
  reason: Schema.String
}) {
  override get message(): string {
    return `OAuth provider ${this.provider}: the ${
      grantName(this.grant)
    } request failed: ${this.reason}`
  }
}

/**
 * The user must authorize again: nothing usable is stored, the token expired without a refresh
 * token, or the provider answered `invalid_grant` for the stored refresh token (and no newer
 * token had been written meanwhile). The elicitation flow turns it into a new authorization.
 *
 * @since 0.1.0
 * @category errors
 */
export class ReauthorizationRequiredError extends Schema.TaggedError<ReauthorizationRequiredError>(
  "@mcp-credentials/vault/ReauthorizationRequiredError"
)("ReauthorizationRequiredError", {
  provider: Schema.String,
  reason: Schema.Literal("no_token", "no_refresh_token", "invalid_grant")
}) {
  /** Marks it as a credential error, so a tool call that fails with it shows the message. */
  readonly [CredentialError.TypeId]: CredentialError.TypeId = CredentialError.TypeId
  override get message(): string {
    const why = this.reason === "no_token"
      ? "no token is stored for this user"
      : this.reason === "no_refresh_token"
      ? "the access token expired and there is no refresh token"
      : "the provider rejected the refresh token (invalid_grant)"
    return `${this.provider} authorization is required again: ${why}.`
  }
}

/**
 * Another replica holds the refresh of this token and did not finish within the wait.
 *
 * @since 0.1.0
 * @category errors
 */
export class RefreshTimeoutError extends Schema.TaggedError<RefreshTimeoutError>(
  "@mcp-credentials/vault/RefreshTimeoutError"
)("RefreshTimeoutError", {
  provider: Schema.String
}) {
  readonly [CredentialError.TypeId]: CredentialError.TypeId = CredentialError.TypeId
  override get message(): string {
    return `The ${this.provider} token is being refreshed elsewhere and the refresh did not finish in time; try again.`
  }
}

/**
 * What a token request can fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type TokenRequestError = OAuthTokenError | OAuthRequestError
