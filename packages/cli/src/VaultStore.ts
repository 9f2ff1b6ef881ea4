/**
 * The credential store behind `mcp-credentials vault`: chosen from flags or environment variables
 * (file, Redis or Postgres, all from `@mcp-credentials/vault`, encrypted with the keyring of
 * `MCP_CREDENTIALS_ENCRYPTION_KEY` / `MCP_CREDENTIALS_ENCRYPTION_KEY_FILE`), and a listing of what
 * it holds that shows names and metadata, never a value.
 *
 * The vault and its drivers are loaded only when a `vault` command runs, so the other commands
 * start as fast as before and work without `ioredis` or `@effect/sql-pg` installed.
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type { CredentialStore, StoredCredential, StoreKey } from "@mcp-credentials/vault/CredentialStore"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as path from "node:path"
import { CredentialStoreError, InvalidArgumentError } from "./CliError.js"
import * as Files from "./internal/files.js"

/**
 * The store backends.
 *
 * @since 0.1.0
 * @category constants
 */
export const storeKinds = ["file", "redis", "postgres"] as const

/**
 * @since 0.1.0
 * @category models
 */
export type StoreKind = typeof storeKinds[number]

/**
 * The environment variables read when the matching flag is absent (the first one set wins).
 * The encryption key is read by `Keyring.layerConfig` from `MCP_CREDENTIALS_ENCRYPTION_KEY` or
 * `MCP_CREDENTIALS_ENCRYPTION_KEY_FILE`, never from a flag.
 *
 * @since 0.1.0
 * @category constants
 */
export const variables = {
  store: ["MCP_CREDENTIALS_STORE"],
  directory: ["MCP_CREDENTIALS_FILE_DIR"],
  namespace: ["MCP_CREDENTIALS_FILE_NAMESPACE"],
  redisUrl: ["MCP_CREDENTIALS_REDIS_URL", "REDIS_URL"],
  redisPrefix: ["MCP_CREDENTIALS_REDIS_PREFIX"],
  databaseUrl: ["MCP_CREDENTIALS_DATABASE_URL", "DATABASE_URL"],
  schema: ["MCP_CREDENTIALS_PG_SCHEMA"]
} as const

/**
 * The settings as given on the command line (each optional; `resolve` fills them from the
 * environment and checks them).
 *
 * @since 0.1.0
 * @category models
 */
export interface Flags {
  readonly store?: StoreKind | undefined
  readonly directory?: string | undefined
  readonly namespace?: string | undefined
  readonly redisUrl?: Redacted.Redacted<string> | undefined
  readonly redisPrefix?: string | undefined
  readonly databaseUrl?: Redacted.Redacted<string> | undefined
  readonly schema?: string | undefined
}

/**
 * A chosen, checked store. `source` says where the connection setting came from (a flag, a
 * variable's name, or `default`), for error messages that never show the URL itself.
 *
 * @since 0.1.0
 * @category models
 */
export type StoreOptions =
  | { readonly store: "file"; readonly directory: string; readonly namespace: string; readonly source: string }
  | {
    readonly store: "redis"
    readonly url: Redacted.Redacted<string> | undefined
    readonly prefix: string
    readonly source: string
  }
  | { readonly store: "postgres"; readonly url: Redacted.Redacted<string>; readonly schema: string; readonly source: string }

/**
 * What `vault list` shows of a stored credential: names and metadata only. For an OAuth
 * credential `fields` names the members that are present (`accessToken`, `refreshToken`, …,
 * `extra.<name>`); `tokenExpiresAt` is the token's own expiry, `expiresAt` the record's TTL.
 *
 * @since 0.1.0
 * @category models
 */
export interface Entry {
  readonly provider: string
  readonly subject: string
  readonly kind: "static" | "oauth"
  readonly fields: ReadonlyArray<string>
  readonly scopes: ReadonlyArray<string> | null
  readonly generation: number
  readonly createdAt: string
  readonly expiresAt: string | null
  readonly tokenExpiresAt: string | null
}

/**
 * The operations the commands use, with every failure turned into a `CredentialStoreError`, also
 * an unexpected exception of the store (a malformed store file or record), which never quotes
 * what is stored.
 *
 * @since 0.1.0
 * @category models
 */
export interface Store {
  readonly options: StoreOptions
  readonly list: (subject?: string) => Effect.Effect<ReadonlyArray<StoredCredential>, CredentialStoreError>
  readonly delete: (key: StoreKey) => Effect.Effect<boolean, CredentialStoreError>
  /**
   * Deletes every record of `subject` without opening them, so also records sealed with a key
   * the keyring no longer holds; returns how many were removed (expired records included).
   */
  readonly deleteSubject: (subject: string) => Effect.Effect<number, CredentialStoreError>
}

/**
 * Fills the settings from the environment (see `variables`) and checks them: a flag of another
 * backend, a bad namespace or schema, or Postgres without a URL is an `InvalidArgumentError`
 * naming the flag or variable. The file store needs a directory (`--dir` or
 * `MCP_CREDENTIALS_FILE_DIR`); Redis defaults to `redis://127.0.0.1:6379`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const resolve = (flags: Flags): Effect.Effect<StoreOptions, InvalidArgumentError> =>
  Effect.gen(function*() {
    let store: StoreKind = "file"
    if (flags.store !== undefined) store = flags.store
    else {
      const fromEnv = yield* firstSet(variables.store)
      if (fromEnv !== undefined) {
        if (!(storeKinds as ReadonlyArray<string>).includes(fromEnv.value)) {
          return yield* new InvalidArgumentError({
            option: fromEnv.name,
            reason: `use one of ${storeKinds.join(", ")}`
          })
        }
        store = fromEnv.value as StoreKind
      }
    }
    const foreign: ReadonlyArray<readonly [keyof Flags, string, StoreKind]> = [
      ["directory", "--dir", "file"],
      ["namespace", "--namespace", "file"],
      ["redisUrl", "--redis-url", "redis"],
      ["redisPrefix", "--redis-prefix", "redis"],
      ["databaseUrl", "--database-url", "postgres"],
      ["schema", "--schema", "postgres"]
    ]
    for (const [key, flag, owner] of foreign) {
      if (flags[key] !== undefined && owner !== store) {
        return yield* new InvalidArgumentError({ option: flag, reason: `applies to --store ${owner}, not ${store}` })
      }
    }
    switch (store) {
      case "file": {
        const dir = flags.directory !== undefined
          ? { name: "--dir", value: flags.directory }
          : yield* firstSet(variables.directory)
        if (dir === undefined || dir.value.trim() === "") {
          return yield* new InvalidArgumentError({
            option: "--dir",
            reason: `the file store's directory is required: pass --dir DIR or set ${variables.directory[0]}`
          })
        }
        const namespace = flags.namespace ?? (yield* firstSet(variables.namespace))?.value ?? "default"
        if (!/^[A-Za-z0-9_-]+$/.test(namespace)) {
          return yield* new InvalidArgumentError({
            option: flags.namespace !== undefined ? "--namespace" : variables.namespace[0],
            reason: "use letters, digits, '-' and '_' only"
          })
        }
        return { store, directory: dir.value, namespace, source: dir.name }
      }
      case "redis": {
        const url = flags.redisUrl !== undefined
          ? { name: "--redis-url", value: flags.redisUrl }
          : yield* firstRedacted(variables.redisUrl)
        const prefix = flags.redisPrefix ?? (yield* firstSet(variables.redisPrefix))?.value ?? "mcp:credentials:"
        return { store, url: url?.value, prefix, source: url?.name ?? "default redis://127.0.0.1:6379" }
      }
      case "postgres": {
        const url = flags.databaseUrl !== undefined
          ? { name: "--database-url", value: flags.databaseUrl }
          : yield* firstRedacted(variables.databaseUrl)
        if (url === undefined) {
          return yield* new InvalidArgumentError({
            option: "--database-url",
            reason: `required with --store postgres (or set ${variables.databaseUrl.join(" or ")})`
          })
        }
        const schema = flags.schema ?? (yield* firstSet(variables.schema))?.value ?? "mcp_credentials"
        if (!/^[a-z_][a-z0-9_]{0,47}$/.test(schema)) {
          return yield* new InvalidArgumentError({
            option: flags.schema !== undefined ? "--schema" : variables.schema[0],
            reason: "use lowercase letters, digits and '_', starting with a letter or '_', at most 48 characters"
          })
        }
        return { store, url: url.value, schema, source: url.name }
      }
    }
  })

/**
 * Opens the store for the duration of `f`, with the keyring from the environment, and closes it
 * (connections included) afterwards. The file store must already exist: a read-only command
 * never creates a directory.
 *
 * @since 0.1.0
 * @category constructors
 */
export const use = <A, E, R>(
  options: StoreOptions,
  f: (store: Store) => Effect.Effect<A, E, R>
): Effect.Effect<A, E | CredentialStoreError, R | FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const open = failWith(options, "open")
    // the modules themselves, not the package's index, which loads the whole vault (form, OAuth, …)
    const [Keyring, CredentialStoreModule] = yield* Effect.all([
      load(options.store, () => import("@mcp-credentials/vault/Keyring"), "@mcp-credentials/vault"),
      load(options.store, () => import("@mcp-credentials/vault/CredentialStore"), "@mcp-credentials/vault")
    ])
    let stores: Layer.Layer<CredentialStore, unknown, Context.Tag.Identifier<typeof Keyring.Keyring>>
    switch (options.store) {
      case "file": {
        const FileStore = yield* load(options.store, () => import("@mcp-credentials/vault/FileStore"), "@mcp-credentials/vault")
        const file = FileStore.filePath({ directory: options.directory, namespace: options.namespace })
        const found = yield* Files.exists(file).pipe(Effect.mapError((e) => open(e.message)))
        if (!found) {
          return yield* open(
            `there is no store file ${file} (check ${options.source}${
              options.namespace === "default" ? "" : " and the namespace"
            })`
          )
        }
        stores = FileStore.layer({ directory: options.directory, namespace: options.namespace })
        break
      }
      case "redis": {
        const RedisStore = yield* load(options.store, () => import("@mcp-credentials/vault/RedisStore"), "ioredis")
        stores = RedisStore.layer({
          url: options.url,
          prefix: options.prefix,
          redis: { connectTimeout: 5000, maxRetriesPerRequest: 1, retryStrategy: () => null }
        })
        break
      }
      case "postgres": {
        const [PgStore, Pg] = yield* Effect.all([
          load(options.store, () => import("@mcp-credentials/vault/PgStore"), "@effect/sql-pg"),
          load(options.store, () => import("@effect/sql-pg/PgClient"), "@effect/sql-pg")
        ])
        stores = PgStore.layer({ schema: options.schema }).pipe(
          Layer.provide(Pg.layer({
            url: options.url,
            connectTimeout: "5 seconds",
            maxConnections: 3,
            applicationName: "mcp-credentials-cli"
          }))
        )
        break
      }
    }
    const layer = Layer.provide(stores, Keyring.layerConfig())
    return yield* Effect.scoped(
      Effect.gen(function*() {
        const context = yield* guard(Layer.build(layer), options, "open")
        const store = Context.get(context, CredentialStoreModule.CredentialStore)
        return yield* f({
          options,
          list: (subject) => guard(store.list(subject), options, "read"),
          delete: (key) => guard(store.delete(key), options, "write to"),
          deleteSubject: (subject) => guard(CredentialStoreModule.deleteAllOf(store, subject), options, "write to")
        })
      })
    )
  })

/**
 * The names and metadata of a stored credential (see `Entry`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const entry = (stored: StoredCredential): Entry => {
  const c = stored.credential
  const iso = (d: DateTime.Utc) => DateTime.formatIso(d)
  const fields: Array<string> = []
  if (c.type === "static") fields.push(...Object.keys(c.fields).sort())
  else {
    fields.push("accessToken")
    if (c.refreshToken !== undefined) fields.push("refreshToken")
    if (c.clientId !== undefined) fields.push("clientId")
    if (c.clientSecret !== undefined) fields.push("clientSecret")
    if (c.tokenUri !== undefined) fields.push("tokenUri")
    if (c.scopes !== undefined) fields.push("scopes")
    if (c.expiresAt !== undefined) fields.push("expiresAt")
    for (const k of Object.keys(c.extra).sort()) fields.push(`extra.${k}`)
  }
  return {
    provider: stored.provider,
    subject: stored.subject,
    kind: c.type,
    fields,
    scopes: c.type === "oauth" && c.scopes !== undefined ? [...c.scopes] : null,
    generation: stored.generation,
    createdAt: iso(stored.createdAt),
    expiresAt: Option.match(stored.expiresAt, { onNone: () => null, onSome: iso }),
    tokenExpiresAt: c.type === "oauth" && c.expiresAt !== undefined ? iso(c.expiresAt) : null
  }
}

/**
 * The entries, sorted by subject then provider.
 *
 * @since 0.1.0
 * @category constructors
 */
export const entries = (stored: ReadonlyArray<StoredCredential>): ReadonlyArray<Entry> =>
  stored.map(entry).sort((a, b) =>
    a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : a.provider < b.provider ? -1 : a.provider > b.provider ? 1 : 0
  )

/**
 * Renders entries as an aligned table (`PROVIDER SUBJECT KIND GEN EXPIRES TOKEN-EXPIRES FIELDS`).
 * Names that hold control characters or spaces are printed JSON-quoted, so stored text cannot
 * move the cursor of the terminal or fake a column.
 *
 * @since 0.1.0
 * @category rendering
 */
export const renderTable = (list: ReadonlyArray<Entry>): string => {
  const rows = [
    ["PROVIDER", "SUBJECT", "KIND", "GEN", "EXPIRES", "TOKEN-EXPIRES", "FIELDS"],
    ...list.map((e) => [
      printable(e.provider),
      printable(e.subject),
      e.kind,
      String(e.generation),
      e.expiresAt ?? "never",
      e.kind === "static" ? "-" : e.tokenExpiresAt ?? "none",
      e.fields.length === 0 ? "-" : e.fields.map(printable).join(", ")
    ])
  ]
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ")).join("\n")
}

/**
 * A name as it is safe to print on a terminal: as is when it is plain, else JSON-quoted.
 *
 * @since 0.1.0
 * @category rendering
 */
export const printable = (name: string): string =>
  name !== "" && /^[\x21-\x7e\u00a0-\u2027\u202a-\uffff]+$/.test(name) && !/[\u200e\u200f\u202a-\u202e\u2066-\u2069]/.test(name)
    ? name
    // JSON quoting escapes C0 controls; C1 controls (U+009B can start an escape sequence in some
    // terminals) and bidirectional marks and overrides are escaped too
    : JSON.stringify(name).replace(
      /[\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`
    )

// -----------------------------------------------------------------------------
// internals
// -----------------------------------------------------------------------------

const firstSet = (
  names: ReadonlyArray<string>
): Effect.Effect<{ readonly name: string; readonly value: string } | undefined> =>
  Effect.gen(function*() {
    for (const name of names) {
      const value = yield* Effect.orElseSucceed(Config.option(Config.string(name)), () => Option.none<string>())
      if (Option.isSome(value) && value.value.trim() !== "") return { name, value: value.value }
    }
    return undefined
  })

const firstRedacted = (
  names: ReadonlyArray<string>
): Effect.Effect<{ readonly name: string; readonly value: Redacted.Redacted<string> } | undefined> =>
  Effect.gen(function*() {
    for (const name of names) {
      const value = yield* Effect.orElseSucceed(
        Config.option(Config.redacted(name)),
        () => Option.none<Redacted.Redacted<string>>()
      )
      // an empty variable is unset (as for the other lookups): the next one in the list counts
      if (Option.isSome(value) && Redacted.value(value.value) !== "") return { name, value: value.value }
    }
    return undefined
  })

const load = <A>(store: StoreKind, f: () => Promise<A>, pkg: string): Effect.Effect<A, CredentialStoreError> =>
  Effect.tryPromise({
    try: f,
    catch: (e) =>
      new CredentialStoreError({
        store,
        operation: "open",
        reason: (e as NodeJS.ErrnoException)?.code === "ERR_MODULE_NOT_FOUND"
          ? `it needs the package ${pkg}, which is not installed (npm install ${pkg})`
          : "its module could not be loaded"
      })
  })

const failWith = (options: StoreOptions, operation: string) => (e: unknown): CredentialStoreError =>
  new CredentialStoreError({ store: options.store, operation, reason: describe(options, e) })

/**
 * A store call with its failures, and its defects, as `CredentialStoreError`s. A defect is an
 * exception the store did not expect: on content it cannot read (a file store whose credentials
 * are `null`, a Redis record holding `null`); its message is never shown (it may quote the content).
 */
const guard = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  options: StoreOptions,
  operation: string
): Effect.Effect<A, CredentialStoreError, R> =>
  self.pipe(
    Effect.mapError(failWith(options, operation)),
    Effect.catchAllDefect((defect) =>
      Effect.fail(
        new CredentialStoreError({
          store: options.store,
          operation,
          reason: `${malformed(options, defect instanceof SyntaxError)}${hint(options)}`
        })
      )
    )
  )

/** What is wrong with the content of a store, in the words of its kind. */
const malformed = (options: StoreOptions, json: boolean): string =>
  options.store === "file"
    ? json ? "the store file is not valid JSON" : "the store file is malformed"
    : json
    ? "a stored record is not valid JSON"
    : "a stored record is malformed"

/** Where to look: the file, or where the connection URL came from (never the URL itself). */
const hint = (options: StoreOptions): string =>
  options.store === "file"
    ? ` (${path.resolve(options.directory, `${options.namespace}.json`)})`
    : ` (connection from ${options.source})`

/** The library's message for its own errors, a few words for a system or driver error. */
const describe = (options: StoreOptions, e: unknown): string => {
  if (typeof e === "string") return e
  const tag = (e as { readonly _tag?: unknown } | null)?._tag
  if (tag === "EncryptionKeyError" || tag === "DecryptionError") return (e as Error).message
  const system = systemReason(options, tag === "StoreError" || tag === "SqlError" ? (e as { cause: unknown }).cause : e)
  if (system !== undefined) return `${system}${hint(options)}`
  return tag === "StoreError"
    ? `the ${(e as { operation: string }).operation} failed${hint(options)}`
    : `unexpected failure${hint(options)}`
}

const codes: Readonly<Record<string, string>> = {
  ECONNREFUSED: "connection refused",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host not found",
  ETIMEDOUT: "connection timed out",
  ECONNRESET: "connection reset",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  EACCES: "permission denied",
  EPERM: "permission denied",
  ENOENT: "file not found",
  EISDIR: "is a directory",
  ENOTDIR: "a parent is not a directory",
  EROFS: "read-only file system",
  ENOSPC: "no space left on device",
  "28P01": "password authentication failed",
  "28000": "the server rejected the login",
  "3D000": "the database does not exist",
  "42501": "permission denied in the database",
  "57P03": "the database is starting up",
  "53300": "too many connections"
}

const systemReason = (options: StoreOptions, cause: unknown): string | undefined => {
  for (let c = cause, depth = 0; c !== undefined && c !== null && depth < 6; depth++) {
    const code = (c as { code?: unknown }).code
    if (typeof code === "string" && codes[code] !== undefined) return codes[code]
    if (c instanceof SyntaxError) return malformed(options, true)
    const message = c instanceof Error ? c.message : ""
    if (message === "unknown file format") return "not a credential store file"
    if (message.startsWith("the store file is malformed")) return malformed(options, false)
    if (/^(WRONGPASS|NOAUTH)\b/.test(message)) return "authentication failed"
    if (message === "Connection is closed.") return "cannot connect to the server" // ioredis hides the cause
    if (/timeout|timed out/i.test(message)) return "connection timed out"
    if (Array.isArray((c as { errors?: unknown }).errors)) {
      // AggregateError of a dual-stack connect: the first error says enough
      c = (c as { errors: ReadonlyArray<unknown> }).errors[0]
      continue
    }
    c = (c as { cause?: unknown }).cause
  }
  return undefined
}
