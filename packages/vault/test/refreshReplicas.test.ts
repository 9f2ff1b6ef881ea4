/**
 * Two replicas — two store instances on the same Redis prefix / Postgres schema, each with its own
 * TokenRefresh (own single-flight map, own lease owner) — refresh the same expired token at the
 * same time against a real OpenID provider with rotating refresh tokens: exactly one request
 * reaches the token endpoint, both end with the same token, and the provider never sees a refresh
 * token twice. `invalid_grant` on one replica never deletes the newer token another one wrote.
 */
import { afterAll, assert, beforeAll, describe, it, vi } from "@effect/vitest"
import { PgClient } from "@effect/sql-pg"
import { ResolvedCredential } from "@mcp-credentials/core"
import { Context, DateTime, Effect, Layer, Option, Redacted } from "effect"
import * as crypto from "node:crypto"
import { CredentialStore, Keyring, OAuthProvider, TokenRefresh } from "../src/index.js"
import * as PgStore from "../src/PgStore.js"
import * as RedisStore from "../src/RedisStore.js"
import { keyA } from "./contract.js"
import { downstream, type Harness, startProvider, tokensFor } from "./oauthHarness.js"
import { deleteRedisPrefix, probeRedis, redisUrl } from "./services.js"

const run = crypto.randomBytes(4).toString("hex")
const redisPrefix = `mcv-refresh-test:${run}:`
const pgSchema = `mcv_refresh_test_${run}`
const pgLayer = (username: string) =>
  PgClient.layer({ host: "127.0.0.1", port: 5432, database: "test", username, connectTimeout: "3 seconds" })

const probePg = async (): Promise<{ user?: string; reason?: string }> => {
  const reasons: Array<string> = []
  for (const user of ["postgres", "root"]) {
    try {
      await Effect.runPromise(Effect.scoped(Effect.flatMap(PgClient.PgClient, (sql) => sql`SELECT 1`).pipe(Effect.provide(pgLayer(user)))))
      return { user }
    } catch (e) {
      reasons.push(`${user}: ${String((e as Error)?.message ?? e).split("\n")[0]}`)
    }
  }
  return { reason: `Postgres at 127.0.0.1:5432 database test is not reachable (${reasons.join("; ")})` }
}
const redisUnavailable = await probeRedis()
const pg = await probePg()

let h: Harness
beforeAll(async () => {
  vi.spyOn(console, "warn").mockImplementation(() => undefined)
  vi.spyOn(console, "info").mockImplementation(() => undefined)
  h = await startProvider()
})
afterAll(async () => {
  await h.close()
  vi.restoreAllMocks()
  if (redisUnavailable === undefined) {
    await deleteRedisPrefix(redisPrefix)
  }
  if (pg.user !== undefined) {
    await Effect.runPromise(Effect.scoped(
      Effect.flatMap(PgClient.PgClient, (sql) => sql.unsafe(`DROP SCHEMA IF EXISTS "${pgSchema}" CASCADE`)).pipe(
        Effect.provide(pgLayer(pg.user))
      )
    ))
  }
})

const keyring = Keyring.layer(Redacted.make(keyA))
const backends: ReadonlyArray<{ name: string; unavailable: string | undefined; replica: () => Layer.Layer<CredentialStore.CredentialStore, unknown> }> = [
  {
    name: "redis",
    unavailable: redisUnavailable,
    replica: () => RedisStore.layer({ url: Redacted.make(redisUrl), prefix: redisPrefix }).pipe(Layer.provide(keyring))
  },
  {
    name: "postgres",
    unavailable: pg.reason,
    replica: () => PgStore.layer({ schema: pgSchema }).pipe(Layer.provide(pgLayer(pg.user ?? "postgres")), Layer.provide(keyring))
  }
]

let n = 0
const at = (s: CredentialStore.StoredCredential) => Redacted.value((s.credential as ResolvedCredential.OAuthCredential).accessToken)

/** One replica: its own store instance (own connections) and its own refresher. */
const replica = (layer: Layer.Layer<CredentialStore.CredentialStore, unknown>, provider: OAuthProvider.OAuthProvider) =>
  Effect.gen(function*() {
    const store = Context.get(yield* Layer.build(layer), CredentialStore.CredentialStore)
    const refresher = yield* TokenRefresh.make({ providers: [provider], pollInterval: "20 millis" }).pipe(
      Effect.provideService(CredentialStore.CredentialStore, store)
    )
    return { store, refresher }
  })

for (const backend of backends) {
  if (backend.unavailable !== undefined) {
    if (process.env.MCP_CREDENTIALS_REQUIRE_SERVICES === "1") {
      describe(`refresh replicas: ${backend.name}`, () => {
        it(`requires ${backend.name} (MCP_CREDENTIALS_REQUIRE_SERVICES=1)`, () => {
          throw new Error(`${backend.name} is unavailable: ${backend.unavailable}`)
        })
      })
    } else {
      console.warn(`[vault] skipping the ${backend.name} refresh-replica tests: ${backend.unavailable}`)
      describe.skip(`refresh replicas: ${backend.name} (skipped: ${backend.unavailable})`, () => {
        it("unavailable", () => {})
      })
    }
    continue
  }

  describe(`refresh replicas: ${backend.name}`, () => {
    it.scopedLive("two replicas refreshing concurrently: exactly 1 token request, both end with the same token", () =>
      Effect.gen(function*() {
        const p = yield* downstream(h)
        const a = yield* replica(backend.replica(), p)
        const b = yield* replica(backend.replica(), p)
        for (let round = 0; round < 3; round++) {
          const key = { provider: p.name, subject: `replicas-${backend.name}-${++n}` }
          const c = yield* OAuthProvider.toCredential(p, yield* tokensFor(p, key.subject))
          const seeded = yield* a.store.set(key, new ResolvedCredential.OAuthCredential({ ...c, expiresAt: DateTime.unsafeMake(Date.now() - 1000) }))
          const before = h.tokenRequests()
          const results = yield* Effect.all(
            Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? a : b).refresher.require(key)),
            { concurrency: "unbounded" }
          )
          assert.strictEqual(h.tokenRequests() - before, 1, `round ${round}: one token request`)
          const tokens = new Set(results.map(at))
          assert.strictEqual(tokens.size, 1, `round ${round}: every call got the same token`)
          assert.notInclude([...tokens], Redacted.value(c.accessToken))
          const [fromA, fromB] = [Option.getOrThrow(yield* a.store.get(key)), Option.getOrThrow(yield* b.store.get(key))]
          assert.strictEqual(at(fromA), [...tokens][0])
          assert.strictEqual(at(fromB), [...tokens][0])
          assert.strictEqual(fromA.generation, seeded.generation + 2, "one lease, one swap")
          assert.notProperty((fromA.credential as ResolvedCredential.OAuthCredential).extra, TokenRefresh.leaseKey)
        }
        assert.strictEqual(h.reuses(), 0, "no refresh token was redeemed twice")
      }))

    it.scopedLive("invalid_grant on replica A never deletes the newer token replica B wrote meanwhile", () =>
      Effect.gen(function*() {
        const base = yield* downstream(h)
        const key = { provider: base.name, subject: `newer-${backend.name}-${++n}` }
        const b = yield* replica(backend.replica(), base)
        const newer = yield* OAuthProvider.toCredential(base, yield* tokensFor(base, key.subject))
        const hooked: OAuthProvider.OAuthProvider = {
          ...base,
          fetch: async (url, init) => {
            await Effect.runPromise(b.store.set(key, newer)) // B stores a new authorization mid-request
            return fetch(url, init)
          }
        }
        const a = yield* replica(backend.replica(), hooked)
        yield* a.store.set(key, new ResolvedCredential.OAuthCredential({
          type: "oauth",
          accessToken: Redacted.make("at-old-0123456789"),
          refreshToken: Redacted.make("rt-revoked-0123456789"),
          expiresAt: DateTime.unsafeMake(Date.now() - 1000),
          extra: {}
        }))
        const got = yield* a.refresher.require(key)
        assert.strictEqual(at(got), Redacted.value(newer.accessToken))
        assert.strictEqual(at(Option.getOrThrow(yield* b.store.get(key))), Redacted.value(newer.accessToken))
        // with nothing newer, the same answer is a re-authorization, and the dead record goes
        const key2 = { provider: base.name, subject: `dead-${backend.name}-${++n}` }
        yield* b.store.set(key2, new ResolvedCredential.OAuthCredential({
          type: "oauth",
          accessToken: Redacted.make("at-old-0123456789"),
          refreshToken: Redacted.make("rt-revoked-0123456789"),
          expiresAt: DateTime.unsafeMake(Date.now() - 1000),
          extra: {}
        }))
        const e = yield* Effect.flip(b.refresher.require(key2))
        assert.strictEqual(e._tag === "ReauthorizationRequiredError" && e.reason, "invalid_grant")
        assert.isTrue(Option.isNone(yield* a.store.get(key2)))
      }))
  })
}
