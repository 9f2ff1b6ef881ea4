/**
 * The credential a tool call receives: a static set of named secret fields (API keys, PATs) or an
 * OAuth token with its metadata. Every secret is `Redacted`.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { SecretString } from "./SecretString.js"

/**
 * The two kinds of credential a tool can ask for.
 *
 * @since 0.1.0
 * @category models
 */
export type CredentialKind = "static" | "oauth"

/**
 * Named secret fields, such as `{ apiKey }` or `{ keyId, keySecret }`. Every value is secret.
 *
 * @since 0.1.0
 * @category models
 */
export class StaticCredential extends Schema.Class<StaticCredential>("StaticCredential")({
  type: Schema.Literal("static"),
  fields: Schema.Record({ key: Schema.String, value: SecretString })
}) {
  /**
   * Builds a static credential from plain field values.
   *
   * @since 0.1.0
   */
  static fromFields(fields: Readonly<Record<string, string>>): StaticCredential {
    const out: Record<string, Redacted.Redacted<string>> = {}
    for (const k of Object.keys(fields)) {
      // an own `__proto__` key (JSON.parse makes one) stays a field: assigned, it would set the
      // object's prototype (the field lost, the fields object a `Redacted`)
      if (k === "__proto__") Object.defineProperty(out, k, { value: Redacted.make(fields[k]!), enumerable: true, writable: true, configurable: true })
      else out[k] = Redacted.make(fields[k]!)
    }
    // what the constructor builds without validation, field by field (the backends call this on
    // every tool call; the constructor costs ~0.7 µs more)
    const self: { -readonly [K in keyof StaticCredential]: StaticCredential[K] } = Object.create(StaticCredential.prototype)
    self.type = "static"
    self.fields = out
    return self
  }
}

/**
 * An OAuth access token, with what is needed to refresh it. `extra` holds non-secret metadata
 * (a data centre, a workspace id) and defaults to `{}`.
 *
 * @since 0.1.0
 * @category models
 */
export class OAuthCredential extends Schema.Class<OAuthCredential>("OAuthCredential")({
  type: Schema.Literal("oauth"),
  accessToken: SecretString,
  refreshToken: Schema.optional(SecretString),
  clientId: Schema.optional(Schema.String),
  clientSecret: Schema.optional(SecretString),
  tokenUri: Schema.optional(Schema.String),
  scopes: Schema.optional(Schema.Array(Schema.String)),
  expiresAt: Schema.optional(Schema.DateTimeUtc),
  extra: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.Unknown }), {
    default: () => ({})
  })
}) {}

/**
 * The schema of a resolved credential: a union discriminated by `type`. Encoding it gives the
 * plain secrets back; encode only into an encrypted store.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ResolvedCredential = Schema.Union(StaticCredential, OAuthCredential)

/**
 * A static or an OAuth credential.
 *
 * @since 0.1.0
 * @category models
 */
export type ResolvedCredential = StaticCredential | OAuthCredential

/**
 * @since 0.1.0
 * @category refinements
 */
export const isStatic = (self: ResolvedCredential): self is StaticCredential => self.type === "static"

/**
 * @since 0.1.0
 * @category refinements
 */
export const isOAuth = (self: ResolvedCredential): self is OAuthCredential => self.type === "oauth"

/**
 * The default safety margin of `isExpired`: a token that expires within 60 seconds counts as
 * expired, so it is not handed to a request that would outlive it.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultExpiryMargin: Duration.Duration = Duration.seconds(60)

/**
 * Whether the credential is expired, or expires within `margin` (60 s by default), according to
 * the `Clock` (so `TestClock` drives it). Static credentials and tokens without an expiry never
 * expire.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isExpired = (
  self: ResolvedCredential,
  options?: { readonly margin?: Duration.DurationInput }
): Effect.Effect<boolean> =>
  self.type === "static" || self.expiresAt === undefined
    ? Effect.succeed(false)
    : Effect.map(Clock.currentTimeMillis, (now) => isExpiredAt(self, now, options))

/**
 * `isExpired` at a given time in epoch milliseconds, for code outside Effect.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isExpiredAt = (
  self: ResolvedCredential,
  nowMillis: number,
  options?: { readonly margin?: Duration.DurationInput }
): boolean => {
  if (self.type === "static" || self.expiresAt === undefined) return false
  const margin = Duration.toMillis(Duration.decode(options?.margin ?? defaultExpiryMargin))
  return nowMillis >= DateTime.toEpochMillis(self.expiresAt) - margin
}

/**
 * Every secret value the credential holds, in plain text: the static fields, the access and
 * refresh tokens and the client secret. For scrubbers only: never log or return them.
 *
 * @since 0.1.0
 * @category accessors
 */
export const secretValues = (self: ResolvedCredential): ReadonlyArray<string> => {
  if (self.type === "static") return Object.values(self.fields).map(Redacted.value)
  const out = [Redacted.value(self.accessToken)]
  if (self.refreshToken !== undefined) out.push(Redacted.value(self.refreshToken))
  if (self.clientSecret !== undefined) out.push(Redacted.value(self.clientSecret))
  return out
}
