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
import { type CredentialKind, OAuthCredential, type ResolvedCredential, StaticCredential } from "./ResolvedCredential.js"

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
  // the names of process.env, and those under each prefix, listed at most once per `namesTtl`
  let cachedNames: { readonly at: number; readonly names: Names } | undefined
  const processEnvNames = (now: number): Names => {
    if (cachedNames === undefined || ttlMillis <= 0 || now - cachedNames.at >= ttlMillis || now < cachedNames.at) {
      cachedNames = { at: now, names: namesOf(Object.keys(process.env)) }
    }
    return cachedNames.names
  }

  // the fields of the last static credential, reused while the variables they were read from are
  // unchanged (FIELDS is parsed once): their source, as [FIELDS] or [name, value, …]. Every call
  // gets its own credential (its own `Redacted` values): a call that wipes its values
  // (`Redacted.unsafeWipe`) leaves the others' intact.
  let lastStatic: { readonly source: ReadonlyArray<string>; readonly fields: Readonly<Record<string, string>> } | undefined
  const reusable = (source: ReadonlyArray<string>): StaticCredential | undefined =>
    lastStatic !== undefined && sameStrings(lastStatic.source, source) ? StaticCredential.fromFields(lastStatic.fields) : undefined
  const remember = (source: ReadonlyArray<string>, fields: Record<string, string>): StaticCredential => {
    lastStatic = { source, fields }
    return StaticCredential.fromFields(fields)
  }

  const resolveStatic = (lookup: Lookup, names: () => Names): Either.Either<ResolvedCredential, CredentialError> => {
    const fieldsJson = lookup(fieldsVar)
    if (fieldsJson !== undefined && fieldsJson !== "") {
      const source = [fieldsJson]
      const reused = reusable(source)
      if (reused !== undefined) return Either.right(reused)
      const parsed = Either.flatMap(parseJsonObject(fieldsJson), fieldsFromJson)
      if (Either.isLeft(parsed)) return Either.left(new InvalidCredentialError({ variable: fieldsVar, reason: parsed.left }))
      for (const _ in parsed.right) return Either.right(remember(source, parsed.right))
    } else {
      const source: Array<string> = []
      for (const key of names().withPrefix(fieldPrefix)) {
        // `{P}FIELD___proto__` would set the fields' prototype: not a field
        if (key.length === fieldPrefix.length + 9 && key.endsWith("__proto__")) continue
        const value = lookup(key)
        if (value !== undefined) source.push(key, value)
      }
      if (source.length > 0) {
        const reused = reusable(source)
        if (reused !== undefined) return Either.right(reused)
        const fields: Record<string, string> = {}
        for (let i = 0; i < source.length; i += 2) fields[source[i]!.slice(fieldPrefix.length)] = source[i + 1]!
        return Either.right(remember(source, fields))
      }
    }
    return Either.left(new MissingCredentialError({ kind: "static", variables: [fieldsVar, `${fieldPrefix}<name>`] }))
  }

  const resolveOAuth = (lookup: Lookup, names: () => Names): Either.Either<ResolvedCredential, CredentialError> => {
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
    for (const key of names().withPrefix(extraPrefix)) {
      const value = lookup(key)
      const name = key.slice(extraPrefix.length).toLowerCase()
      if (value !== undefined && name !== "__proto__") extra[name] = value
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

  const resolveWith = (kind: CredentialKind, lookup: Lookup, names: () => Names) =>
    (kind === "static" ? resolveStatic : resolveOAuth)(lookup, names)
  // the process environment, read directly: Effect's generic Config path costs ~100 µs a call
  const lookupProcessEnv: Lookup = (key) => process.env[key]
  const resolveProcessEnv = (kind: CredentialKind, now: number) => resolveWith(kind, lookupProcessEnv, () => processEnvNames(now))

  return CredentialBackend.of({
    resolve: (request) =>
      Effect.flatMap(currentProvider, (provider) =>
        provider === defaultProvider
          ? Effect.flatMap(Clock.currentTimeMillis, (now) => resolveProcessEnv(request.kind, now))
          : Effect.flatMap(snapshot(provider, fixed), ({ lookup, names }) => resolveWith(request.kind, lookup, () => namesOf(names)))),
    // the same without a fiber, when the runtime reads the process environment (another
    // ConfigProvider is read through Effect)
    unsafeResolve: (request, services) =>
      Context.get(services, ConfigProvider.ConfigProvider) === defaultProvider
        ? resolveProcessEnv(request.kind, Context.get(services, Clock.Clock).unsafeCurrentTimeMillis())
        : undefined
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

/** A list of variable names, and the names under a prefix (each prefix filtered once). */
interface Names {
  readonly withPrefix: (prefix: string) => ReadonlyArray<string>
}

const namesOf = (all: ReadonlyArray<string>): Names => {
  const byPrefix = new Map<string, ReadonlyArray<string>>()
  return {
    withPrefix: (prefix) => {
      let names = byPrefix.get(prefix)
      if (names === undefined) {
        names = all.filter((name) => name.startsWith(prefix))
        byPrefix.set(prefix, names)
      }
      return names
    }
  }
}

const sameStrings = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

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
