/**
 * TokenRefresh and layerRefreshing against a real OpenID provider (oidc-provider on loopback,
 * rotating refresh tokens, token-endpoint requests counted at the provider), on the memory store.
 * Replicas on Redis and Postgres: refreshReplicas.test.ts; through a real MCP client:
 * refreshMcp.test.ts.
 */
import { afterAll, assert, beforeAll, describe, it, vi } from "@effect/vitest"
import { CredentialBackend, EnvCredentialBackend, ResolvedCredential } from "@mcp-credentials/core"
import { ConfigProvider, DateTime, Duration, Effect, Exit, Fiber, Layer, Option, Redacted, Scope, TestClock } from "effect"
import { CredentialStore, OAuthProvider, TokenRefresh, VaultError } from "../src/index.js"
import { CLIENT, downstream, type Harness, SHORT, startProvider, tokensFor } from "./oauthHarness.js"

let h: Harness
beforeAll(async () => {
  vi.spyOn(console, "warn").mockImplementation(() => undefined)
  vi.spyOn(console, "info").mockImplementation(() => undefined)
  h = await startProvider()
})
afterAll(async () => {
  await h.close()
  vi.restoreAllMocks()
})

let n = 0
const subject = (label: string) => `${label}-${++n}`
const at = (c: ResolvedCredential.OAuthCredential) => Redacted.value(c.accessToken)
const rt = (c: ResolvedCredential.OAuthCredential) => Redacted.value(c.refreshToken!)
const oauth = (s: CredentialStore.StoredCredential) => {
  assert.strictEqual(s.credential.type, "oauth")
  return s.credential as ResolvedCredential.OAuthCredential
}
const expireAt = (c: ResolvedCredential.OAuthCredential, millis: number) =>
  new ResolvedCredential.OAuthCredential({ ...c, expiresAt: DateTime.unsafeMake(millis) })

/** A credential from a real authorization for `who`, its access token already expired. */
const expiredCredential = (provider: OAuthProvider.OAuthProvider, who: string) =>
  Effect.gen(function*() {
    const tokens = yield* tokensFor(provider, who)
    const c = yield* OAuthProvider.toCredential(provider, tokens)
    return expireAt(c, Date.now() - 1000)
  })

/** A memory store and a refresher over it, in the test's scope. */
const setup = (options: Omit<TokenRefresh.Options, "providers"> & { readonly providers: ReadonlyArray<OAuthProvider.OAuthProvider> }) =>
  Effect.gen(function*() {
    const store = yield* CredentialStore.makeMemory
    const refresher = yield* TokenRefresh.make(options).pipe(Effect.provideService(CredentialStore.CredentialStore, store))
    return { store, refresher }
  })

describe("TokenRefresh (memory store, real provider)", () => {
  it.scopedLive("short-lived tokens: a token expiring within the margin is refreshed before use, a fresh one is not", () =>
    Effect.gen(function*() {
      const p = yield* downstream(h, SHORT)
      const { refresher, store } = yield* setup({ providers: [p], margin: "1 second" })
      const key = { provider: p.name, subject: subject("short") }
      const first = yield* OAuthProvider.toCredential(p, yield* tokensFor(p, key.subject))
      yield* store.set(key, first)
      const before = h.tokenRequests()
      const same = oauth(Option.getOrThrow(yield* refresher.get(key)))
      assert.strictEqual(at(same), at(first))
      assert.strictEqual(h.tokenRequests(), before)

      yield* Effect.sleep("1100 millis") // 2 s tokens, 1 s margin
      const got = Option.getOrThrow(yield* refresher.get(key))
      const fresh = oauth(got)
      assert.strictEqual(h.tokenRequests(), before + 1)
      assert.notStrictEqual(at(fresh), at(first))
      assert.notStrictEqual(rt(fresh), rt(first), "the provider rotated the refresh token")
      assert.notProperty(fresh.extra, TokenRefresh.leaseKey)
      const stored = Option.getOrThrow(yield* store.get(key))
      assert.strictEqual(stored.generation, 3, "1 written, 2 leased, 3 refreshed")
      assert.strictEqual(at(oauth(stored)), at(fresh))
      assert.notProperty(oauth(stored).extra, TokenRefresh.leaseKey)
      // and it keeps working: the rotated refresh token is the one redeemed next time
      yield* Effect.sleep("1100 millis")
      const third = oauth(Option.getOrThrow(yield* refresher.get(key)))
      assert.strictEqual(h.tokenRequests(), before + 2)
      assert.notStrictEqual(at(third), at(fresh))
      assert.strictEqual(h.reuses(), 0)
    }))

  it.scoped("expiry by the Clock (TestClock): refreshed once the margin is reached", () =>
    Effect.gen(function*() {
      const p = yield* downstream(h)
      const { refresher, store } = yield* setup({ providers: [p] })
      const key = { provider: p.name, subject: subject("clock") }
      const now = Date.now()
      yield* TestClock.setTime(now)
      const c = yield* OAuthProvider.toCredential(p, yield* tokensFor(p, key.subject))
      assert.strictEqual(c.expiresAt!.epochMillis, now + 3600_000)
      yield* store.set(key, c)
      const before = h.tokenRequests()
      yield* TestClock.adjust("58 minutes")
      assert.strictEqual(at(oauth(Option.getOrThrow(yield* refresher.get(key)))), at(c))
      assert.strictEqual(h.tokenRequests(), before)
      yield* TestClock.adjust("1 minute") // within the 60 s margin
      const fresh = oauth(Option.getOrThrow(yield* refresher.get(key)))
      assert.strictEqual(h.tokenRequests(), before + 1)
      assert.notStrictEqual(at(fresh), at(c))
      assert.strictEqual(fresh.expiresAt!.epochMillis, now + 59 * 60_000 + 3600_000)
    }))

  it.scopedLive("1,000 concurrent calls on an expired token: exactly 1 token request, one token for all", () =>
    Effect.gen(function*() {
      const p = yield* downstream(h)
      const { refresher, store } = yield* setup({ providers: [p] })
      const key = { provider: p.name, subject: subject("thousand") }
      const expired = yield* expiredCredential(p, key.subject)
      yield* store.set(key, expired)
      const before = h.tokenRequests()
      const results = yield* Effect.all(Array.from({ length: 1000 }, () => refresher.require(key)), { concurrency: "unbounded" })
      assert.strictEqual(h.tokenRequests() - before, 1)
      const tokens = new Set(results.map((s) => at(oauth(s))))
      assert.strictEqual(tokens.size, 1)
      assert.notInclude([...tokens], at(expired))
      assert.strictEqual(at(oauth(Option.getOrThrow(yield* store.get(key)))), [...tokens][0])
    }))

  /** A store whose compare-and-set fails from its `from`-th call while `failing()` says so (a retry runs it again). */
  const blipping = (memory: CredentialStore.CredentialStore["Type"], from: number, failing: (n: number) => boolean) => {
    let cas = 0
    const store: CredentialStore.CredentialStore["Type"] = {
      ...memory,
      compareAndSet: (...args) =>
        Effect.suspend(() =>
          ++cas >= from && failing(cas)
            ? Effect.fail(new VaultError.StoreError({ backend: "memory", operation: "compareAndSet", cause: new Error("blip") }))
            : memory.compareAndSet(...args)
        )
    }
    return store
  }

  it.scopedLive("fix: a store blip after the redemption is retried while the lease holds: stored, one redemption, and another replica reads it", () =>
    Effect.gen(function*() {
      const p = yield* downstream(h)
      const memory = yield* CredentialStore.makeMemory
      // compare-and-set call 1 claims; calls 2 to 6 (the write of the new token, ~1.5 s of retries) fail
      const store = blipping(memory, 2, (n) => n <= 6)
      const refresher = yield* TokenRefresh.make({ providers: [p], lease: "1 second" }).pipe(Effect.provideService(CredentialStore.CredentialStore, store))
      const other = yield* TokenRefresh.make({ providers: [p], lease: "1 second" }).pipe(Effect.provideService(CredentialStore.CredentialStore, memory))
      const key = { provider: p.name, subject: subject("blip") }
      const expired = yield* expiredCredential(p, key.subject)
      yield* memory.set(key, expired)
      const before = { requests: h.tokenRequests(), reuses: h.reuses() }
      const next = oauth(yield* refresher.require(key))
      assert.notStrictEqual(at(next), at(expired))
      assert.strictEqual(at(oauth(yield* other.require(key))), at(next))
      assert.strictEqual(h.tokenRequests() - before.requests, 1)
      assert.strictEqual(h.reuses() - before.reuses, 0)
    }))

  it.scopedLive("fix: a new token that cannot be stored for the whole lease is written by the next call, never a second redemption", () =>
    Effect.gen(function*() {
      // a short provider timeout keeps the lease (timeout + 5 s) and the retries (~5 s) short
      const p = { ...(yield* downstream(h)), timeout: Duration.seconds(1) }
      const memory = yield* CredentialStore.makeMemory
      let down = true
      const store = blipping(memory, 2, () => down)
      // the lease is at least the provider's timeout plus 5 s: the swap is retried for ~5 s
      const refresher = yield* TokenRefresh.make({ providers: [p], lease: "1 second" }).pipe(Effect.provideService(CredentialStore.CredentialStore, store))
      const key = { provider: p.name, subject: subject("unsaved") }
      const expired = yield* expiredCredential(p, key.subject)
      yield* memory.set(key, expired)
      const before = { requests: h.tokenRequests(), reuses: h.reuses() }
      const failed = yield* Effect.flip(refresher.require(key))
      assert.strictEqual(failed._tag, "StoreError")
      down = false
      const next = oauth(yield* refresher.require(key))
      assert.notStrictEqual(at(next), at(expired))
      assert.strictEqual(at(oauth(Option.getOrThrow(yield* store.get(key)))), at(next))
      assert.strictEqual(h.tokenRequests() - before.requests, 1)
      assert.strictEqual(h.reuses() - before.reuses, 0)
    }), 30_000)

  it.scopedLive("fix: a refresh that fails while another writer stores a fresh token returns that token, not the failure", () =>
    Effect.gen(function*() {
      const down = yield* OAuthProvider.make({ name: "down", tokenEndpoint: "http://127.0.0.1:9/token", clientId: "c", timeout: "2 seconds" })
      const memory = yield* CredentialStore.makeMemory
      const key = { provider: "down", subject: subject("meanwhile") }
      const cred = (token: string, expiresAt: number) =>
        new ResolvedCredential.OAuthCredential({
          type: "oauth",
          accessToken: Redacted.make(token),
          refreshToken: Redacted.make("rt-0123456789"),
          expiresAt: DateTime.unsafeMake(expiresAt),
          extra: {}
        })
      // the user authorizes again while the refresh is failing: a new token lands before the
      // lease is released (compare-and-set call 2)
      let cas = 0
      const store: CredentialStore.CredentialStore["Type"] = {
        ...memory,
        compareAndSet: (...args) =>
          Effect.suspend(() =>
            ++cas === 2
              ? Effect.zipRight(memory.set(key, cred("at-new-authorization", Date.now() + 3_600_000)), memory.compareAndSet(...args))
              : memory.compareAndSet(...args)
          )
      }
      const refresher = yield* TokenRefresh.make({ providers: [down] }).pipe(Effect.provideService(CredentialStore.CredentialStore, store))
      yield* memory.set(key, cred("at-expired", Date.now() - 1000))
      assert.strictEqual(at(oauth(yield* refresher.require(key))), "at-new-authorization")
    }))

  it.scopedLive("fix: a claim holds at least the longest provider timeout plus 5 s, whatever lease is configured", () =>
    Effect.gen(function*() {
      const slow = yield* downstream(h)
      const p = { ...slow, timeout: Duration.seconds(60) }
      const { refresher, store } = yield* setup({ providers: [p], lease: "1 second" })
      const key = { provider: p.name, subject: subject("lease") }
      yield* store.set(key, yield* expiredCredential(p, key.subject))
      h.setTokenDelay(400)
      const running = yield* Effect.fork(refresher.require(key))
      yield* Effect.sleep("200 millis")
      const during = oauth(Option.getOrThrow(yield* store.get(key)))
      const until = (during.extra[TokenRefresh.leaseKey] as { until: number }).until
      assert.isAtLeast(until - Date.now(), 60_000)
      h.setTokenDelay(0)
      yield* Fiber.join(running)
    }))

  it.scopedLive("invalid_grant: ReauthorizationRequiredError, and the dead record is removed", () =>
    Effect.gen(function*() {
      const p = yield* downstream(h)
      const { refresher, store } = yield* setup({ providers: [p] })
      const key = { provider: p.name, subject: subject("dead") }
      const dead = new ResolvedCredential.OAuthCredential({
        type: "oauth",
        accessToken: Redacted.make("at-dead-0123456789"),
        refreshToken: Redacted.make("rt-never-issued-0123456789"),
        expiresAt: DateTime.unsafeMake(Date.now() - 1000),
        extra: {}
      })
      yield* store.set(key, dead)
      const before = h.tokenRequests()
      const e = yield* Effect.flip(refresher.get(key))
      assert.strictEqual(e._tag, "ReauthorizationRequiredError")
      if (e._tag === "ReauthorizationRequiredError") assert.strictEqual(e.reason, "invalid_grant")
      assert.notInclude(e.message, "rt-never-issued")
      assert.strictEqual(h.tokenRequests() - before, 1)
      assert.isTrue(Option.isNone(yield* store.get(key)))
      // nothing stored: None from get, no_token from require
      assert.isTrue(Option.isNone(yield* refresher.get(key)))
      const none = yield* Effect.flip(refresher.require(key))
      assert.strictEqual(none._tag === "ReauthorizationRequiredError" && none.reason, "no_token")
    }))

  it.scopedLive("fix: a refresh under way when the refresher's scope closes still stores the rotated refresh token it redeemed", () =>
    Effect.gen(function*() {
      const store = yield* CredentialStore.makeMemory
      const base = yield* downstream(h)
      const key = { provider: base.name, subject: subject("closing") }
      const old = yield* expiredCredential(base, key.subject)
      yield* store.set(key, old)
      let redeemed = false
      // the provider answers, but slowly: the layer closes after the refresh token was spent there
      const p: OAuthProvider.OAuthProvider = {
        ...base,
        fetch: async (url, init) => {
          const { signal: _ignored, ...rest } = init
          const res = await fetch(url, rest)
          redeemed = true
          await new Promise((r) => setTimeout(r, 100))
          return res
        }
      }
      const scope = yield* Scope.make()
      const refresher = yield* TokenRefresh.make({ providers: [p] }).pipe(
        Effect.provideService(CredentialStore.CredentialStore, store),
        Scope.extend(scope)
      )
      yield* Effect.fork(refresher.require(key))
      while (!redeemed) yield* Effect.sleep("5 millis")
      yield* Scope.close(scope, Exit.void)
      const stored = oauth(Option.getOrThrow(yield* store.get(key)))
      assert.notStrictEqual(rt(stored), rt(old), "the rotated refresh token was lost")
      assert.notStrictEqual(at(stored), at(old))
    }))

  it.scopedLive("invalid_grant never deletes a newer generation written meanwhile (a new authorization, another replica)", () =>
    Effect.gen(function*() {
      const store = yield* CredentialStore.makeMemory
      const base = yield* downstream(h)
      const key = { provider: base.name, subject: subject("newer") }
      const newer = yield* OAuthProvider.toCredential(base, yield* tokensFor(base, key.subject))
      // while our refresh request is in flight, another writer stores a new authorization
      const p: OAuthProvider.OAuthProvider = {
        ...base,
        fetch: async (url, init) => {
          await Effect.runPromise(store.set(key, newer))
          return fetch(url, init)
        }
      }
      const refresher = yield* TokenRefresh.make({ providers: [p] }).pipe(
        Effect.provideService(CredentialStore.CredentialStore, store)
      )
      yield* store.set(key, new ResolvedCredential.OAuthCredential({
        type: "oauth",
        accessToken: Redacted.make("at-old-0123456789"),
        refreshToken: Redacted.make("rt-revoked-0123456789"),
        expiresAt: DateTime.unsafeMake(Date.now() - 1000),
        extra: {}
      }))
      const got = oauth(yield* refresher.require(key))
      assert.strictEqual(at(got), at(newer), "the newer token is returned, not a re-authorization")
      const stored = Option.getOrThrow(yield* store.get(key))
      assert.strictEqual(at(oauth(stored)), at(newer))
      assert.strictEqual(stored.generation, 3, "1 old, 2 leased, 3 newer: nothing deleted")
    }))

  /**
   * A provider whose fetch runs `during` once the refresh grant is on its way, records the
   * refresh token the provider answers with, and counts revocation requests.
   */
  const watched = (base: OAuthProvider.OAuthProvider, during: () => Promise<void>) => {
    const seen = { issued: undefined as string | undefined, revocations: 0 }
    const p: OAuthProvider.OAuthProvider = {
      ...base,
      fetch: async (url, init) => {
        const body = String(init?.body ?? "")
        if (String(url) === base.revocationEndpoint) seen.revocations++
        if (!body.includes("grant_type=refresh_token")) return fetch(url, init)
        const answer = fetch(url, init)
        await during()
        const response = await answer
        seen.issued = (await response.clone().json()).refresh_token
        return response
      }
    }
    return { p, seen }
  }

  it.scopedLive("fix: a record deleted while its refresh is at the provider is not written back, and the tokens issued for it are revoked", () =>
    Effect.gen(function*() {
      const store = yield* CredentialStore.makeMemory
      const base = yield* downstream(h)
      assert.isDefined(base.revocationEndpoint, "discovered")
      const key = { provider: base.name, subject: subject("deleted") }
      // an operator revokes (or the user disconnects) while the provider rotates the refresh token
      const { p, seen } = watched(base, async () => {
        await Effect.runPromise(store.delete(key))
      })
      const refresher = yield* TokenRefresh.make({ providers: [p] }).pipe(Effect.provideService(CredentialStore.CredentialStore, store))
      yield* store.set(key, yield* expiredCredential(base, key.subject))
      const none = yield* Effect.flip(refresher.require(key))
      assert.strictEqual(none._tag === "ReauthorizationRequiredError" && none.reason, "no_token")
      assert.isTrue(Option.isNone(yield* store.get(key)), "the deleted record stays deleted")
      assert.isString(seen.issued)
      assert.strictEqual(seen.revocations, 2, "the rotated refresh token and the new access token")
      // the refresh token the provider issued for the deleted record no longer works there
      const reuse = yield* Effect.flip(OAuthProvider.refresh(base, { refreshToken: Redacted.make(seen.issued!) }))
      assert.strictEqual(reuse._tag === "OAuthTokenError" && reuse.error, "invalid_grant")
    }))

  it.scopedLive("fix: a token kept unsaved (the store was down) whose record is then deleted is revoked, not kept or written", () =>
    Effect.gen(function*() {
      const base = yield* downstream(h)
      const { p, seen } = watched({ ...base, timeout: Duration.seconds(1) }, async () => undefined)
      const memory = yield* CredentialStore.makeMemory
      let down = true
      const store = blipping(memory, 2, () => down)
      const refresher = yield* TokenRefresh.make({ providers: [p], lease: "1 second" }).pipe(Effect.provideService(CredentialStore.CredentialStore, store))
      const key = { provider: p.name, subject: subject("unsaved-deleted") }
      yield* memory.set(key, yield* expiredCredential(base, key.subject))
      assert.strictEqual((yield* Effect.flip(refresher.require(key)))._tag, "StoreError")
      down = false
      yield* memory.delete(key)
      const none = yield* Effect.flip(refresher.require(key))
      assert.strictEqual(none._tag === "ReauthorizationRequiredError" && none.reason, "no_token")
      assert.isTrue(Option.isNone(yield* memory.get(key)))
      assert.strictEqual(seen.revocations, 2)
      const reuse = yield* Effect.flip(OAuthProvider.refresh(base, { refreshToken: Redacted.make(seen.issued!) }))
      assert.strictEqual(reuse._tag === "OAuthTokenError" && reuse.error, "invalid_grant")
    }), 30_000)

  it.scopedLive("a refresh whose swap loses to another writer (a new authorization) revokes nothing: that writer's grant stays", () =>
    Effect.gen(function*() {
      const store = yield* CredentialStore.makeMemory
      const base = yield* downstream(h)
      const key = { provider: base.name, subject: subject("overtaken") }
      const newer = yield* OAuthProvider.toCredential(base, yield* tokensFor(base, key.subject))
      const { p, seen } = watched(base, async () => {
        await Effect.runPromise(store.set(key, newer))
      })
      const refresher = yield* TokenRefresh.make({ providers: [p] }).pipe(Effect.provideService(CredentialStore.CredentialStore, store))
      yield* store.set(key, yield* expiredCredential(base, key.subject))
      assert.strictEqual(at(oauth(yield* refresher.require(key))), at(newer))
      assert.strictEqual(seen.revocations, 0)
      // the new authorization's refresh token still works
      const later = yield* OAuthProvider.refresh(base, { refreshToken: newer.refreshToken! })
      assert.isDefined(later.refreshToken)
    }))

  it.scopedLive("token endpoint down: a token not yet expired is still used and the lease released; an expired one fails, record kept", () =>
    Effect.gen(function*() {
      const down = yield* OAuthProvider.make({
        name: "down",
        tokenEndpoint: "http://127.0.0.1:9/token",
        clientId: "c",
        timeout: "2 seconds"
      })
      const { refresher, store } = yield* setup({ providers: [down] })
      const key = { provider: "down", subject: subject("down") }
      const cred = (expiresAt: number) =>
        new ResolvedCredential.OAuthCredential({
          type: "oauth",
          accessToken: Redacted.make("at-still-valid-0123"),
          refreshToken: Redacted.make("rt-0123456789"),
          expiresAt: DateTime.unsafeMake(expiresAt),
          extra: {}
        })
      yield* store.set(key, cred(Date.now() + 30_000)) // within the margin, not expired
      const kept = oauth(yield* refresher.require(key))
      assert.strictEqual(at(kept), "at-still-valid-0123")
      assert.notProperty(oauth(Option.getOrThrow(yield* store.get(key))).extra, TokenRefresh.leaseKey)

      yield* store.set(key, cred(Date.now() - 1000))
      const e = yield* Effect.flip(refresher.require(key))
      assert.strictEqual(e._tag, "OAuthRequestError")
      const stored = oauth(Option.getOrThrow(yield* store.get(key)))
      assert.strictEqual(rt(stored), "rt-0123456789")
      assert.notProperty(stored.extra, TokenRefresh.leaseKey)
    }))

  it.scopedLive("no refresh token: usable until it really expires, then ReauthorizationRequiredError", () =>
    Effect.gen(function*() {
      const p = yield* downstream(h)
      const { refresher, store } = yield* setup({ providers: [p] })
      const key = { provider: p.name, subject: subject("norefresh") }
      const c = (expiresAt: number) =>
        new ResolvedCredential.OAuthCredential({
          type: "oauth",
          accessToken: Redacted.make("at-plain"),
          expiresAt: DateTime.unsafeMake(expiresAt),
          extra: {}
        })
      yield* store.set(key, c(Date.now() + 20_000))
      assert.strictEqual(at(oauth(yield* refresher.require(key))), "at-plain")
      yield* store.set(key, c(Date.now() - 1))
      const e = yield* Effect.flip(refresher.require(key))
      assert.strictEqual(e._tag === "ReauthorizationRequiredError" && e.reason, "no_refresh_token")
    }))

  it.scopedLive("refresh(key, stale) after a downstream 401: one request; a stale caller gets the newer token without one", () =>
    Effect.gen(function*() {
      const p = yield* downstream(h)
      const { refresher, store } = yield* setup({ providers: [p] })
      const key = { provider: p.name, subject: subject("forced") }
      const stale = yield* store.set(key, yield* OAuthProvider.toCredential(p, yield* tokensFor(p, key.subject)))
      const before = h.tokenRequests()
      const results = yield* Effect.all(Array.from({ length: 20 }, () => refresher.refresh(key, stale)), { concurrency: "unbounded" })
      assert.strictEqual(h.tokenRequests() - before, 1)
      assert.strictEqual(new Set(results.map((s) => at(oauth(s)))).size, 1)
      assert.notStrictEqual(at(oauth(results[0]!)), at(oauth(stale)))
      const late = yield* refresher.refresh(key, stale)
      assert.strictEqual(h.tokenRequests() - before, 1)
      assert.strictEqual(at(oauth(late)), at(oauth(results[0]!)))
    }))

  it.scopedLive("a lease left by a crashed replica blocks until it ends, then is taken over (1 request)", () =>
    Effect.gen(function*() {
      const p = yield* downstream(h)
      const { refresher, store } = yield* setup({ providers: [p], pollInterval: "20 millis" })
      const key = { provider: p.name, subject: subject("crashed") }
      const expired = yield* expiredCredential(p, key.subject)
      const until = Date.now() + 400
      yield* store.set(key, new ResolvedCredential.OAuthCredential({
        ...expired,
        extra: { [TokenRefresh.leaseKey]: { owner: "a-replica-that-died", until } }
      }))
      const before = h.tokenRequests()
      const got = oauth(yield* refresher.require(key))
      assert.isAtLeast(Date.now(), until)
      assert.strictEqual(h.tokenRequests() - before, 1)
      assert.notStrictEqual(at(got), at(expired))
      assert.notProperty(got.extra, TokenRefresh.leaseKey)
    }))

  it.scopedLive("a lease held past the wait fails with RefreshTimeoutError, without a token request", () =>
    Effect.gen(function*() {
      const p = yield* downstream(h)
      const { refresher, store } = yield* setup({ providers: [p], wait: "200 millis", pollInterval: "20 millis" })
      const key = { provider: p.name, subject: subject("held") }
      yield* store.set(key, new ResolvedCredential.OAuthCredential({
        type: "oauth",
        accessToken: Redacted.make("at-held"),
        refreshToken: Redacted.make("rt-held"),
        expiresAt: DateTime.unsafeMake(Date.now() - 1000),
        extra: { [TokenRefresh.leaseKey]: { owner: "slow-replica", until: Date.now() + 60_000 } }
      }))
      const before = h.tokenRequests()
      const e = yield* Effect.flip(refresher.require(key))
      assert.strictEqual(e._tag, "RefreshTimeoutError")
      assert.strictEqual(h.tokenRequests(), before)
    }))
})

describe("TokenRefresh.layerBackend", () => {
  it.scopedLive("resolves the request user's token, refreshed; no user or nothing stored is an InvalidCredentialError naming the provider", () =>
    Effect.gen(function*() {
      const p = yield* downstream(h)
      const store = yield* CredentialStore.makeMemory
      const ctx = yield* Layer.build(
        TokenRefresh.layerBackend(p.name).pipe(
          Layer.provide(TokenRefresh.layer({ providers: [p] })),
          Layer.provide(Layer.succeed(CredentialStore.CredentialStore, store))
        )
      )
      const backend = yield* Effect.provide(CredentialBackend.CredentialBackend, ctx)
      const who = subject("backend")
      const expired = yield* expiredCredential(p, who)
      yield* store.set({ provider: p.name, subject: who }, expired)
      const got = yield* backend.resolve({ kind: "oauth", user: { subject: who } })
      assert.strictEqual(got.type, "oauth")
      assert.notStrictEqual(at(got as ResolvedCredential.OAuthCredential), at(expired))
      const anonymous = yield* Effect.flip(backend.resolve({ kind: "oauth" }))
      assert.strictEqual(anonymous._tag, "InvalidCredentialError")
      assert.include(anonymous.message, "downstream authorization")
      const nobody = yield* Effect.flip(backend.resolve({ kind: "oauth", user: { subject: "nobody" } }))
      assert.include(nobody.message, "authorize first")
    }))
})

describe("TokenRefresh.layerRefreshing (Env backend)", () => {
  const env = (c: ResolvedCredential.OAuthCredential, refreshToken = rt(c)) =>
    ConfigProvider.fromMap(
      new Map([
        ["GH_ACCESS_TOKEN", at(c)],
        ["GH_REFRESH_TOKEN", refreshToken],
        ["GH_CLIENT_ID", CLIENT.id],
        ["GH_CLIENT_SECRET", CLIENT.secret],
        ["GH_TOKEN_URI", h.tokenEndpoint],
        ["GH_EXPIRES_AT", new Date(Date.now() - 1000).toISOString()]
      ])
    )

  it.scopedLive("an expired env token is refreshed once for 200 concurrent calls, then served from the cache", () =>
    Effect.gen(function*() {
      const p = yield* downstream(h)
      const original = yield* expiredCredential(p, subject("env"))
      const ctx = yield* Layer.build(
        TokenRefresh.layerRefreshing(EnvCredentialBackend.layer({ prefix: "GH_" }), { variable: "GH_REFRESH_TOKEN" })
      )
      const backend = yield* Effect.provide(CredentialBackend.CredentialBackend, ctx)
      const resolve = backend.resolve({ kind: "oauth" }).pipe(Effect.withConfigProvider(env(original)))
      const before = h.tokenRequests()
      const results = yield* Effect.all(Array.from({ length: 200 }, () => resolve), { concurrency: "unbounded" })
      assert.strictEqual(h.tokenRequests() - before, 1)
      const tokens = new Set(results.map((c) => at(c as ResolvedCredential.OAuthCredential)))
      assert.strictEqual(tokens.size, 1)
      assert.notInclude([...tokens], at(original))
      const again = (yield* resolve) as ResolvedCredential.OAuthCredential
      assert.strictEqual(h.tokenRequests() - before, 1, "cached under the refresh token's digest")
      assert.strictEqual(Redacted.value(again.clientSecret!), CLIENT.secret)
      assert.strictEqual(h.reuses(), 0)
    }))

  it.scopedLive("rotation: when the cached token expires, the rotated refresh token is redeemed (never the env's used one)", () =>
    Effect.gen(function*() {
      const p = yield* downstream(h, SHORT)
      const original = yield* OAuthProvider.toCredential(p, yield* tokensFor(p, subject("env-rotate")))
      const ctx = yield* Layer.build(
        TokenRefresh.layerRefreshing(EnvCredentialBackend.layer({ prefix: "GH_" }), { margin: "1 second" })
      )
      const backend = yield* Effect.provide(CredentialBackend.CredentialBackend, ctx)
      const config = ConfigProvider.fromMap(
        new Map([
          ["GH_ACCESS_TOKEN", at(original)],
          ["GH_REFRESH_TOKEN", rt(original)],
          ["GH_CLIENT_ID", SHORT.id],
          ["GH_CLIENT_SECRET", SHORT.secret],
          ["GH_TOKEN_URI", h.tokenEndpoint],
          ["GH_EXPIRES_AT", new Date(Date.now() - 1000).toISOString()]
        ])
      )
      const resolve = Effect.map(
        backend.resolve({ kind: "oauth" }).pipe(Effect.withConfigProvider(config)),
        (c) => c as ResolvedCredential.OAuthCredential
      )
      const before = h.tokenRequests()
      const first = yield* resolve
      assert.strictEqual(h.tokenRequests() - before, 1)
      assert.strictEqual(at(yield* resolve), at(first))
      yield* Effect.sleep("1100 millis") // the refreshed 2 s token is now within the 1 s margin
      const second = yield* resolve
      assert.strictEqual(h.tokenRequests() - before, 2)
      assert.notStrictEqual(at(second), at(first))
      assert.strictEqual(h.reuses(), 0, "the env's refresh token was not redeemed twice")
    }))

  it.scopedLive("fix: a rotated refresh token is never dropped from memory to make room (maxEntries counts the others)", () =>
    Effect.gen(function*() {
      const p = yield* downstream(h, SHORT)
      const ctx = yield* Layer.build(
        TokenRefresh.layerRefreshing(EnvCredentialBackend.layer({ prefix: "GH_" }), { margin: "1 second", maxEntries: 1 })
      )
      const backend = yield* Effect.provide(CredentialBackend.CredentialBackend, ctx)
      // two users' credentials (as two gateways' headers would carry them), both expired
      const resolverFor = (c: ResolvedCredential.OAuthCredential) => {
        const config = ConfigProvider.fromMap(
          new Map([
            ["GH_ACCESS_TOKEN", at(c)],
            ["GH_REFRESH_TOKEN", rt(c)],
            ["GH_CLIENT_ID", SHORT.id],
            ["GH_CLIENT_SECRET", SHORT.secret],
            ["GH_TOKEN_URI", h.tokenEndpoint],
            ["GH_EXPIRES_AT", new Date(Date.now() - 1000).toISOString()]
          ])
        )
        return Effect.map(
          backend.resolve({ kind: "oauth" }).pipe(Effect.withConfigProvider(config)),
          (r) => r as ResolvedCredential.OAuthCredential
        )
      }
      const a = resolverFor(yield* expiredCredential(p, subject("evict-a")))
      const b = resolverFor(yield* expiredCredential(p, subject("evict-b")))
      const before = h.tokenRequests()
      const firstA = yield* a
      yield* b // a second refreshed token, over maxEntries
      assert.strictEqual(h.tokenRequests() - before, 2)
      yield* Effect.sleep("1100 millis") // both refreshed 2 s tokens are now within the 1 s margin
      const secondA = yield* a
      assert.strictEqual(h.tokenRequests() - before, 3)
      assert.notStrictEqual(at(secondA), at(firstA))
      assert.strictEqual(h.reuses(), 0, "A's rotated refresh token was redeemed, not the source's used one")
    }))

  it.scopedLive("static credentials and OAuth credentials without refresh data pass through untouched", () =>
    Effect.gen(function*() {
      const stat = ResolvedCredential.StaticCredential.fromFields({ apiKey: "sk-1" })
      const bare = new ResolvedCredential.OAuthCredential({
        type: "oauth",
        accessToken: Redacted.make("at-bare"),
        expiresAt: DateTime.unsafeMake(Date.now() - 1000),
        extra: {}
      })
      for (const c of [stat, bare]) {
        const ctx = yield* Layer.build(TokenRefresh.layerRefreshing(CredentialBackend.layerTest(c)))
        const backend = yield* Effect.provide(CredentialBackend.CredentialBackend, ctx)
        assert.strictEqual(yield* backend.resolve({ kind: c.type }), c)
      }
    }))

  it.scopedLive("a refresh token the provider rejects is an InvalidCredentialError naming the variable, never the value", () =>
    Effect.gen(function*() {
      const p = yield* downstream(h)
      const original = yield* expiredCredential(p, subject("env-dead"))
      const ctx = yield* Layer.build(
        TokenRefresh.layerRefreshing(EnvCredentialBackend.layer({ prefix: "GH_" }), { variable: "GH_REFRESH_TOKEN" })
      )
      const backend = yield* Effect.provide(CredentialBackend.CredentialBackend, ctx)
      const e = yield* Effect.flip(
        backend.resolve({ kind: "oauth" }).pipe(Effect.withConfigProvider(env(original, "rt-bogus-0123456789")))
      )
      assert.strictEqual(e._tag, "InvalidCredentialError")
      assert.include(e.message, "GH_REFRESH_TOKEN")
      assert.include(e.message, "invalid_grant")
      assert.notInclude(e.message, "rt-bogus")
    }))
})
