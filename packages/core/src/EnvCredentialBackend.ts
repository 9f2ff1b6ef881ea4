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
import * as Redacted from "effect/Redacted"
import { type CredentialError, InvalidCredentialError, MissingCredentialError } from "./CredentialError.js"
import { CredentialBackend } from "./internal/backend.js"
import { fieldsFromJson, parseIsoDateTime, parseJsonObject, splitScopes } from "./internal/parse.js"
import { OAuthCredential, type ResolvedCredential, StaticCredential } from "./ResolvedCredential.js"

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
  const fixed = ["FIELDS", "ACCESS_TOKEN", "REFRESH_TOKEN", "CLIENT_ID", "CLIENT_SECRET", "TOKEN_URI", "SCOPES", "EXPIRES_AT"]
    .map(name)
  const ttlMillis = Duration.toMillis(Duration.decode(options.namesTtl ?? Duration.seconds(1)))
  let cachedNames: { readonly at: number; readonly names: ReadonlyArray<string> } | undefined
  const processEnvNames = (now: number): ReadonlyArray<string> => {
    if (cachedNames === undefined || ttlMillis <= 0 || now - cachedNames.at >= ttlMillis || now < cachedNames.at) {
      cachedNames = { at: now, names: Object.keys(process.env) }
    }
    return cachedNames.names
  }

  const resolveStatic = (lookup: Lookup, names: () => ReadonlyArray<string>): Either.Either<ResolvedCredential, CredentialError> => {
    const fieldsJson = lookup(fieldsVar)
    let fields: Record<string, string>
    if (fieldsJson !== undefined && fieldsJson !== "") {
      const parsed = Either.flatMap(parseJsonObject(fieldsJson), fieldsFromJson)
      if (Either.isLeft(parsed)) return Either.left(new InvalidCredentialError({ variable: fieldsVar, reason: parsed.left }))
      fields = parsed.right
    } else {
      fields = {}
      for (const key of names()) {
        if (!key.startsWith(fieldPrefix)) continue
        const value = lookup(key)
        if (value !== undefined) fields[key.slice(fieldPrefix.length)] = value
      }
    }
    for (const _ in fields) return Either.right(StaticCredential.fromFields(fields))
    return Either.left(new MissingCredentialError({ kind: "static", variables: [fieldsVar, `${fieldPrefix}<name>`] }))
  }

  const resolveOAuth = (lookup: Lookup, names: () => ReadonlyArray<string>): Either.Either<ResolvedCredential, CredentialError> => {
    const get = (suffix: string) => {
      const v = lookup(name(suffix))
      return v === "" ? undefined : v
    }
    const accessToken = get("ACCESS_TOKEN")
    if (accessToken === undefined) {
      return Either.left(new MissingCredentialError({ kind: "oauth", variables: [name("ACCESS_TOKEN")] }))
    }
    const refreshToken = get("REFRESH_TOKEN")
    const clientId = get("CLIENT_ID")
    const clientSecret = get("CLIENT_SECRET")
    const tokenUri = get("TOKEN_URI")
    const scopesRaw = get("SCOPES")
    const scopes = scopesRaw === undefined ? undefined : splitScopes(scopesRaw)
    const expiresRaw = get("EXPIRES_AT")
    let expiresAt: DateTime.Utc | undefined
    if (expiresRaw !== undefined) {
      const millis = parseIsoDateTime(expiresRaw)
      if (millis === undefined) {
        return Either.left(new InvalidCredentialError({
          variable: name("EXPIRES_AT"),
          reason: "not an ISO-8601 date-time, e.g. 2026-05-04T12:00:00Z."
        }))
      }
      expiresAt = DateTime.unsafeMake(millis)
    }
    const extra: Record<string, unknown> = {}
    for (const key of names()) {
      if (!key.startsWith(extraPrefix)) continue
      const value = lookup(key)
      if (value !== undefined) extra[key.slice(extraPrefix.length).toLowerCase()] = value
    }
    return Either.right(
      new OAuthCredential({
        type: "oauth",
        accessToken: Redacted.make(accessToken),
        ...(refreshToken !== undefined ? { refreshToken: Redacted.make(refreshToken) } : {}),
        ...(clientId !== undefined ? { clientId } : {}),
        ...(clientSecret !== undefined ? { clientSecret: Redacted.make(clientSecret) } : {}),
        ...(tokenUri !== undefined ? { tokenUri } : {}),
        ...(scopes !== undefined ? { scopes } : {}),
        ...(expiresAt !== undefined ? { expiresAt } : {}),
        extra
      }, { disableValidation: true })
    )
  }

  return CredentialBackend.of({
    resolve: (request) => {
      const resolveWith = request.kind === "static" ? resolveStatic : resolveOAuth
      return Effect.flatMap(currentProvider, (provider) =>
        provider === defaultProvider
          // the process environment, read directly: Effect's generic Config path costs ~100 µs a call
          ? Effect.flatMap(Clock.currentTimeMillis, (now) =>
            resolveWith((key) => process.env[key], () => processEnvNames(now)))
          : Effect.flatMap(snapshot(provider, fixed), ({ lookup, names }) => resolveWith(lookup, () => names)))
    }
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

type Lookup = (key: string) => string | undefined

/**
 * Reads a provider other than the process environment (`fromMap`, `fromJson`, a test's) into a
 * lookup: the fixed names plus every root key (names listed with their case kept).
 */
const snapshot = (
  provider: ConfigProvider.ConfigProvider,
  fixed: ReadonlyArray<string>
): Effect.Effect<{ readonly lookup: Lookup; readonly names: ReadonlyArray<string> }> =>
  Effect.gen(function*() {
    const names = yield* provider.flattened.enumerateChildren([]).pipe(
      Effect.map((set) => Array.from(HashSet.values(set))),
      Effect.orElseSucceed((): Array<string> => [])
    )
    const values = new Map<string, string>()
    for (const key of new Set([...fixed, ...names])) {
      const value = yield* provider.load(Config.string(key)).pipe(
        Effect.map((v): string | undefined => v),
        Effect.orElseSucceed(() => undefined)
      )
      if (value !== undefined) values.set(key, value)
    }
    return { lookup: (key: string) => values.get(key), names }
  })
