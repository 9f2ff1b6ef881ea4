/**
 * Accepts a fixed set of bearer tokens (API keys), each mapped to an identity: client id, scopes,
 * claims (FastMCP's `StaticTokenVerifier`). The comparison is constant-time: the presented token
 * and every configured token are hashed with SHA-256 and all entries are compared with
 * `timingSafeEqual`, so timing says nothing about how much of a token matched, nor which entry.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { createHash, timingSafeEqual } from "node:crypto"
import * as AccessToken from "./AccessToken.js"
import { AuthConfigError, InvalidTokenError, MissingTokenError } from "./AuthError.js"
import { freezeDateTime, frozenCopy } from "./internal/freeze.js"
import * as TokenVerifier from "./TokenVerifier.js"

/**
 * One accepted token and who it stands for. `clientId` defaults to `"static"`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Entry {
  readonly token: Redacted.Redacted<string>
  readonly clientId?: string | undefined
  /** Who the token stands for (`AccessToken.subject`, the vault's user). Default: `claims.sub`. */
  readonly subject?: string | undefined
  readonly scopes?: ReadonlyArray<string> | undefined
  readonly claims?: Readonly<Record<string, unknown>> | undefined
  /** A fixed expiry; past it the token is refused as `expired`. Default: a rolling horizon. */
  readonly expiresAt?: DateTime.Utc | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly tokens: ReadonlyArray<Entry>
  /**
   * A token without `expiresAt` is reported as expiring this long after each verification, so the
   * MCP SDK's bearer check (which refuses tokens without an expiry) accepts it. Default 24 hours.
   */
  readonly expiryHorizon?: Duration.DurationInput | undefined
  /** The verified-token cache (`TokenVerifier.cached`); `false` turns it off. On by default. */
  readonly cache?: TokenVerifier.CacheOptions | false | undefined
}

/**
 * The default expiry horizon: 24 hours.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultExpiryHorizon: Duration.Duration = Duration.hours(24)

/**
 * Builds a verifier (without the cache; the layers add it). Fails with `AuthConfigError` when no
 * token is given, a token is empty, or two entries share a token.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<TokenVerifier.Verifier, AuthConfigError> =>
  Effect.gen(function*() {
    if (options.tokens.length === 0) return yield* new AuthConfigError({ field: "tokens", reason: "no token configured" })
    // each token's claims and expiry as a frozen copy: every request with the token shares them
    const entries = options.tokens.map((entry) => ({
      entry: {
        ...entry,
        ...(entry.claims === undefined ? {} : { claims: frozenCopy(entry.claims) }),
        ...(entry.expiresAt === undefined ? {} : { expiresAt: freezeDateTime(DateTime.unsafeMake(DateTime.toEpochMillis(entry.expiresAt))) })
      },
      digest: digest(Redacted.value(entry.token))
    }))
    for (const [i, { digest: d, entry }] of entries.entries()) {
      if (Redacted.value(entry.token) === "") return yield* new AuthConfigError({ field: "tokens", reason: `token ${i} is empty` })
      if (entries.some((other, j) => j < i && other.digest.equals(d))) {
        return yield* new AuthConfigError({ field: "tokens", reason: `token ${i} is configured twice` })
      }
    }
    const horizon = Duration.toMillis(Duration.decode(options.expiryHorizon ?? defaultExpiryHorizon))

    return TokenVerifier.make((token) =>
      Effect.gen(function*() {
        const value = Redacted.value(token)
        if (value === "") return yield* new MissingTokenError()
        const presented = digest(value)
        let found = -1
        for (let i = 0; i < entries.length; i++) {
          // every entry is compared, the loop never exits early
          const equal = timingSafeEqual(presented, entries[i]!.digest)
          found = equal && found === -1 ? i : found
        }
        if (found === -1) return yield* new InvalidTokenError({ reason: "unknown token" })
        const entry = entries[found]!.entry
        const now = yield* Clock.currentTimeMillis
        if (entry.expiresAt !== undefined && DateTime.toEpochMillis(entry.expiresAt) <= now) {
          return yield* new InvalidTokenError({ reason: "expired" })
        }
        return AccessToken.make({
          token,
          clientId: entry.clientId ?? "static",
          // as for a JWT, the subject is the `sub` claim unless given
          subject: entry.subject ?? (typeof entry.claims?.sub === "string" && entry.claims.sub !== "" ? entry.claims.sub : undefined),
          scopes: entry.scopes,
          expiresAt: entry.expiresAt ?? DateTime.unsafeMake(now + horizon),
          claims: entry.claims
        })
      })
    )
  })

/**
 * The verifier as a layer, with the verified-token cache unless `cache: false`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<TokenVerifier.TokenVerifier, AuthConfigError> =>
  Layer.effect(TokenVerifier.TokenVerifier, make(options).pipe(TokenVerifier.withCache(options.cache)))

/**
 * `layer` with options read from `Config`, e.g. one API key from the environment:
 * `layerConfig({ tokens: Config.map(Config.redacted("API_KEY"), (token) => [{ token, clientId: "ci" }]) })`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Config.Config.Wrap<Options>
): Layer.Layer<TokenVerifier.TokenVerifier, AuthConfigError | ConfigError.ConfigError> =>
  Layer.effect(
    TokenVerifier.TokenVerifier,
    Effect.flatMap(Config.unwrap(options), (o) => make(o).pipe(TokenVerifier.withCache(o.cache)))
  )

/**
 * Entries from a FastMCP-style record `{ "<token>": { clientId, scopes, claims } }`: the keys are
 * wrapped as `Redacted`. Prefer building entries from `Config.redacted` in applications, so tokens
 * never sit in source code.
 *
 * @since 0.1.0
 * @category constructors
 */
export const entriesFromRecord = (
  record: Readonly<Record<string, Omit<Entry, "token">>>
): Array<Entry> => Object.entries(record).map(([token, entry]) => ({ ...entry, token: Redacted.make(token) }))

const digest = (value: string): Buffer => createHash("sha256").update(value, "utf8").digest()
