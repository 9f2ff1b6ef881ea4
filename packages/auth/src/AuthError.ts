/**
 * The tagged errors of inbound authentication. A message names what is wrong (a fixed reason, a
 * header, a scope, a configuration field) and never a value: no token, no claim value, no key
 * material, so every one of them is safe to log or to show to a client.
 *
 * @since 0.1.0
 */
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"

/**
 * Marks every auth error, so `isAuthError` can tell them apart from other failures.
 *
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@mcp-credentials/auth/AuthError")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * Why a token was refused: a fixed phrase, never token content.
 *
 * - `malformed`: not a compact JWS/JWE, bad base64url or JSON, a claim of the wrong type.
 * - `too large`: over the size limit (16 KiB by default), refused before parsing.
 * - `expired`, `not yet valid`: `exp` / `nbf` (or a future `iat`) outside the clock tolerance.
 * - `wrong audience`, `wrong issuer`: `aud` / `iss` do not match (or are missing when required).
 * - `missing claim`: a required claim (`exp` by default; `iat` and `exp` for seed JWEs) is absent.
 * - `unknown key id`: no trusted key has the token's `kid` (after a JWKS refetch).
 * - `key id required`: the token has no `kid` and several keys could verify it.
 * - `bad signature`: the signature or MAC does not verify.
 * - `unsupported algorithm`: `alg`/`enc` outside the allow-list (`none`, HS256 against an RSA key,
 *   a wrong JWE `enc`).
 * - `unsupported crit header`: a `crit` extension this verifier does not understand.
 * - `decryption failed`: the JWE does not decrypt with the key its `kid` names.
 * - `unsigned JWE payload`: the JWE decrypted to something that is not a signed JWT.
 * - `empty claims`: the token verified but carries no claims (seed: `{"data": {}}`).
 * - `inactive`: the introspection endpoint answered `active: false`.
 * - `unknown token`: not one of the configured static tokens.
 *
 * @since 0.1.0
 * @category models
 */
export const InvalidTokenReason = Schema.Literal(
  "malformed",
  "too large",
  "expired",
  "not yet valid",
  "wrong audience",
  "wrong issuer",
  "missing claim",
  "unknown key id",
  "key id required",
  "bad signature",
  "unsupported algorithm",
  "unsupported crit header",
  "decryption failed",
  "unsigned JWE payload",
  "empty claims",
  "inactive",
  "unknown token",
  "not an access token"
)

/**
 * @since 0.1.0
 * @category models
 */
export type InvalidTokenReason = typeof InvalidTokenReason.Type

/**
 * The request carries no bearer token (or an empty one).
 *
 * @since 0.1.0
 * @category errors
 */
export class MissingTokenError extends Schema.TaggedError<MissingTokenError>(
  "@mcp-credentials/auth/MissingTokenError"
)("MissingTokenError", {}) {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return "Missing bearer token"
  }
}

/**
 * A bearer token was presented and refused. `reason` is one of the fixed phrases of
 * `InvalidTokenReason`; the token itself is never part of the error.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidTokenError extends Schema.TaggedError<InvalidTokenError>(
  "@mcp-credentials/auth/InvalidTokenError"
)("InvalidTokenError", {
  reason: InvalidTokenReason
}) {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `Invalid bearer token: ${this.reason}`
  }
}

/**
 * The JWKS endpoint could not be used: it timed out, answered a non-200 status, sent a body that
 * is too large or not a key set, or the network failed. The token was not judged.
 *
 * @since 0.1.0
 * @category errors
 */
export class JwksFetchError extends Schema.TaggedError<JwksFetchError>(
  "@mcp-credentials/auth/JwksFetchError"
)("JwksFetchError", {
  reason: Schema.Literal("timeout", "http status", "too large", "invalid key set", "network", "discovery"),
  status: Schema.optional(Schema.Number)
}) {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `JWKS fetch failed: ${this.reason}${this.status === undefined ? "" : ` ${this.status}`}`
  }
}

/**
 * The introspection endpoint could not be used (timeout, non-200 status, a body that is not an
 * RFC 7662 response, network failure). An answer of `active: false` is an `InvalidTokenError`
 * with reason `inactive`, not this error.
 *
 * @since 0.1.0
 * @category errors
 */
export class IntrospectionError extends Schema.TaggedError<IntrospectionError>(
  "@mcp-credentials/auth/IntrospectionError"
)("IntrospectionError", {
  reason: Schema.Literal("timeout", "http status", "too large", "invalid response", "network"),
  status: Schema.optional(Schema.Number)
}) {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `Token introspection failed: ${this.reason}${this.status === undefined ? "" : ` ${this.status}`}`
  }
}

/**
 * The token is valid but lacks scopes the operation requires. `missing` is the subset of
 * `required` the token does not hold, in required order (scope names are not secret).
 *
 * @since 0.1.0
 * @category errors
 */
export class InsufficientScopeError extends Schema.TaggedError<InsufficientScopeError>(
  "@mcp-credentials/auth/InsufficientScopeError"
)("InsufficientScopeError", {
  required: Schema.Array(Schema.String),
  missing: Schema.Array(Schema.String)
}) {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `Insufficient scope: missing ${this.missing.join(", ")}`
  }
}

/**
 * A verifier's configuration cannot work (no key, an unreadable key file, a key of the wrong
 * kind for the algorithms, an audience left unset). Raised when the layer is built, so a
 * misconfigured server fails at startup instead of refusing every request. `field` names the
 * option, `reason` says what is wrong without quoting it.
 *
 * @since 0.1.0
 * @category errors
 */
export class AuthConfigError extends Schema.TaggedError<AuthConfigError>(
  "@mcp-credentials/auth/AuthConfigError"
)("AuthConfigError", {
  field: Schema.String,
  reason: Schema.String
}) {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `Invalid auth configuration (${this.field}): ${this.reason}`
  }
}

/**
 * Every error `TokenVerifier.verify` can fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type AuthError = MissingTokenError | InvalidTokenError | JwksFetchError | IntrospectionError

/**
 * Tells whether a value is one of this module's errors.
 *
 * @since 0.1.0
 * @category refinements
 */
export const isAuthError = (
  u: unknown
): u is AuthError | InsufficientScopeError | AuthConfigError => Predicate.hasProperty(u, TypeId)

/**
 * How much an error says about the token, for `TokenVerifier.firstOf`: when every verifier
 * refuses, the error with the highest rank is reported (ties: the earlier verifier).
 *
 * 0 no token; 1 not this verifier's format (`malformed`, `unknown token`, `too large`); 2 not this
 * verifier's issuer (`unknown key id`, `wrong issuer`, `decryption failed`, `key id required`);
 * 3 the verifier could not decide (JWKS or introspection failure); 4 the verifier recognised the
 * token and found a concrete fault (expired, wrong audience, bad signature, …).
 *
 * @since 0.1.0
 * @category utils
 */
export const specificity = (error: AuthError): number => {
  switch (error._tag) {
    case "MissingTokenError":
      return 0
    case "JwksFetchError":
    case "IntrospectionError":
      return 3
    case "InvalidTokenError":
      switch (error.reason) {
        case "malformed":
        case "unknown token":
        case "too large":
          return 1
        case "unknown key id":
        case "wrong issuer":
        case "decryption failed":
        case "key id required":
          return 2
        default:
          return 4
      }
  }
}
