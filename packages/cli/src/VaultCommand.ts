/**
 * `mcp-credentials vault`: list and revoke the per-user credentials of an `@mcp-credentials/vault`
 * store (file, Redis or Postgres), without ever printing a stored value.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { InvalidArgumentError, NoStoredCredentialError, subcommandRequired } from "./CliError.js"
import { choice } from "./internal/options.js"
import * as VaultStore from "./VaultStore.js"

const v = VaultStore.variables

const store = {
  store: choice("store", VaultStore.storeKinds).pipe(
    Options.optional,
    Options.withDescription(`The store's backend (default: ${v.store[0]}, else file).`)
  ),
  dir: Options.text("dir").pipe(
    Options.withPseudoName("DIR"),
    Options.optional,
    Options.withDescription(`file: the store's directory, which holds <namespace>.json (default: ${v.directory[0]}).`)
  ),
  namespace: Options.text("namespace").pipe(
    Options.withPseudoName("NAMESPACE"),
    Options.optional,
    Options.withDescription(`file: the store's namespace, the file's name (default: ${v.namespace[0]}, else default).`)
  ),
  redisUrl: Options.redacted("redis-url").pipe(
    Options.withPseudoName("URL"),
    Options.optional,
    Options.withDescription(
      `redis: the server's URL (default: ${v.redisUrl.join(", then ")}, else redis://127.0.0.1:6379). ` +
        "Prefer the variable when the URL holds a password: other users can see a command line."
    )
  ),
  redisPrefix: Options.text("redis-prefix").pipe(
    Options.withPseudoName("PREFIX"),
    Options.optional,
    Options.withDescription(`redis: the key prefix (default: ${v.redisPrefix[0]}, else mcp:credentials:).`)
  ),
  databaseUrl: Options.redacted("database-url").pipe(
    Options.withPseudoName("URL"),
    Options.optional,
    Options.withDescription(
      `postgres: the connection URL (default: ${v.databaseUrl.join(", then ")}). ` +
        "Prefer the variable when the URL holds a password: other users can see a command line."
    )
  ),
  schema: Options.text("schema").pipe(
    Options.withPseudoName("SCHEMA"),
    Options.optional,
    Options.withDescription(`postgres: the store's schema (default: ${v.schema[0]}, else mcp_credentials).`)
  )
}

type StoreFlags = { readonly [K in keyof typeof store]: (typeof store)[K] extends Options.Options<infer A> ? A : never }

const flags = (o: StoreFlags): VaultStore.Flags => ({
  store: Option.getOrUndefined(o.store),
  directory: Option.getOrUndefined(o.dir),
  namespace: Option.getOrUndefined(o.namespace),
  redisUrl: Option.getOrUndefined(o.redisUrl),
  redisPrefix: Option.getOrUndefined(o.redisPrefix),
  databaseUrl: Option.getOrUndefined(o.databaseUrl),
  schema: Option.getOrUndefined(o.schema)
})

const nonEmpty = (option: string) => (value: string): Effect.Effect<string, InvalidArgumentError> =>
  value.trim() === ""
    ? Effect.fail(new InvalidArgumentError({ option, reason: "must not be empty" }))
    : Effect.succeed(value)

const optionalNonEmpty = (option: string, value: Option.Option<string>) =>
  Option.match(value, { onNone: () => Effect.succeed(undefined), onSome: nonEmpty(option) })

const sub = Options.text("sub").pipe(Options.withPseudoName("SUBJECT"))
const provider = Options.text("provider").pipe(Options.withPseudoName("PROVIDER"), Options.optional)

/**
 * `vault list`: the stored credentials, as a table or `--json`: provider, subject, kind, field
 * names, generation and expiry. Never a value.
 *
 * @since 0.1.0
 * @category commands
 */
export const list = Command.make(
  "list",
  {
    ...store,
    sub: sub.pipe(Options.optional, Options.withDescription("Only this user's credentials (the OIDC sub).")),
    provider: provider.pipe(Options.withDescription("Only this provider's credentials, e.g. github.")),
    json: Options.boolean("json").pipe(Options.withDescription("Print a JSON array instead of a table."))
  },
  (o) =>
    Effect.gen(function*() {
      const options = yield* VaultStore.resolve(flags(o))
      const subject = yield* optionalNonEmpty("--sub", o.sub)
      const only = yield* optionalNonEmpty("--provider", o.provider)
      const stored = yield* VaultStore.use(options, (s) => s.list(subject))
      const entries = VaultStore.entries(only === undefined ? stored : stored.filter((c) => c.provider === only))
      if (o.json) return yield* Console.log(JSON.stringify(entries, null, 2))
      if (entries.length === 0) {
        const filter = [
          subject !== undefined ? `subject ${JSON.stringify(subject)}` : undefined,
          only !== undefined ? `provider ${JSON.stringify(only)}` : undefined
        ].filter((s) => s !== undefined)
        return yield* Console.log(`No credentials stored${filter.length === 0 ? "" : ` for ${filter.join(" and ")}`}.`)
      }
      yield* Console.log(VaultStore.renderTable(entries))
    })
).pipe(Command.withDescription(
  "List the stored credentials: provider, subject, kind, field names, generation, expiry. Never a value."
))

/**
 * `vault revoke`: deletes a user's credential for one provider, or every record of the user
 * (without opening them, so also those sealed with a key the keyring no longer holds).
 *
 * @since 0.1.0
 * @category commands
 */
export const revoke = Command.make(
  "revoke",
  {
    ...store,
    sub: sub.pipe(Options.withDescription("The user whose credentials to delete (the OIDC sub).")),
    provider: provider.pipe(Options.withDescription("Only this provider's credential (default: every provider)."))
  },
  (o) =>
    Effect.gen(function*() {
      const options = yield* VaultStore.resolve(flags(o))
      const subject = yield* nonEmpty("--sub")(o.sub)
      const only = yield* optionalNonEmpty("--provider", o.provider)
      if (only !== undefined) {
        const removed = yield* VaultStore.use(options, (s) => s.delete({ provider: only, subject }))
        if (!removed) return yield* new NoStoredCredentialError({ subject, provider: only })
        return yield* Console.log(`Revoked (subject ${VaultStore.printable(subject)}):\n  ${VaultStore.printable(only)}`)
      }
      // every record of the subject, without opening them: also those sealed with a retired key
      const count = yield* VaultStore.use(options, (s) => s.deleteSubject(subject))
      if (count === 0) return yield* new NoStoredCredentialError({ subject })
      yield* Console.log(
        `Revoked (subject ${VaultStore.printable(subject)}): ${count} credential${count === 1 ? "" : "s"}, every provider`
      )
    })
).pipe(Command.withDescription(
  "Delete a user's stored credential for one provider (--provider), or every one of the user's records " +
    "(also those sealed with a retired key; prints how many). " +
    "Exits with 1 when there was none."
))

/**
 * `vault`: the group.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("vault", {}, subcommandRequired("mcp-credentials vault", ["list", "revoke"])).pipe(
  Command.withDescription(
    "Per-user credentials in an @mcp-credentials/vault store (file, redis, postgres; " +
      "key from MCP_CREDENTIALS_ENCRYPTION_KEY or MCP_CREDENTIALS_ENCRYPTION_KEY_FILE)."
  ),
  Command.withSubcommands([list, revoke])
)
