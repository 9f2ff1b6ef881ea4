/**
 * Benchmark 6: the vault (`@mcp-credentials/vault`).
 *
 * (a) `CredentialStore.get` latency with 100 concurrent callers, per backend (memory, file, Redis,
 *     Postgres): each round starts 100 callers at once, each reading its own user's credential
 *     (sealed with AES-256-GCM on every backend but memory, so the figure includes decryption);
 *     each call is timed from its fiber's start to the decoded credential. Callers are root fibers
 *     as a server's tool calls are, and, alternating round by round, children of one fiber (see
 *     `Callers`), then as a closed loop of long-lived callers; a `floor` row measures the callers
 *     alone, and the Redis client alone is measured in the same loop. Goals (p99): memory ≤ 0.05 ms,
 *     Redis ≤ 2 ms, Postgres ≤ 5 ms (file: no goal).
 * (b) submit → resume: a waiter is parked in `PendingStore.await` (20 ms before the submit), then
 *     `complete` is called; the figure is from the start of `complete` to the waiter's wake-up.
 *     Same replica: one store instance; cross replica: two store instances with their own
 *     connections (Redis pub/sub, Postgres LISTEN/NOTIFY; memory and file are single-process
 *     stores, measured same replica only). Goals: ≤ 20 ms same replica, ≤ 100 ms cross replica.
 * (c) Downstream OAuth refresh (issue 7) against `oidc-provider` in this process on loopback: one
 *     `TokenRefresh.require` on an expired token (memory store; HTTP round trip to the token
 *     endpoint, rotating refresh token, re-sealing the record), p50/p90; and 1,000 concurrent
 *     `require` calls on one expired token → token-endpoint requests counted at the provider.
 *
 * Redis (127.0.0.1:6379, or MCP_CREDENTIALS_TEST_REDIS_URL) and Postgres (127.0.0.1:5432, database
 * `test`, user postgres or root) rows are skipped with a note when the service is absent. Each run
 * uses its own key prefix / schema / directory and removes it.
 */
import { PgClient } from "@effect/sql-pg"
import { ResolvedCredential } from "@mcp-credentials/core"
import { CredentialStore, FileStore, Keyring, OAuthProvider, PendingStore, TokenRefresh } from "@mcp-credentials/vault"
import * as PgStore from "@mcp-credentials/vault/PgStore"
import * as RedisStore from "@mcp-credentials/vault/RedisStore"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"
import { Redis } from "ioredis"
// @ts-expect-error oidc-provider ships no type declarations
import Provider from "oidc-provider"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
// internal, not exported: imported from the build output for attribution only
import * as Records from "../../packages/vault/dist/internal/records.js"
import { now, quantile, sampleAllocation } from "./stats.js"

export interface Options {
  readonly callers: number
  readonly rounds: number
  readonly warmup: number
  readonly resumeSamples: number
  readonly refreshSamples: number
}

export interface Latency {
  readonly n: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly max: number
}

export interface GetRow {
  readonly backend: string
  readonly skipped?: string
  readonly latency?: Latency
  /** The same, callers started as children of one fiber (see `Callers`). */
  readonly children?: Latency
  /** The same number of callers as long-lived fibers, each issuing its gets back to back (see `Callers`). */
  readonly loop?: Latency
  /** The same `get`, one caller at a time (no queueing behind other callers). */
  readonly sequential?: Latency
  /**
   * Bytes allocated per get in the closed loop (V8's sampling heap profiler, objects collected by
   * either GC included; statistical, ±5%), the callers' own loop included. On this machine a
   * young-generation GC pauses every caller for 2–10 ms, so how often one comes (allocation ÷ the
   * young generation's size) is what the p90/p99 columns mostly measure.
   */
  readonly bytesPerGet?: number
  /** p99 goal in ms; undefined: none. */
  readonly goalMs?: number
}

export interface ResumeRow {
  readonly backend: string
  readonly mode: "same replica" | "cross replica"
  readonly skipped?: string
  readonly latency?: Latency
  readonly goalMs?: number
}

export interface RefreshResult {
  readonly latency: Latency
  readonly concurrentCalls: number
  readonly tokenRequests: number
  readonly concurrentWallMs: number
  readonly distinctTokens: number
}

/** CPU cost of opening one sealed credential (what every backend but memory does per `get`). */
export interface OpenCost {
  /** `Keyring.open`: AES-256-GCM decryption with the additional data, µs per record (median of 20 batches). */
  readonly decryptUs: number
  /** The whole `openCredential`: decryption + JSON parse + the check of the record (hand-written, the Schema as fallback), µs. */
  readonly openUs: number
}

export interface Report {
  readonly options: Options
  readonly open: OpenCost
  readonly gets: ReadonlyArray<GetRow>
  /** The Redis client alone in the closed loop of (a) (see `measureRedisClientFloor`); absent without Redis. */
  readonly redisClientFloor?: Latency
  readonly resumes: ReadonlyArray<ResumeRow>
  readonly refresh: RefreshResult
}

type Stores = CredentialStore.CredentialStore | PendingStore.PendingStore

const summarizeNs = (samples: ReadonlyArray<number>): Latency => {
  const s = [...samples].sort((a, b) => a - b)
  return { n: s.length, p50: quantile(s, 0.5), p90: quantile(s, 0.9), p99: quantile(s, 0.99), max: s[s.length - 1] ?? Number.NaN }
}

const redisUrl = process.env.MCP_CREDENTIALS_TEST_REDIS_URL ?? "redis://127.0.0.1:6379"
const runId = crypto.randomBytes(4).toString("hex")
const redisPrefix = `mcv-bench:${runId}:`
const pgSchema = `mcv_bench_${runId}`
const keyring = Keyring.layer(Redacted.make(Keyring.generateSpec("bench")))

const pgClient = (username: string) =>
  PgClient.layer({ host: "127.0.0.1", port: 5432, database: "test", username, connectTimeout: "3 seconds" })

const probeRedis = async (): Promise<string | undefined> => {
  const client = new Redis(redisUrl, { lazyConnect: true, connectTimeout: 1500, maxRetriesPerRequest: 0, retryStrategy: () => null })
  client.on("error", () => {})
  try {
    await client.connect()
    await client.ping()
    await client.quit()
    return undefined
  } catch {
    client.disconnect()
    return `Redis at ${new URL(redisUrl).host} is not reachable`
  }
}

const probePg = async (): Promise<{ user?: string; reason?: string }> => {
  for (const user of ["postgres", "root"]) {
    try {
      await Effect.runPromise(Effect.scoped(Effect.flatMap(PgClient.PgClient, (sql) => sql`SELECT 1`).pipe(Effect.provide(pgClient(user)))))
      return { user }
    } catch {
      // next
    }
  }
  return { reason: "Postgres at 127.0.0.1:5432 database test is not reachable" }
}

/** Builds a store layer into `scope`, returning both services. */
const build = (layer: Layer.Layer<Stores, unknown>, scope: Scope.Scope) =>
  Effect.map(Layer.buildWithScope(layer, scope), (ctx) => ({
    cs: Context.get(ctx, CredentialStore.CredentialStore),
    ps: Context.get(ctx, PendingStore.PendingStore)
  }))

const pat = (i: number) => ResolvedCredential.StaticCredential.fromFields({ pat: `pat-bench-${i}-0123456789abcdef` })

/**
 * How the concurrent callers of (a) are started:
 * - `independent`: each caller is its own root fiber (`Runtime.runPromise`), all started in the
 *   same turn of the event loop. This is how a server runs them: every tool call is a separate
 *   `runPromise` of the application's runtime (`@mcp-credentials/server`'s pipeline), so this is
 *   the figure the goal is judged on.
 * - `children`: the 100 callers are children of one fiber (`Effect.forEach` with unbounded
 *   concurrency). Effect's structured concurrency costs ~20 µs per child here, and every caller
 *   waits behind the start of all its siblings, so this figure is dominated by the harness (see the
 *   `floor` row: a store that does nothing but one event-loop hop).
 * - `loop` (measured after the two above, not interleaved): a closed loop, the usual load-test
 *   model — the same number of callers, each a long-lived fiber issuing its gets back to back, so
 *   no fiber is started per call and what is timed is the store under a steady 100 gets in
 *   flight. Beside it, for Redis, the client alone in the same loop (`measureRedisClientFloor`).
 */
export type Callers = "independent" | "children"

/** (a) 100 concurrent callers per round, each reading its own key; latency of every call in ns. */
const measureGets = (cs: CredentialStore.CredentialStore["Type"], o: Options) =>
  Effect.gen(function*() {
    const keys = Array.from({ length: o.callers }, (_, i) => ({ provider: "jira", subject: `bench-user-${i}` }))
    yield* Effect.forEach(keys, (k, i) => cs.set(k, pat(i)), { concurrency: 10, discard: true })
    const runtime = yield* Effect.runtime<never>()
    const timed = (k: CredentialStore.StoreKey) =>
      Effect.suspend(() => {
        const t0 = now()
        return Effect.map(cs.get(k), (got) => {
          if (Option.isNone(got)) throw new Error("credential missing")
          return Number(now() - t0)
        })
      })
    const round = (callers: Callers) =>
      callers === "children"
        ? Effect.forEach(keys, timed, { concurrency: "unbounded" })
        : Effect.promise(() => Promise.all(keys.map((k) => Runtime.runPromise(runtime, timed(k)))))
    const samples: Record<Callers, Array<number>> = { independent: [], children: [] }
    for (let r = 0; r < o.warmup + o.rounds; r++) {
      // alternate the two caller models round by round, so both see the same machine state
      for (const callers of ["independent", "children"] as const) {
        const lat = yield* round(callers)
        if (r >= o.warmup) samples[callers].push(...lat)
      }
    }
    // closed loop: the same number of callers, each a long-lived fiber issuing its gets back to
    // back (no fiber started per call); see `Callers`
    const loop: Array<number> = []
    yield* Effect.forEach(keys, (k) =>
      Effect.gen(function*() {
        for (let r = 0; r < o.warmup + o.rounds; r++) {
          const t0 = now()
          const got = yield* cs.get(k)
          if (Option.isNone(got)) throw new Error("credential missing")
          if (r >= o.warmup) loop.push(Number(now() - t0))
        }
      }), { concurrency: "unbounded", discard: true })
    const one: Array<number> = []
    for (let i = 0; i < o.rounds * 5; i++) {
      const t0 = now()
      yield* cs.get(keys[i % keys.length]!)
      if (i >= o.warmup) one.push(Number(now() - t0))
    }
    const sampling = yield* Effect.promise(sampleAllocation)
    yield* Effect.forEach(keys, (k) =>
      Effect.gen(function*() {
        for (let r = 0; r < 20; r++) yield* cs.get(k)
      }), { concurrency: "unbounded", discard: true })
    const { bytes } = yield* Effect.promise(sampling.stop)
    return {
      concurrent: summarizeNs(samples.independent),
      children: summarizeNs(samples.children),
      loop: summarizeNs(loop),
      sequential: summarizeNs(one),
      bytesPerGet: bytes / (20 * keys.length)
    }
  })

/**
 * The harness floor of (a): a "store" whose `get` does no work but one event-loop hop
 * (`setImmediate`, the least a network round trip costs) and returns a credential opened in
 * advance. What it measures is the cost of the callers themselves.
 */
const floorStore: Effect.Effect<CredentialStore.CredentialStore["Type"]> = Effect.gen(function*() {
  const memory = yield* CredentialStore.makeMemory
  const stored = new Map<string, CredentialStore.StoredCredential>()
  return {
    ...memory,
    set: (key, credential, options) =>
      Effect.tap(memory.set(key, credential, options), (s) => Effect.sync(() => stored.set(`${key.provider}\0${key.subject}`, s))),
    get: (key) =>
      Effect.async((resume) => {
        setImmediate(() => resume(Effect.succeed(Option.fromNullable(stored.get(`${key.provider}\0${key.subject}`)))))
      })
  }
})

/**
 * The Redis client's own floor for (a): the same number of callers as the closed loop, each a
 * plain `async` function (no Effect) reading one of the records the Redis store wrote, with the
 * same coalescing (one `MGET` per turn of the event loop) and a `JSON.parse` of each record; no
 * decryption, no store. What the store adds is the difference to its `loop` columns.
 */
const measureRedisClientFloor = async (o: Options): Promise<Latency> => {
  const client = new Redis(redisUrl, { maxRetriesPerRequest: 1 })
  try {
    const keys: Array<string> = []
    let cursor = "0"
    do {
      const [next, batch] = await client.scan(cursor, "MATCH", `${redisPrefix}cred:*`, "COUNT", 500)
      cursor = next
      keys.push(...batch)
    } while (cursor !== "0" && keys.length < o.callers)
    if (keys.length < o.callers) throw new Error(`the Redis store left ${keys.length} records, not ${o.callers}`)
    let queue: Array<{ readonly key: string; readonly resolve: (raw: string | null) => void }> = []
    const flush = () => {
      const waiting = queue
      queue = []
      client.mget(...waiting.map((w) => w.key)).then((values) => {
        for (let i = 0; i < waiting.length; i++) waiting[i]!.resolve(values[i] ?? null)
      })
    }
    const get = (key: string) =>
      new Promise<string | null>((resolve) => {
        if (queue.push({ key, resolve }) === 1) setImmediate(flush)
      })
    const samples: Array<number> = []
    await Promise.all(keys.slice(0, o.callers).map(async (key) => {
      for (let r = 0; r < o.warmup + o.rounds; r++) {
        const t0 = now()
        const raw = await get(key)
        if (raw === null || typeof JSON.parse(raw) !== "object") throw new Error("record missing")
        if (r >= o.warmup) samples.push(Number(now() - t0))
      }
    }))
    return summarizeNs(samples)
  } finally {
    await client.quit()
  }
}

/** (b) a parked waiter on `waiter`, `complete` on `completer`: start of complete → wake-up, ns. */
const measureResume = (waiter: PendingStore.PendingStore["Type"], completer: PendingStore.PendingStore["Type"], o: Options) =>
  Effect.gen(function*() {
    const samples: Array<number> = []
    const warm = 3
    for (let i = 0; i < warm + o.resumeSamples; i++) {
      const entry = yield* waiter.create({ provider: "jira", subject: `resume-${i}` }, "1 minute")
      let woke = 0n
      const fiber = yield* Effect.fork(Effect.tap(waiter.await(entry.id, "10 seconds"), () => Effect.sync(() => (woke = now()))))
      yield* Effect.sleep("20 millis")
      const t0 = now()
      yield* completer.complete(entry.id, { ok: "1" })
      const result = yield* Fiber.join(fiber)
      if (Option.isNone(result)) throw new Error("await timed out")
      if (i >= warm) samples.push(Number(woke - t0))
    }
    return summarizeNs(samples)
  })

// -- (c) a small oidc-provider harness (the tests' one lives in packages/vault/test) -------------

const CLIENT = { id: "bench-app", secret: "bench-app-secret-0123456789abcdef" }
const REDIRECT_URI = "http://127.0.0.1:9/callback"

const startProvider = async () => {
  let tokenRequests = 0
  let provider: any
  const server = createServer((req, res) => {
    if (req.method === "POST" && req.url?.split("?")[0] === "/token") tokenRequests++
    provider.callback()(req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  provider = new Provider(issuer, {
    clients: [{
      client_id: CLIENT.id,
      client_secret: CLIENT.secret,
      grant_types: ["authorization_code", "refresh_token"],
      redirect_uris: [REDIRECT_URI],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic"
    }],
    scopes: ["openid", "offline_access", "api:read"],
    pkce: { required: () => true },
    rotateRefreshToken: () => true,
    issueRefreshToken: async (_ctx: unknown, client: any) => client.grantTypeAllowed("refresh_token"),
    findAccount: async (_ctx: unknown, id: string) => ({ accountId: id, claims: async () => ({ sub: id }) }),
    ttl: { AccessToken: 3600, RefreshToken: 86400, AuthorizationCode: 60, Grant: 86400, Interaction: 600, Session: 86400, IdToken: 3600 },
    features: { devInteractions: { enabled: true } }
  })
  return {
    issuer,
    tokenRequests: () => tokenRequests,
    close: async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  }
}

/** Drives the provider's dev login and consent pages as `subject`; the redirect back. */
const authorize = async (url: URL, subject: string): Promise<URL> => {
  const jar = new Map<string, string>()
  let next = url.href
  let body: URLSearchParams | undefined
  for (let step = 0; step < 12; step++) {
    const res = await fetch(next, {
      method: body === undefined ? "GET" : "POST",
      redirect: "manual",
      headers: {
        cookie: [...jar].map(([k, v]) => `${k}=${v}`).join("; "),
        ...(body === undefined ? {} : { "content-type": "application/x-www-form-urlencoded" })
      },
      ...(body === undefined ? {} : { body })
    })
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(";")
      const i = pair!.indexOf("=")
      jar.set(pair!.slice(0, i).trim(), pair!.slice(i + 1))
    }
    body = undefined
    const location = res.headers.get("location")
    if (location !== null) {
      await res.body?.cancel()
      const target = new URL(location, next)
      if (target.href.startsWith(REDIRECT_URI)) return target
      next = target.href
      continue
    }
    const html = await res.text()
    const prompt = /name="prompt" value="(\w+)"/.exec(html)?.[1]
    const action = /action="([^"]+)"/.exec(html)?.[1]
    if (res.status !== 200 || prompt === undefined || action === undefined) throw new Error(`unexpected page at step ${step}: HTTP ${res.status}`)
    next = new URL(action.replace(/&amp;/g, "&"), next).href
    body = new URLSearchParams(prompt === "login" ? { prompt, login: subject, password: "x" } : { prompt })
  }
  throw new Error("too many steps")
}

const expiredCredential = (provider: OAuthProvider.OAuthProvider, subject: string) =>
  Effect.gen(function*() {
    const pkce = yield* OAuthProvider.makePkce
    const state = yield* OAuthProvider.makeState
    const url = yield* OAuthProvider.authorizationUrl(provider, { redirectUri: REDIRECT_URI, state, pkce })
    const back = yield* Effect.promise(() => authorize(url, subject))
    const code = back.searchParams.get("code")
    if (code === null) throw new Error("no code")
    const tokens = yield* OAuthProvider.exchangeCode(provider, { code: Redacted.make(code), redirectUri: REDIRECT_URI, codeVerifier: pkce.verifier })
    return expire(yield* OAuthProvider.toCredential(provider, tokens))
  })

const expire = (c: ResolvedCredential.OAuthCredential) =>
  new ResolvedCredential.OAuthCredential({ ...c, expiresAt: DateTime.unsafeMake(Date.now() - 1000) })

const measureRefresh = (o: Options) =>
  Effect.gen(function*() {
    const h = yield* Effect.acquireRelease(Effect.promise(startProvider), (p) => Effect.promise(p.close))
    const provider = yield* OAuthProvider.make({
      name: "downstream",
      issuer: h.issuer,
      clientId: CLIENT.id,
      clientSecret: Redacted.make(CLIENT.secret),
      scopes: ["openid", "offline_access", "api:read"],
      extraAuthorizeParams: { prompt: "consent" }
    })
    const store = yield* CredentialStore.makeMemory
    const refresher = yield* TokenRefresh.make({ providers: [provider] }).pipe(Effect.provideService(CredentialStore.CredentialStore, store))

    // one refresh at a time: expire the stored token (keeping its rotated refresh token), refresh
    const key = { provider: provider.name, subject: "bench-refresh" }
    yield* store.set(key, yield* expiredCredential(provider, key.subject))
    const samples: Array<number> = []
    for (let i = 0; i < 3 + o.refreshSamples; i++) {
      const stored = Option.getOrThrow(yield* store.get(key)).credential as ResolvedCredential.OAuthCredential
      yield* store.set(key, expire(stored))
      const t0 = now()
      yield* refresher.require(key)
      if (i >= 3) samples.push(Number(now() - t0))
    }

    // 1,000 concurrent calls on one expired token
    const many = { provider: provider.name, subject: "bench-thousand" }
    yield* store.set(many, yield* expiredCredential(provider, many.subject))
    const before = h.tokenRequests()
    const t0 = now()
    const results = yield* Effect.all(Array.from({ length: 1000 }, () => refresher.require(many)), { concurrency: "unbounded" })
    const wall = Number(now() - t0)
    const tokens = new Set(results.map((s) => Redacted.value((s.credential as ResolvedCredential.OAuthCredential).accessToken)))
    return {
      latency: summarizeNs(samples),
      concurrentCalls: 1000,
      tokenRequests: h.tokenRequests() - before,
      concurrentWallMs: wall / 1e6,
      distinctTokens: tokens.size
    } satisfies RefreshResult
  })

const measureOpen = Effect.gen(function*() {
  const kr = yield* Keyring.Keyring
  const key = { provider: "jira", subject: "bench-user-0" }
  const sealed = Records.sealCredential(kr, key, pat(0), Date.now(), null)
  const aad = Records.credentialAad(key)
  const perOp = (f: () => unknown) => {
    const batches: Array<number> = []
    for (let b = 0; b < 25; b++) {
      const t0 = now()
      for (let i = 0; i < 1000; i++) f()
      if (b >= 5) batches.push(Number(now() - t0) / 1000 / 1000)
    }
    return quantile(batches.sort((x, y) => x - y), 0.5)
  }
  return {
    decryptUs: perOp(() => Effect.runSync(kr.open(sealed, aad))),
    openUs: perOp(() => Effect.runSync(Records.openCredential(kr, key, sealed, 1)))
  } satisfies OpenCost
}).pipe(Effect.provide(keyring))

export const run = async (o: Options): Promise<Report> => {
  const redisReason = await probeRedis()
  const pg = await probePg()
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "mcp-vault-bench-"))
  const gets: Array<GetRow> = []
  const resumes: Array<ResumeRow> = []
  const backends: ReadonlyArray<{
    readonly name: string
    readonly skipped: string | undefined
    readonly layer: () => Layer.Layer<Stores, unknown>
    readonly getGoal?: number
    readonly crossGoal?: number
    readonly getOnly?: boolean
  }> = [
    {
      name: "floor",
      skipped: undefined,
      layer: () => Layer.merge(Layer.effect(CredentialStore.CredentialStore, floorStore), PendingStore.layerMemory),
      getOnly: true
    },
    { name: "memory", skipped: undefined, layer: () => Layer.merge(CredentialStore.layerMemory, PendingStore.layerMemory), getGoal: 0.05 },
    { name: "file", skipped: undefined, layer: () => FileStore.layer({ directory, namespace: "bench" }).pipe(Layer.provide(keyring)) },
    {
      name: "redis",
      skipped: redisReason,
      layer: () => RedisStore.layer({ url: Redacted.make(redisUrl), prefix: redisPrefix }).pipe(Layer.provide(keyring)),
      getGoal: 2,
      crossGoal: 100
    },
    {
      name: "postgres",
      skipped: pg.reason,
      layer: () => PgStore.layer({ schema: pgSchema }).pipe(Layer.provide(keyring), Layer.provide(pgClient(pg.user ?? "postgres"))),
      getGoal: 5,
      crossGoal: 100
    },
    // the same two backends with the cache of opened records off: every get decrypts
    {
      name: "redis, openCache off",
      skipped: redisReason,
      layer: () => RedisStore.layer({ url: Redacted.make(redisUrl), prefix: redisPrefix, openCache: false }).pipe(Layer.provide(keyring)),
      getOnly: true
    },
    {
      name: "postgres, openCache off",
      skipped: pg.reason,
      layer: () =>
        PgStore.layer({ schema: pgSchema, openCache: false }).pipe(Layer.provide(keyring), Layer.provide(pgClient(pg.user ?? "postgres"))),
      getOnly: true
    }
  ]
  try {
    for (const b of backends) {
      if (b.skipped !== undefined) {
        gets.push({ backend: b.name, skipped: b.skipped })
        if (b.getOnly === true) continue
        resumes.push({ backend: b.name, mode: "same replica", skipped: b.skipped }, { backend: b.name, mode: "cross replica", skipped: b.skipped })
        continue
      }
      const row = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        const scope = yield* Effect.scope
        const a = yield* build(b.layer(), scope)
        const getLatency = yield* measureGets(a.cs, o)
        if (b.getOnly === true) return { getLatency, same: undefined, cross: undefined }
        const same = yield* measureResume(a.ps, a.ps, o)
        const cross = b.crossGoal === undefined ? undefined : yield* measureResume(a.ps, (yield* build(b.layer(), scope)).ps, o)
        return { getLatency, same, cross }
      })))
      gets.push({
        backend: b.name,
        latency: row.getLatency.concurrent,
        children: row.getLatency.children,
        loop: row.getLatency.loop,
        sequential: row.getLatency.sequential,
        bytesPerGet: row.getLatency.bytesPerGet,
        ...(b.getGoal !== undefined ? { goalMs: b.getGoal } : {})
      })
      if (row.same === undefined) continue
      resumes.push({ backend: b.name, mode: "same replica", latency: row.same, goalMs: 20 })
      if (row.cross !== undefined) {
        resumes.push({ backend: b.name, mode: "cross replica", latency: row.cross, ...(b.crossGoal !== undefined ? { goalMs: b.crossGoal } : {}) })
      }
    }
    const redisClientFloor = redisReason === undefined ? await measureRedisClientFloor(o) : undefined
    const open = await Effect.runPromise(measureOpen)
    const refresh = await Effect.runPromise(Effect.scoped(measureRefresh(o)))
    return { options: o, open, gets, ...(redisClientFloor !== undefined ? { redisClientFloor } : {}), resumes, refresh }
  } finally {
    fs.rmSync(directory, { recursive: true, force: true })
    if (redisReason === undefined) {
      const admin = new Redis(redisUrl)
      let cursor = "0"
      do {
        const [next, keys] = await admin.scan(cursor, "MATCH", `${redisPrefix}*`, "COUNT", 500)
        cursor = next
        if (keys.length > 0) await admin.del(...keys)
      } while (cursor !== "0")
      await admin.quit()
    }
    if (pg.user !== undefined) {
      const exit = await Effect.runPromiseExit(Effect.scoped(
        Effect.flatMap(PgClient.PgClient, (sql) => sql.unsafe(`DROP SCHEMA IF EXISTS "${pgSchema}" CASCADE`)).pipe(
          Effect.provide(pgClient(pg.user))
        )
      ))
      if (Exit.isFailure(exit)) process.stderr.write("could not drop the bench schema\n")
    }
  }
}
