/**
 * Credentials from environment variables, read through Effect `Config` on every call, so a
 * rotated value is picked up without a restart and tests swap a `ConfigProvider`.
 *
 * | variable | meaning |
 * |---|---|
 * | `{P}FIELDS` | static: a JSON object of fields; wins over `{P}FIELD_*` |
 * | `{P}FIELD_<name>` | static: one field, name case kept |
 * | `{P}ACCESS_TOKEN` | oauth: the access token (required) |
 * | `{P}REFRESH_TOKEN`, `{P}CLIENT_ID`, `{P}CLIENT_SECRET`, `{P}TOKEN_URI` | oauth: refresh data |
 * | `{P}SCOPES` | oauth: scopes split on white space |
 * | `{P}EXPIRES_AT` | oauth: ISO-8601 expiry; no offset means UTC |
 * | `{P}EXTRA_<NAME>` | oauth: non-secret metadata under the lowercased name |
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as DefaultServices from "effect/DefaultServices"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as HashSet from "effect/HashSet"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { InvalidCredentialError, MissingCredentialError } from "./CredentialError.js"
import { CredentialBackend } from "./internal/backend.js"
import { fieldsFromJson, parseIsoDateTime, parseJsonObject, splitScopes } from "./internal/parse.js"
import { OAuthCredential, StaticCredential } from "./ResolvedCredential.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Prepended to every variable name, uppercased: `"github_"` reads `GITHUB_FIELDS`. Default `""`. */
  readonly prefix?: string | undefined
  /**
   * How long the list of `process.env` names (for `{P}FIELD_*` and `{P}EXTRA_*`) is reused.
   * Values are read on every call; only the set of names is cached, because listing
   * `process.env` costs tens of microseconds. Default 1 second; `0` lists on every call.
   */
  readonly namesTtl?: Duration.DurationInput | undefined
}

/**
 * Normalises a prefix the way the backend uses it (uppercased).
 *
 * @since 0.1.0
 * @category constructors
 */
export const normalizePrefix = (prefix: string | undefined): string => (prefix ?? "").toUpperCase()

/**
 * Builds the backend service.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): CredentialBackend["Type"] => {
  const prefix = normalizePrefix(options.prefix)
  const name = (suffix: string) => `${prefix}${suffix}`
  const fieldsVar = name("FIELDS")
  const fieldPrefix = name("FIELD_")
  const extraPrefix = name("EXTRA_")
  const listNames = makeNameLister(Duration.toMillis(Duration.decode(options.namesTtl ?? Duration.seconds(1))))

  const resolveStatic = Effect.gen(function*() {
    const provider = yield* currentProvider
    const fieldsJson = yield* read(provider, fieldsVar)
    if (fieldsJson !== undefined && fieldsJson !== "") {
      const fields = Either.flatMap(parseJsonObject(fieldsJson), fieldsFromJson)
      if (Either.isLeft(fields)) {
        return yield* new InvalidCredentialError({ variable: fieldsVar, reason: fields.left })
      }
      return yield* nonEmpty(fields.right)
    }
    const fields: Record<string, string> = {}
    for (const key of yield* listNames(provider)) {
      if (!key.startsWith(fieldPrefix)) continue
      const value = yield* read(provider, key)
      if (value !== undefined) fields[key.slice(fieldPrefix.length)] = value
    }
    return yield* nonEmpty(fields)
  })

  const nonEmpty = (fields: Record<string, string>) =>
    Object.keys(fields).length === 0
      ? new MissingCredentialError({ kind: "static", variables: [fieldsVar, `${fieldPrefix}<name>`] })
      : Effect.succeed(StaticCredential.fromFields(fields))

  const resolveOAuth = Effect.gen(function*() {
    const provider = yield* currentProvider
    const get = (suffix: string) => Effect.map(read(provider, name(suffix)), (v) => (v === "" ? undefined : v))
    const accessToken = yield* get("ACCESS_TOKEN")
    if (accessToken === undefined) {
      return yield* new MissingCredentialError({ kind: "oauth", variables: [name("ACCESS_TOKEN")] })
    }
    const refreshToken = yield* get("REFRESH_TOKEN")
    const clientId = yield* get("CLIENT_ID")
    const clientSecret = yield* get("CLIENT_SECRET")
    const tokenUri = yield* get("TOKEN_URI")
    const scopes = Option.fromNullable(yield* get("SCOPES")).pipe(Option.flatMapNullable(splitScopes))
    const expiresRaw = yield* get("EXPIRES_AT")
    let expiresAt: DateTime.Utc | undefined
    if (expiresRaw !== undefined) {
      const millis = parseIsoDateTime(expiresRaw)
      if (millis === undefined) {
        return yield* new InvalidCredentialError({
          variable: name("EXPIRES_AT"),
          reason: "not an ISO-8601 date-time, e.g. 2026-05-04T12:00:00Z."
        })
      }
      expiresAt = DateTime.unsafeMake(millis)
    }
    const extra: Record<string, unknown> = {}
    for (const key of yield* listNames(provider)) {
      if (!key.startsWith(extraPrefix)) continue
      const value = yield* read(provider, key)
      if (value !== undefined) extra[key.slice(extraPrefix.length).toLowerCase()] = value
    }
    return new OAuthCredential({
      type: "oauth",
      accessToken: Redacted.make(accessToken),
      ...(refreshToken !== undefined ? { refreshToken: Redacted.make(refreshToken) } : {}),
      ...(clientId !== undefined ? { clientId } : {}),
      ...(clientSecret !== undefined ? { clientSecret: Redacted.make(clientSecret) } : {}),
      ...(tokenUri !== undefined ? { tokenUri } : {}),
      ...(Option.isSome(scopes) ? { scopes: scopes.value } : {}),
      ...(expiresAt !== undefined ? { expiresAt } : {}),
      extra
    })
  })

  return CredentialBackend.of({
    resolve: (request) => (request.kind === "static" ? resolveStatic : resolveOAuth)
  })
}

/**
 * The Env backend as the application's `CredentialBackend`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<CredentialBackend> =>
  Layer.succeed(CredentialBackend, make(options))

/**
 * The Env backend with its options read from `Config`, e.g.
 * `layerConfig({ prefix: Config.string("CRED_PREFIX") })`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Config.Config.Wrap<Options>
): Layer.Layer<CredentialBackend, import("effect/ConfigError").ConfigError> =>
  Layer.effect(CredentialBackend, Effect.map(Config.unwrap(options), make))

// -----------------------------------------------------------------------------
// internals
// -----------------------------------------------------------------------------

const currentProvider = Effect.configProviderWith(Effect.succeed)

const defaultProvider = Context.get(DefaultServices.liveServices, ConfigProvider.ConfigProvider)

/**
 * Lists variable names with their case kept. Effect's default provider reads `process.env`, but
 * its own listing uppercases and splits names on `_`, so names come from `process.env` directly
 * there (cached for `ttlMillis`); other providers (`fromMap`, `fromJson`) list their root keys.
 */
const makeNameLister = (ttlMillis: number) => {
  let cached: { readonly at: number; readonly names: ReadonlyArray<string> } | undefined
  return (provider: ConfigProvider.ConfigProvider): Effect.Effect<ReadonlyArray<string>> =>
    provider === defaultProvider
      ? Effect.map(Clock.currentTimeMillis, (now) => {
        if (cached === undefined || ttlMillis <= 0 || now - cached.at >= ttlMillis || now < cached.at) {
          cached = { at: now, names: Object.keys(process.env) }
        }
        return cached.names
      })
      : provider.flattened.enumerateChildren([]).pipe(
        Effect.map((set) => Array.from(HashSet.values(set))),
        Effect.orElseSucceed(() => [])
      )
}

const read = (provider: ConfigProvider.ConfigProvider, key: string): Effect.Effect<string | undefined> =>
  provider.load(Config.string(key)).pipe(
    Effect.map((v): string | undefined => v),
    Effect.orElseSucceed(() => undefined)
  )
