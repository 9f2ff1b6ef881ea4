/**
 * Refresh of downstream OAuth tokens, on the tool call: a token that expires within the margin
 * (60 s by default, by the `Clock`) is refreshed before the tool runs.
 *
 * - In one process, concurrent calls for the same user and provider share one refresh (a single
 *   flight per store key).
 * - Across replicas, the refresh is claimed with a compare-and-swap on the stored generation: the
 *   winner writes a short lease into the record, redeems the refresh token once, and swaps the new
 *   token in; the others wait and read the winner's token. A rotating refresh token is therefore
 *   redeemed once, and a replica that dies mid-refresh only blocks the others until the lease ends.
 * - `invalid_grant` deletes the record only if it is still the generation that was redeemed
 *   (`compareAndDelete`), so a newer token written by another replica or a new authorization is
 *   never lost; only then does the call fail with `ReauthorizationRequiredError`.
 * - A token endpoint that is down does not cost the user the token: the lease is released and an
 *   access token that has not really expired yet is still used.
 * - A record deleted while its refresh is at the provider (the user disconnected, an operator
 *   revoked) is not written back: the call finds nothing stored, and the tokens the provider just
 *   issued are revoked at its revocation endpoint, so no grant outlives the disconnect.
 *
 * `layerRefreshing` gives any `CredentialBackend` (Env, Header, your own) the same refresh
 * (opt-in): OAuth credentials with `refreshToken`, `tokenUri` and `clientId` are refreshed in a
 * single flight and the new token is cached in memory under a digest of the refresh token.
 *
 * @since 0.1.0
 */
import { CredentialBackend, CredentialError, ResolvedCredential } from "@mcp-credentials/core"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { CredentialStore, type StoredCredential, type StoreKey } from "./CredentialStore.js"
import * as SingleFlight from "./internal/oauthSingleFlight.js"
import { revokeTokens } from "./internal/revokeTokens.js"
import { credentialId, randomId, sha256 } from "./internal/records.js"
import * as OAuthProvider from "./OAuthProvider.js"
import {
  OAuthConfigError,
  type OAuthRequestError,
  type OAuthTokenError,
  ReauthorizationRequiredError,
  RefreshTimeoutError
} from "./OAuthProviderError.js"
import type { VaultError } from "./VaultError.js"

/**
 * Options of `make`. `providers` are matched to a store key by `name`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly providers: ReadonlyArray<OAuthProvider.OAuthProvider>
  /** A token expiring within this margin is refreshed. Default 60 s. */
  readonly margin?: Duration.DurationInput | undefined
  /**
   * How long a replica's claim on a refresh holds. Default 30 s, and never less than the longest
   * provider `timeout` plus 5 s: a claim that ran out while its request was still in flight would
   * let another replica redeem the same refresh token.
   */
  readonly lease?: Duration.DurationInput | undefined
  /** How long a call waits for a refresh that another replica holds. Default: the lease + 5 s. */
  readonly wait?: Duration.DurationInput | undefined
  /** How often a waiting replica re-reads the store. Default 50 ms. */
  readonly pollInterval?: Duration.DurationInput | undefined
  /** The store TTL of a refreshed record. Default: what remained of the previous record's TTL. */
  readonly ttl?: Duration.DurationInput | undefined
}

/**
 * What getting a fresh token can fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type TokenRefreshError =
  | ReauthorizationRequiredError
  | RefreshTimeoutError
  | OAuthTokenError
  | OAuthRequestError
  | OAuthConfigError
  | VaultError

/**
 * The refresher over the `CredentialStore`.
 *
 * @since 0.1.0
 * @category tags
 */
export class TokenRefresh extends Context.Tag("@mcp-credentials/vault/TokenRefresh")<
  TokenRefresh,
  {
    /**
     * The stored credential of `key`, refreshed first when it is an OAuth token expiring within
     * the margin. `None` when nothing is stored.
     */
    readonly get: (key: StoreKey) => Effect.Effect<Option.Option<StoredCredential>, TokenRefreshError>
    /** Like `get`, but nothing stored is a `ReauthorizationRequiredError` (`no_token`). */
    readonly require: (key: StoreKey) => Effect.Effect<StoredCredential, TokenRefreshError>
    /**
     * Refreshes now, whatever the expiry (a downstream API answered 401), unless the stored
     * record is no longer the `stale` generation (someone refreshed already: that token is
     * returned).
     */
    readonly refresh: (key: StoreKey, stale: StoredCredential) => Effect.Effect<StoredCredential, TokenRefreshError>
  }
>() {}

/**
 * The refusals that mean the refresh token is dead (the user must authorize again): RFC 6749's
 * `invalid_grant`, and GitHub's `bad_refresh_token` (answered with HTTP 200).
 */
const deadGrant: ReadonlySet<string> = new Set(["invalid_grant", "bad_refresh_token"])

/**
 * The name under which a replica's refresh lease sits in `OAuthCredential.extra` while it
 * refreshes. `TokenRefresh` removes it from every credential it returns.
 *
 * @since 0.1.0
 * @category constants
 */
export const leaseKey = "@mcp-credentials/vault/refresh-lease"

/**
 * Builds the refresher on the `CredentialStore` in context. Refreshes in flight belong to the
 * scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<TokenRefresh["Type"], never, CredentialStore | Scope.Scope> =>
  Effect.gen(function*() {
    const store = yield* CredentialStore
    const scope = yield* Effect.scope
    const owner = randomId()
    const providers = new Map(options.providers.map((p) => [p.name, p]))
    const margin = Duration.decode(options.margin ?? ResolvedCredential.defaultExpiryMargin)
    const longestRequest = Math.max(0, ...options.providers.map((p) => Duration.toMillis(p.timeout)))
    const leaseMs = Math.max(Duration.toMillis(Duration.decode(options.lease ?? Duration.seconds(30))), longestRequest + 5000)
    const waitMs = options.wait === undefined ? leaseMs + 5000 : Duration.toMillis(Duration.decode(options.wait))
    const poll = Duration.decode(options.pollInterval ?? Duration.millis(50))
    const flights = SingleFlight.make<Option.Option<StoredCredential>, TokenRefreshError>(scope)
    // a token this replica redeemed but could not store (the store failed): written by the next
    // attempt instead of redeeming the old refresh token again, while the record is still the one
    // this replica claimed (at most one per key)
    const unsaved = new Map<string, { readonly generation: number; readonly credential: ResolvedCredential.OAuthCredential; readonly ttl: Duration.DurationInput | undefined }>()

    /**
     * Tokens the provider issued for a record that is gone by the time they could be stored (the
     * user disconnected, an operator revoked, while the provider answered): nobody can use them,
     * and a provider that does not revoke the whole grant with the old refresh token would keep it
     * alive. Revoked, best effort (a failure is logged).
     */
    const revokeOrphaned = (provider: OAuthProvider.OAuthProvider, issued: ResolvedCredential.OAuthCredential) =>
      Effect.zipRight(
        Effect.logInfo(`${provider.name} refresh: the record was deleted meanwhile; the tokens just issued are revoked`),
        revokeTokens(provider, issued, `${provider.name} refresh (tokens issued for a deleted record)`)
      )
    /** After a swap that found no record of ours: revoke what was issued if the record is gone. */
    const revokeIfGone = (key: StoreKey, provider: OAuthProvider.OAuthProvider, issued: ResolvedCredential.OAuthCredential) =>
      Effect.flatMap(Effect.either(store.get(key)), (now) =>
        now._tag === "Right" && Option.isNone(now.right) ? revokeOrphaned(provider, issued) : Effect.void)

    /** No record: a token redeemed for it that could not be stored has lost its use too. */
    const nothingStored = (key: StoreKey): Effect.Effect<Option.Option<StoredCredential>> => {
      const id = credentialId(key)
      const orphan = unsaved.get(id)
      const provider = providers.get(key.provider)
      if (orphan === undefined || provider === undefined) return Effect.succeedNone
      unsaved.delete(id)
      return Effect.as(revokeOrphaned(provider, orphan.credential), Option.none())
    }

    const expiring = (s: StoredCredential, now: number) =>
      ResolvedCredential.isExpiredAt(s.credential, now, { margin })
    const ttlFor = (s: StoredCredential, now: number): Duration.DurationInput | undefined =>
      options.ttl ?? Option.match(s.expiresAt, {
        onNone: () => undefined,
        onSome: (e) => Duration.millis(Math.max(1, DateTime.toEpochMillis(e) - now))
      })

    /** One refresh of `key`: claim, redeem, swap; or wait for the replica that holds the claim. */
    const flight = (key: StoreKey, needs: (s: StoredCredential, now: number) => boolean) =>
      Effect.gen(function*() {
        const provider = providers.get(key.provider)
        if (provider === undefined) {
          return yield* new OAuthConfigError({
            provider: key.provider,
            field: "providers",
            reason: "no OAuth provider with this name is configured for refresh"
          })
        }
        const id = credentialId(key)
        const deadline = (yield* Clock.currentTimeMillis) + waitMs
        for (let attempt = 0;; attempt++) {
          const now = yield* Clock.currentTimeMillis
          if (attempt > 0 && now >= deadline) return yield* new RefreshTimeoutError({ provider: key.provider })
          const found = yield* store.get(key)
          if (Option.isNone(found)) return yield* nothingStored(key)
          const current = found.value
          const credential = current.credential
          if (credential.type !== "oauth") return found
          const lease = leaseOf(credential)
          const kept = unsaved.get(id)
          if (kept !== undefined) {
            unsaved.delete(id)
            if (lease?.owner === owner && kept.generation === current.generation) {
              const written = yield* store.compareAndSet(key, Option.some(current.generation), kept.credential, { ttl: kept.ttl }).pipe(
                Effect.tapError(() => Effect.sync(() => unsaved.set(id, kept)))
              )
              if (Option.isSome(written)) return written
              continue
            }
          }
          if (lease !== undefined && lease.until > now && lease.owner !== owner) {
            yield* Effect.sleep(poll)
            continue
          }
          const base = withoutLease(credential)
          if (lease === undefined && !needs(current, now)) return Option.some(current)
          if (base.refreshToken === undefined) {
            if (!ResolvedCredential.isExpiredAt(base, now, { margin: 0 })) return Option.some(withCredential(current, base))
            return yield* new ReauthorizationRequiredError({ provider: key.provider, reason: "no_refresh_token" })
          }
          const ttl = ttlFor(current, now)
          const claimed = yield* store.compareAndSet(
            key,
            Option.some(current.generation),
            withLease(base, { owner, until: now + leaseMs }),
            { ttl }
          )
          if (Option.isNone(claimed)) continue // another writer moved first: read what it wrote
          // redeeming the refresh token and storing what it gave are one step an interruption (the
          // layer closing) does not split: the provider may have rotated the refresh token, and the
          // new one would be lost (each part is bounded: the request's timeout, the lease)
          const redeemed = yield* Effect.uninterruptible(Effect.gen(function*() {
            const answer = yield* Effect.either(OAuthProvider.refresh(provider, { refreshToken: base.refreshToken! }))
            if (answer._tag === "Left") return Either.left(answer.left)
            const fresh = yield* OAuthProvider.toCredential(provider, answer.right, base)
            // the refresh token is spent: a store that fails now is retried while the lease holds
            // (after it, another replica would redeem the spent token, and a provider that
            // detects reuse revokes the grant); if it still fails the new token is kept for this
            // replica's next attempt (never a second redemption here)
            const holdsFor = now + leaseMs - 1000 - (yield* Clock.currentTimeMillis)
            const written = yield* store.compareAndSet(key, Option.some(claimed.value.generation), fresh, { ttl }).pipe(
              Effect.retry({
                schedule: Schedule.exponential(Duration.millis(50)).pipe(
                  Schedule.union(Schedule.spaced(Duration.seconds(1))),
                  Schedule.upTo(Duration.millis(Math.max(0, holdsFor)))
                ),
                // a store that failed (a blip); not what another try cannot change (a record it cannot open)
                while: (e) => e._tag === "StoreError"
              }),
              Effect.tapError(() =>
                Effect.sync(() => unsaved.set(id, { generation: claimed.value.generation, credential: fresh, ttl }))
              )
            )
            // no record of ours to swap into: another writer moved (leave its grant alone), or the
            // record was deleted while the provider answered, and then what it issued is revoked
            if (Option.isNone(written)) yield* revokeIfGone(key, provider, fresh)
            return Either.right(written)
          }))
          if (redeemed._tag === "Right") {
            if (Option.isSome(redeemed.right)) return redeemed.right
            continue // our lease was taken over: use what the other writer stored
          }
          const error = redeemed.left
          if (error._tag === "OAuthTokenError" && deadGrant.has(error.error)) {
            // delete only the generation we redeemed: a newer one (another replica, a new
            // authorization) stays, and is what the next read returns
            if (yield* store.compareAndDelete(key, claimed.value.generation)) {
              return yield* new ReauthorizationRequiredError({ provider: key.provider, reason: "invalid_grant" })
            }
            continue
          }
          // the provider is unreachable or refused for another reason: release the lease
          const released = yield* store.compareAndSet(key, Option.some(claimed.value.generation), base, { ttl })
          // another writer moved first (a new authorization, or a replica that took the lease over
          // and stored a fresh token): read what it wrote rather than report this failure
          if (Option.isNone(released)) continue
          const later = yield* Clock.currentTimeMillis
          if (!ResolvedCredential.isExpiredAt(base, later, { margin: 0 })) return released
          return yield* error
        }
      })

    const run = (key: StoreKey, needs: (s: StoredCredential, now: number) => boolean) =>
      Effect.map(flights.run(credentialId(key), flight(key, needs)), Option.map(stripLease))

    const get = (key: StoreKey): Effect.Effect<Option.Option<StoredCredential>, TokenRefreshError> =>
      Effect.gen(function*() {
        const found = yield* store.get(key)
        if (Option.isNone(found)) return yield* nothingStored(key)
        if (found.value.credential.type !== "oauth") return found
        const now = yield* Clock.currentTimeMillis
        const leased = leaseOf(found.value.credential) !== undefined
        if (!leased && !expiring(found.value, now)) return found
        return yield* run(key, expiring)
      })

    const orReauthorize = (key: StoreKey) =>
      Effect.flatMap(
        Option.match({
          onNone: () => Effect.fail(new ReauthorizationRequiredError({ provider: key.provider, reason: "no_token" })),
          onSome: (s: StoredCredential) => Effect.succeed(s)
        })
      )

    return TokenRefresh.of({
      get,
      require: (key) => get(key).pipe(orReauthorize(key)),
      refresh: (key, stale) =>
        run(key, (s, now) => s.generation === stale.generation || expiring(s, now)).pipe(orReauthorize(key))
    })
  })

/**
 * The refresher as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<TokenRefresh, never, CredentialStore> =>
  Layer.scoped(TokenRefresh, make(options))

/**
 * A `CredentialBackend` that gives each tool call the current user's stored token for
 * `provider`, refreshed first when needed. Provide it under a name:
 * `CredentialBackend.layerNamed("github", TokenRefresh.layerBackend("github"))`. A request without
 * a user, no stored token, or a dead one fails with an `InvalidCredentialError` naming the
 * provider (the elicitation flow of `CredentialsProvider` turns those into an authorization).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerBackend = (provider: string): Layer.Layer<CredentialBackend.CredentialBackend, never, TokenRefresh> =>
  Layer.effect(
    CredentialBackend.CredentialBackend,
    Effect.map(TokenRefresh, (refresher) =>
      CredentialBackend.CredentialBackend.of({
        resolve: (request) => {
          const variable = `${provider} authorization`
          if (request.user === undefined || request.user.subject === "") {
            return Effect.fail(
              new CredentialError.InvalidCredentialError({ variable, reason: "the request has no authenticated user." })
            )
          }
          return refresher.require({ provider, subject: request.user.subject }).pipe(
            Effect.map((s) => s.credential),
            Effect.mapError((e) => new CredentialError.InvalidCredentialError({ variable, reason: reasonOf(e) }))
          )
        }
      })))

/**
 * Options of `layerRefreshing`.
 *
 * @since 0.1.0
 * @category models
 */
export interface RefreshingOptions {
  /** A token expiring within this margin is refreshed. Default 60 s. */
  readonly margin?: Duration.DurationInput | undefined
  /**
   * Default: `client_secret_basic` when the credential has a client secret, else `none`. (An
   * Env or Header credential carries no private key: `private_key_jwt` needs an `OAuthProvider`.)
   */
  readonly clientAuthMethod?: Exclude<OAuthProvider.ClientAuthMethod, "private_key_jwt"> | undefined
  /** Timeout of a token request. Default 15 s. */
  readonly timeout?: Duration.DurationInput | undefined
  /**
   * How many refreshed tokens to keep in memory whose refresh token the source still holds
   * (dropping one costs a refresh). Default 10 000. A token whose refresh token the provider
   * rotated is not counted and not dropped: the source's refresh token is used up, so the one in
   * memory is the only live copy (one per source credential).
   */
  readonly maxEntries?: number | undefined
  /** The name errors give the credential, e.g. `"GITHUB_REFRESH_TOKEN"`. Default `"refresh token"`. */
  readonly variable?: string | undefined
  /** A `fetch` to use instead of the global one. */
  readonly fetch?: OAuthProvider.Options["fetch"]
}

/**
 * Wraps a backend so that its OAuth credentials that carry `refreshToken`, `tokenUri` and
 * `clientId` (Env: `{P}REFRESH_TOKEN`, `{P}TOKEN_URI`, `{P}CLIENT_ID`, `{P}CLIENT_SECRET`) are
 * refreshed when they expire within the margin. Concurrent calls with the same refresh token share
 * one request; the new token is cached under a digest of the refresh token (the source still
 * holds the old one), and a rotated refresh token is used for the next refresh. Nothing is
 * written back to the environment or the gateway.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeRefreshing = (
  inner: CredentialBackend.CredentialBackend["Type"],
  options: RefreshingOptions = {}
): Effect.Effect<CredentialBackend.CredentialBackend["Type"], never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const margin = Duration.decode(options.margin ?? ResolvedCredential.defaultExpiryMargin)
    const maxEntries = options.maxEntries ?? 10_000
    const variable = options.variable ?? "refresh token"
    // Refreshed tokens whose refresh token the source still holds (least recently refreshed
    // first, at most `maxEntries`: one dropped costs a refresh), and those whose refresh token the
    // provider rotated: the source's is used up, so this is the only live copy, kept until it is
    // refreshed again or rejected (one entry per source credential, whatever the rotations).
    const cache = new Map<string, ResolvedCredential.OAuthCredential>()
    const rotated = new Map<string, ResolvedCredential.OAuthCredential>()
    const cached = (digest: string) => rotated.get(digest) ?? cache.get(digest)
    const forget = (digest: string) => {
      cache.delete(digest)
      rotated.delete(digest)
    }
    const flights = SingleFlight.make<ResolvedCredential.OAuthCredential, CredentialError.CredentialError>(scope)
    const remember = (digest: string, c: ResolvedCredential.OAuthCredential, source: ResolvedCredential.OAuthCredential) => {
      forget(digest)
      if (c.refreshToken !== undefined && Redacted.value(c.refreshToken) !== Redacted.value(source.refreshToken!)) {
        rotated.set(digest, c)
        return
      }
      cache.set(digest, c)
      if (cache.size > maxEntries) cache.delete(cache.keys().next().value!)
    }
    const invalid = (reason: string) => new CredentialError.InvalidCredentialError({ variable, reason })

    const refreshOne = (source: ResolvedCredential.OAuthCredential, original: ResolvedCredential.OAuthCredential, digest: string) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const meanwhile = cached(digest)
        if (meanwhile !== undefined && !ResolvedCredential.isExpiredAt(meanwhile, now, { margin })) return meanwhile
        const provider: OAuthProvider.OAuthProvider = {
          name: safeHost(source.tokenUri!),
          issuer: undefined,
          authorizationEndpoint: undefined,
          tokenEndpoint: source.tokenUri!,
          revocationEndpoint: undefined,
          clientId: source.clientId!,
          clientSecret: source.clientSecret,
          clientAuthMethod: options.clientAuthMethod ?? (source.clientSecret === undefined ? "none" : "client_secret_basic"),
          scopes: [],
          extraAuthorizeParams: {},
          timeout: Duration.decode(options.timeout ?? OAuthProvider.defaultTimeout),
          fetch: options.fetch
        }
        const redeemed = yield* Effect.either(OAuthProvider.refresh(provider, { refreshToken: source.refreshToken! }))
        if (redeemed._tag === "Left") {
          const e = redeemed.left
          if (e._tag === "OAuthTokenError" && deadGrant.has(e.error)) {
            forget(digest)
            return yield* invalid("the token endpoint rejected the refresh token (invalid_grant); authorize again and replace the credential.")
          }
          if (!ResolvedCredential.isExpiredAt(source, yield* Clock.currentTimeMillis, { margin: 0 })) return source
          return yield* invalid(`the access token expired and could not be refreshed: ${e.message}`)
        }
        const fresh = yield* OAuthProvider.toCredential(provider, redeemed.right, source)
        const result = new ResolvedCredential.OAuthCredential({
          ...fresh,
          ...(original.clientSecret !== undefined ? { clientSecret: original.clientSecret } : {})
        })
        remember(digest, result, original)
        return result
      })

    return CredentialBackend.CredentialBackend.of({
      resolve: (request) =>
        Effect.flatMap(inner.resolve(request), (credential) => {
          if (
            credential.type !== "oauth" || credential.refreshToken === undefined || credential.tokenUri === undefined ||
            credential.clientId === undefined
          ) return Effect.succeed(credential)
          return Effect.flatMap(Clock.currentTimeMillis, (now): Effect.Effect<ResolvedCredential.ResolvedCredential, CredentialError.CredentialError> => {
            if (!ResolvedCredential.isExpiredAt(credential, now, { margin })) return Effect.succeed(credential)
            const digest = sha256(
              `${credential.tokenUri}\0${credential.clientId}\0${Redacted.value(credential.refreshToken!)}`
            )
            const last = cached(digest)
            if (last !== undefined && !ResolvedCredential.isExpiredAt(last, now, { margin })) {
              return Effect.succeed(last)
            }
            return flights.run(digest, refreshOne(last ?? credential, credential, digest))
          })
        })
    })
  })

/**
 * `makeRefreshing` as a layer transformer:
 * `TokenRefresh.layerRefreshing(EnvCredentialBackend.layer({ prefix: "GITHUB_" }))`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerRefreshing = <E, R>(
  backend: Layer.Layer<CredentialBackend.CredentialBackend, E, R>,
  options?: RefreshingOptions
): Layer.Layer<CredentialBackend.CredentialBackend, E, R> =>
  Layer.scoped(
    CredentialBackend.CredentialBackend,
    Effect.flatMap(CredentialBackend.CredentialBackend, (inner) => makeRefreshing(inner, options))
  ).pipe(Layer.provide(backend))

// -----------------------------------------------------------------------------
// internals
// -----------------------------------------------------------------------------

interface Lease {
  readonly owner: string
  readonly until: number
}

const leaseOf = (c: ResolvedCredential.OAuthCredential): Lease | undefined => {
  const v = c.extra[leaseKey] as Partial<Lease> | undefined
  return typeof v === "object" && v !== null && typeof v.owner === "string" && typeof v.until === "number"
    ? { owner: v.owner, until: v.until }
    : undefined
}

const withLease = (c: ResolvedCredential.OAuthCredential, lease: Lease) =>
  new ResolvedCredential.OAuthCredential({ ...c, extra: { ...c.extra, [leaseKey]: lease } })

const withoutLease = (c: ResolvedCredential.OAuthCredential): ResolvedCredential.OAuthCredential => {
  if (!(leaseKey in c.extra)) return c
  const { [leaseKey]: _, ...extra } = c.extra
  return new ResolvedCredential.OAuthCredential({ ...c, extra })
}

const withCredential = (s: StoredCredential, credential: ResolvedCredential.ResolvedCredential): StoredCredential => ({
  ...s,
  credential
})

const stripLease = (s: StoredCredential): StoredCredential =>
  s.credential.type === "oauth" && leaseKey in s.credential.extra
    ? withCredential(s, withoutLease(s.credential))
    : s

const safeHost = (url: string) => {
  try {
    return new URL(url).host
  } catch {
    return "token endpoint"
  }
}

const reasonOf = (e: TokenRefreshError): string => {
  switch (e._tag) {
    case "ReauthorizationRequiredError":
      return e.reason === "no_token"
        ? "no authorization is stored for this user; authorize first."
        : e.reason === "no_refresh_token"
        ? "the access token expired and there is no refresh token; authorize again."
        : "the provider rejected the refresh token (invalid_grant); authorize again."
    case "RefreshTimeoutError":
    case "OAuthTokenError":
    case "OAuthRequestError":
    case "OAuthConfigError":
      return e.message
    default:
      return "the credential store failed; try again."
  }
}
