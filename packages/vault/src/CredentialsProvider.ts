/**
 * Per-user credentials (a PAT, an API key) collected through MCP URL elicitation and a
 * server-hosted form, then injected into tool calls like any other credential.
 *
 * A provider is a named credential backend: a tool declares it (`credentials:
 * CredentialsProvider.declaration(jira)`, i.e. `{ jira: "static" }`), and on each call the flow
 * finds the user (the access token's `sub`), returns the stored credential if there is one, and
 * otherwise elicits it (see `Elicitation`): the user opens a one-time link, signs in to prove who
 * they are (`CredentialsPage`), fills the form, and the credential is stored encrypted with a TTL.
 * Tools read it with `getCredentials("jira")` or `CurrentCredential.getStatic("jira")`, and the
 * server's scrubber knows its values.
 *
 * @since 0.1.0
 */
import { CredentialBackend, ResolvedCredential } from "@mcp-credentials/core"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import { CredentialStore, deleteAllOf, type StoredCredential } from "./CredentialStore.js"
import {
  CredentialsNotProvidedError,
  CredentialsRequiredError,
  CredentialsUnavailableError,
  type InvalidCredentialsError,
  ProviderConfigError
} from "./CredentialsProviderError.js"
import { Elicitation, type Mode } from "./Elicitation.js"
import * as ElicitationFlow from "./internal/elicitationFlow.js"
import { PendingStore } from "./PendingStore.js"
import type { VaultError } from "./VaultError.js"

/**
 * How a variable is entered on the form.
 *
 * @since 0.1.0
 * @category models
 */
export type VariableType = "string" | "password" | "url" | "textarea"

/**
 * One field of the credential. `label` defaults to the field name, `type` to `"string"`, `hint`
 * to `""`, `required` to `true` (the seed's defaults).
 *
 * @since 0.1.0
 * @category models
 */
export interface Variable {
  readonly label?: string | undefined
  readonly type?: VariableType | undefined
  readonly hint?: string | undefined
  readonly required?: boolean | undefined
}

/**
 * A variable with its defaults applied.
 *
 * @since 0.1.0
 * @category models
 */
export interface ResolvedVariable {
  readonly name: string
  readonly label: string
  readonly type: VariableType
  readonly hint: string
  readonly required: boolean
}

/**
 * Tries the entered credential against the downstream API before it is stored. Fail with
 * `InvalidCredentialsError` to show its message on the form (the user corrects and resubmits;
 * the link is not used up). Run `Redacted.value` only in the outgoing request.
 *
 * @since 0.1.0
 * @category models
 */
export type Validate = (
  fields: Readonly<Record<string, Redacted.Redacted<string>>>
) => Effect.Effect<void, InvalidCredentialsError>

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The credential's name: path segment, store namespace and the tool's credential name. `[a-z0-9_-]`. */
  readonly name: string
  /** Shown to users; default `name` as it is (no `capitalize()` quirk). */
  readonly title?: string | undefined
  /** The fields, in form order. */
  readonly variables: Readonly<Record<string, Variable>>
  /** Markdown shown above the form (how to create the PAT); rendered server-side and sanitised. */
  readonly guide?: string | undefined
  /** How long the link stays valid and a blocking call waits for the form. Default 300 s. */
  readonly timeout?: Duration.DurationInput | undefined
  /** How long a stored credential lives. Default 30 days. */
  readonly ttl?: Duration.DurationInput | undefined
  readonly validate?: Validate | undefined
}

/**
 * A provider definition (no state: the stores hold it).
 *
 * @since 0.1.0
 * @category models
 */
export interface CredentialsProvider {
  readonly name: string
  readonly title: string
  readonly variables: ReadonlyArray<ResolvedVariable>
  readonly guide: Option.Option<string>
  readonly timeout: Duration.Duration
  readonly ttl: Duration.Duration
  readonly validate: Option.Option<Validate>
}

/**
 * Where the provider's pages are served, for the links the flow builds.
 *
 * @since 0.1.0
 * @category models
 */
export interface LayerOptions {
  /** The server's public origin (and path prefix if any), e.g. `https://mcp.example.com`. */
  readonly baseUrl: string
  /** The pages' path prefix. Default `/credentials`. */
  readonly basePath?: string | undefined
  /** 2025-11-25: hold the call while the user fills the form (default), or fail fast with -32042. */
  readonly mode?: Mode | undefined
}

/**
 * The default lifetime of a link and of a blocking wait.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultTimeout: Duration.Duration = Duration.seconds(300)

/**
 * The default lifetime of a stored credential.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultTtl: Duration.Duration = Duration.days(30)

/**
 * The default path prefix of the pages.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultBasePath = "/credentials"

/**
 * Defines a provider. Validation of the name and the variables happens when its layer or the
 * page router is built (`ProviderConfigError`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): CredentialsProvider => ({
  name: options.name,
  title: options.title ?? options.name,
  variables: Object.entries(options.variables).map(([name, v]) => ({
    name,
    label: v.label ?? name,
    type: v.type ?? "string",
    hint: v.hint ?? "",
    required: v.required ?? true
  })),
  guide: Option.fromNullable(options.guide),
  timeout: Duration.decode(options.timeout ?? defaultTimeout),
  ttl: Duration.decode(options.ttl ?? defaultTtl),
  validate: Option.fromNullable(options.validate)
})

/**
 * The tool declaration for this provider: `{ [name]: "static" }`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const declaration = (self: CredentialsProvider): Readonly<Record<string, "static">> => ({ [self.name]: "static" })

/**
 * Checks a provider definition.
 *
 * @since 0.1.0
 * @category constructors
 */
export const check = (self: CredentialsProvider): Effect.Effect<CredentialsProvider, ProviderConfigError> => {
  if (!/^[a-z0-9][a-z0-9_-]{0,63}$/.test(self.name)) {
    return new ProviderConfigError({ field: "name", reason: "must match [a-z0-9][a-z0-9_-]* (at most 64 characters)" })
  }
  if (self.variables.length === 0) return new ProviderConfigError({ field: "variables", reason: "at least one variable is required" })
  for (const v of self.variables) {
    // any field name of a form and of a credential (`base_url`, `base-url`, `api.key`); not
    // `__proto__`, which a plain object would not keep as a field
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/.test(v.name) || v.name === "__proto__") {
      return new ProviderConfigError({
        field: `variables.${v.name}`,
        reason: "a variable name is 1 to 64 letters, digits, '_', '-' or '.', not starting with '-' or '.'"
      })
    }
    if (!["string", "password", "url", "textarea"].includes(v.type)) {
      return new ProviderConfigError({ field: `variables.${v.name}.type`, reason: "must be string, password, url or textarea" })
    }
  }
  if (Duration.toMillis(self.timeout) < 1000) return new ProviderConfigError({ field: "timeout", reason: "must be at least 1 second" })
  // a stored credential must live long enough for the call that asked (or its retry) to read it
  if (Duration.toMillis(self.ttl) < 10_000) return new ProviderConfigError({ field: "ttl", reason: "must be at least 10 seconds" })
  return Effect.succeed(self)
}

/**
 * The paths of a provider's pages under `basePath`.
 *
 * @since 0.1.0
 * @category accessors
 */
export const paths = (self: CredentialsProvider, basePath: string = defaultBasePath) => {
  const base = `${trimSlash(basePath)}/${self.name}`
  return {
    entry: `${base}/entry`,
    submit: `${base}/submit`,
    connect: `${base}/connect`
  } as const
}

/**
 * The one-time link of a pending entry.
 *
 * @since 0.1.0
 * @category accessors
 */
export const entryUrl = (self: CredentialsProvider, options: LayerOptions, pendingId: string): string =>
  `${trimSlash(options.baseUrl)}${paths(self, options.basePath).entry}?t=${encodeURIComponent(pendingId)}`

/**
 * The provider's connect page (sign in, then the form): not a capability.
 *
 * @since 0.1.0
 * @category accessors
 */
export const connectUrl = (self: CredentialsProvider, options: LayerOptions): string =>
  `${trimSlash(options.baseUrl)}${paths(self, options.basePath).connect}`

/**
 * The provider as a named credential backend (`CredentialBackend.named(provider.name)`): it
 * needs the stores and an `Elicitation` implementation.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  self: CredentialsProvider,
  options: LayerOptions
): Layer.Layer<CredentialBackend.Named<string>, ProviderConfigError, CredentialStore | PendingStore | Elicitation> =>
  Layer.effect(
    CredentialBackend.named(self.name),
    Effect.gen(function*() {
      yield* check(self)
      if (!/^https?:\/\//.test(options.baseUrl)) {
        return yield* new ProviderConfigError({ field: "baseUrl", reason: "must be an http(s) URL" })
      }
      const store = yield* CredentialStore
      const pending = yield* PendingStore
      const elicitation = yield* Elicitation
      const flow = makeFlow(self, options, store, pending, elicitation)
      return CredentialBackend.CredentialBackend.of({
        // the flow's errors are credential errors for the pipeline (they carry core's TypeId);
        // UrlElicitationRequiredError carries its own JSON-RPC answer
        resolve: (request) => flow(request) as Effect.Effect<ResolvedCredential.ResolvedCredential, any>
      })
    })
  )

// -----------------------------------------------------------------------------
// operators
// -----------------------------------------------------------------------------

/**
 * What an operator sees of a stored credential: no secret, only the field names.
 *
 * @since 0.1.0
 * @category models
 */
export interface CredentialInfo {
  readonly provider: string
  readonly subject: string
  readonly fields: ReadonlyArray<string>
  readonly createdAt: DateTime.Utc
  readonly expiresAt: Option.Option<DateTime.Utc>
}

/**
 * Deletes the stored credential of `subject` for a provider (the seed's
 * `invalidate_credentials(sub)`): the next call elicits again. Returns whether one was removed.
 *
 * @since 0.1.0
 * @category operators
 */
export const invalidate = (
  provider: CredentialsProvider | string,
  subject: string
): Effect.Effect<boolean, VaultError, CredentialStore> =>
  Effect.flatMap(CredentialStore, (store) =>
    store.delete({ provider: typeof provider === "string" ? provider : provider.name, subject }).pipe(
      Effect.tap((removed) =>
        removed ? Effect.logInfo(`${typeof provider === "string" ? provider : provider.name} credentials invalidated`) : Effect.void
      )
    ))

/**
 * The stored credentials (metadata only), optionally of one provider and/or one subject.
 *
 * @since 0.1.0
 * @category operators
 */
export const list = (
  filter: { readonly provider?: string | undefined; readonly subject?: string | undefined } = {}
): Effect.Effect<ReadonlyArray<CredentialInfo>, VaultError, CredentialStore> =>
  Effect.flatMap(CredentialStore, (store) =>
    Effect.map(store.list(filter.subject), (all) =>
      all.filter((s) => filter.provider === undefined || s.provider === filter.provider).map(infoOf)))

/**
 * Deletes every stored credential of `subject` (all providers), e.g. when an account is closed,
 * including records sealed with a key the keyring no longer holds (on the built-in stores).
 * Returns how many were removed.
 *
 * @since 0.1.0
 * @category operators
 */
export const revoke = (subject: string): Effect.Effect<number, VaultError, CredentialStore> =>
  Effect.flatMap(CredentialStore, (store) => deleteAllOf(store, subject))

/**
 * Stores a credential for `subject` directly (an operator importing one, or a test).
 *
 * @since 0.1.0
 * @category operators
 */
export const store = (
  self: CredentialsProvider,
  subject: string,
  fields: Readonly<Record<string, string>>
): Effect.Effect<StoredCredential, VaultError, CredentialStore> =>
  Effect.flatMap(CredentialStore, (s) =>
    s.set({ provider: self.name, subject }, ResolvedCredential.StaticCredential.fromFields(fields), { ttl: self.ttl }))

// -----------------------------------------------------------------------------
// internals
// -----------------------------------------------------------------------------

const trimSlash = (s: string) => s.replace(/\/+$/, "")

const infoOf = (s: StoredCredential): CredentialInfo => ({
  provider: s.provider,
  subject: s.subject,
  fields: s.credential.type === "static" ? Object.keys(s.credential.fields) : ["accessToken"],
  createdAt: s.createdAt,
  expiresAt: s.expiresAt
})

const makeFlow = (
  self: CredentialsProvider,
  options: LayerOptions,
  store: CredentialStore["Type"],
  pending: PendingStore["Type"],
  elicitation: Elicitation["Type"]
) => {
  const unavailable = (operation: string) => (e: VaultError) =>
    Effect.zipRight(
      Effect.logError(`${self.name} credential store failed during ${operation}: ${e.message}`),
      new CredentialsUnavailableError({ provider: self.name, operation })
    )
  const notProvided = (reason: CredentialsNotProvidedError["reason"]) =>
    new CredentialsNotProvidedError({ provider: self.name, title: self.title, reason })
  const current = (subject: string) =>
    store.get({ provider: self.name, subject }).pipe(
      Effect.map(Option.map((stored) => stored.credential)),
      Effect.catchAll(unavailable("get"))
    )
  const spec: ElicitationFlow.FlowSpec<CredentialsUnavailableError | CredentialsNotProvidedError | CredentialsRequiredError> = {
    name: self.name,
    title: self.title,
    pendingProvider: self.name,
    timeout: self.timeout,
    mode: options.mode ?? "blocking",
    current,
    // the page stored the credential: read it back
    finish: (subject) =>
      Effect.flatMap(current(subject), (fresh) => Option.isSome(fresh) ? Effect.succeed(fresh.value) : Effect.fail(notProvided("failed"))),
    link: (pendingId) => entryUrl(self, options, pendingId),
    message: (label) => `${self.title} credentials required for '${label}'.\nOpen the link and fill in your credentials.`,
    requiredMessage: `${self.title} credentials required.`,
    logs: { requested: "credentials requested", timedOut: "timeout waiting for credential submission" },
    notDone: notProvided,
    required: () => new CredentialsRequiredError({ provider: self.name, title: self.title, connectUrl: connectUrl(self, options) }),
    unavailable
  }
  return ElicitationFlow.make(spec, pending, elicitation)
}
