/**
 * Redis backend (`ioredis`, an optional peer dependency loaded only by this module). Keys live
 * under a prefix (default `mcp:credentials:`) and carry native TTLs; subjects, providers and
 * pending ids appear in key names only as SHA-256 digests. `take` is one `GETDEL`; `await` is
 * woken through pub/sub on `<prefix>done`, so a form completed on replica B wakes a waiter on
 * replica A. Every value is sealed with the `Keyring`. `compareAndSet` and `compareAndDelete` are
 * Lua scripts, so the comparison and the write are one atomic step for every replica.
 *
 * Layout: `<prefix>cred:<h(subject)>:<h(provider)>`, `<prefix>gen:…` (generation counter),
 * `<prefix>pending:<h(id)>`, `<prefix>result:<h(id)>`.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import { Redis, type RedisOptions as IORedisOptions } from "ioredis"
import { CredentialStore, type OpenCacheOptions, type StoredCredential, type StoreKey } from "./CredentialStore.js"
import { makeBatcher } from "./internal/batch.js"
import { entryTtlMillis, ttlToExpiry } from "./internal/ttl.js"
import {
  awaitResult,
  makeStored,
  isLiveAt,
  makeCredentialOpener,
  mapOpened,
  makeNameDigest,
  openPending,
  openResult,
  ownerFor,
  sealCredential,
  sealPending,
  sealResult,
  sha256,
  toContext
} from "./internal/records.js"
import { Keyring } from "./Keyring.js"
import { defaultResultTtl, makeEntry, PendingStore } from "./PendingStore.js"
import { StoreError, type VaultError } from "./VaultError.js"

/**
 * Options of the Redis backend. `url` is `Redacted` because it may hold a password; it is never
 * logged. `redis` passes further `ioredis` options. An unreachable Redis fails an operation with a
 * `StoreError` instead of hanging: after 3 refused reconnects (`maxRetriesPerRequest`) or after
 * `commandTimeout` (default 5 s); the client keeps reconnecting, so the store recovers by itself.
 *
 * @since 0.1.0
 * @category models
 */
export interface RedisStoreOptions {
  readonly url?: Redacted.Redacted<string> | undefined
  readonly prefix?: string | undefined
  readonly redis?: IORedisOptions | undefined
  /** Safety net for a missed pub/sub message: how often a waiter re-checks. Default 1 s. */
  readonly pollInterval?: Duration.DurationInput | undefined
  /**
   * How often the subscriber connection is checked with a PING (answered within the client's
   * `commandTimeout`, else the connection is made again). Default 10 s.
   */
  readonly heartbeat?: Duration.DurationInput | undefined
  /**
   * The cache of opened records (see `OpenCacheOptions`): default on (60 s, 10,000 records);
   * `false` decrypts every read.
   */
  readonly openCache?: OpenCacheOptions | false | undefined
}

/**
 * The default key prefix.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultPrefix = "mcp:credentials:"

// The write both scripts end with: bump the generation, write the record with its TTL (0 = none).
// The generation counter never expires and is never deleted, so a generation is never reused for a
// key (a compare-and-set that straddles a delete or an expiry cannot match a newer record).
const writeRecord = `
local g = redis.call('INCR', KEYS[2])
local rec = cjson.encode({ p = ARGV[1], s = ARGV[2], g = g, c = ARGV[3] })
local px = tonumber(ARGV[4])
if px > 0 then
  redis.call('SET', KEYS[1], rec, 'PX', px)
else
  redis.call('SET', KEYS[1], rec)
end
return g
`

// Atomically: the write, unconditionally. Returns the new generation.
const setScript = writeRecord

// Compare-and-set: the same write, only if the live record has generation ARGV[5] (-1: only if
// there is no record). Returns the new generation, or 0 when the comparison fails.
const compareAndSetScript = `
local cur = redis.call('GET', KEYS[1])
local expected = tonumber(ARGV[5])
if cur then
  if expected < 0 or cjson.decode(cur).g ~= expected then return 0 end
elseif expected >= 0 then
  return 0
end
${writeRecord}`

// Compare-and-delete: removes the record only if it has generation ARGV[1]. The generation
// counter stays, so a later record does not reuse it.
const compareAndDeleteScript = `
local cur = redis.call('GET', KEYS[1])
if not cur or cjson.decode(cur).g ~= tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
return 1
`

/** Deletes a key only if it still holds the value read (the reader opened it first). */
const deleteIfScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`

interface CredentialRecord {
  readonly p: string
  readonly s: string
  readonly g: number
  readonly c: string
}

/**
 * A command that timed out may mean a half-open connection (a failover or a NAT leaves such
 * sockets, and the kernel notices them after hours; ioredis reconnects only when the socket
 * closes): the connection is dropped and made again (ioredis sends what was queued again, and
 * the subscriber subscribes again). At most once a second per connection.
 */
const resetIfTimedOut = (client: Redis, e: unknown): void => {
  if (!(e instanceof Error) || e.message !== "Command timed out" || client.status !== "ready") return
  const now = Date.now()
  const last = lastReset.get(client) ?? 0
  if (now - last < 1000) return
  lastReset.set(client, now)
  client.disconnect(true)
}
const lastReset = new WeakMap<Redis, number>()

/**
 * Builds both stores on two connections (commands and subscriber), closed with the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: RedisStoreOptions = {}) =>
  Effect.gen(function*() {
    const keyring = yield* Keyring
    const prefix = options.prefix ?? defaultPrefix
    const fail = (operation: string) => (cause: unknown) => new StoreError({ backend: "redis", operation, cause })
    const connect = (name: string) =>
      Effect.acquireRelease(
        Effect.tryPromise({
          try: async () => {
            const redisOptions: IORedisOptions = {
              lazyConnect: true,
              connectTimeout: 3000,
              commandTimeout: 5000,
              maxRetriesPerRequest: 3,
              // a command whose caller was told it failed (a timeout, a dropped connection) is not
              // sent again after a reconnect: it would apply a write reported as failed, later
              autoResendUnfulfilledCommands: false,
              ...options.redis,
              connectionName: name
            }
            const client = options.url ? new Redis(Redacted.value(options.url), redisOptions) : new Redis(redisOptions)
            client.on("error", () => {})
            try {
              await client.connect()
            } catch (e) {
              client.disconnect()
              throw e
            }
            return client
          },
          catch: fail("connect")
        }),
        (client) => Effect.promise(() => client.quit().catch(() => client.disconnect()))
      )
    const client = yield* connect("mcp-credentials-vault")
    const subscriber = yield* connect("mcp-credentials-vault-sub")
    const wakeups = yield* Effect.acquireRelease(PubSub.unbounded<string>(), PubSub.shutdown)
    const channel = `${prefix}done`
    const onMessage = (ch: string, message: string) => {
      if (ch !== channel) return
      try {
        Effect.runSync(PubSub.publish(wakeups, message))
      } catch {
        // the store is closing
      }
    }
    subscriber.on("message", onMessage)
    yield* Effect.addFinalizer(() => Effect.sync(() => subscriber.off("message", onMessage)))
    yield* Effect.tryPromise({ try: () => subscriber.subscribe(channel), catch: fail("subscribe") })
    // the subscriber sends no commands of its own: a heartbeat finds it half-open
    const heartbeat = Duration.decode(options.heartbeat ?? Duration.seconds(10))
    yield* Effect.forkScoped(
      Effect.promise(() => subscriber.ping().then(() => undefined, (e) => resetIfTimedOut(subscriber, e))).pipe(
        Effect.repeat(Schedule.spaced(heartbeat)),
        Effect.delay(heartbeat)
      )
    )

    const run = <A>(operation: string, f: () => Promise<A>) =>
      Effect.tryPromise({
        try: f,
        catch: (e) => {
          resetIfTimedOut(client, e)
          return fail(operation)(e)
        }
      })
    const digest = makeNameDigest()
    const credKey = (key: StoreKey) => `${prefix}cred:${digest(key.subject)}:${digest(key.provider)}`
    const genKey = (key: StoreKey) => `${prefix}gen:${digest(key.subject)}:${digest(key.provider)}`
    const pendingKey = (id: string) => `${prefix}pending:${sha256(id)}`
    const resultKey = (id: string) => `${prefix}result:${sha256(id)}`
    const glob = (s: string) => s.replace(/[*?[\]\\]/g, (c) => `\\${c}`)

    // records are opened as the owner the caller asked for (`ownerFor`)
    const openCredential = yield* makeCredentialOpener(keyring, options.openCache)
    // parsed when called (callers call it when they open): a cached record comes back as an
    // `Exit`, which `get` uses without running it
    const openRecord = (raw: string, owner?: StoreKey | string): Effect.Effect<StoredCredential, VaultError> => {
      let r: CredentialRecord
      try {
        r = JSON.parse(raw) as CredentialRecord
      } catch (error) {
        return Exit.fail(fail("decode")(error))
      }
      return openCredential(ownerFor(owner, { provider: r.p, subject: r.s }), r.c, r.g)
    }
    // concurrent gets share one MGET per turn of the event loop
    const getRaw = makeBatcher({
      maxBatch: 500,
      run: (keys: ReadonlyArray<string>) => run("get", () => client.mget(...keys))
    })

    /** Every key matching `match` (SCAN, 200 at a time; a key SCAN returns twice, as it may while the keyspace is rehashed, once). */
    const scanKeys = async (match: string): Promise<Array<string>> => {
      const keys = new Set<string>()
      let cursor = "0"
      do {
        const [next, batch] = await client.scan(cursor, "MATCH", match, "COUNT", 200)
        cursor = next
        for (const k of batch) keys.add(k)
      } while (cursor !== "0")
      return Array.from(keys)
    }
    const scan = (match: string) =>
      run("list", async () => {
        const keys = await scanKeys(match)
        if (keys.length === 0) return []
        const values = await client.mget(...keys)
        return values.filter((v): v is string => v !== null)
      })

    const credentials = CredentialStore.of({
      // one suspension per get: the record is parsed, opened (from the cache of opened records,
      // without running an effect) and checked against the caller's clock when the batch answers
      get: (key) =>
        Effect.clockWith((clock) =>
          getRaw.then(credKey(key), (exit): Effect.Effect<Option.Option<StoredCredential>, VaultError> => {
            if (Exit.isFailure(exit)) return Exit.failCause(exit.cause)
            const raw = exit.value
            if (raw === null) return Exit.succeed(Option.none())
            return mapOpened(openRecord(raw, key), (stored) =>
              isLiveAt(stored, clock.unsafeCurrentTimeMillis()) ? Option.some(stored) : Option.none())
          })
        ),
      set: (key, credential, setOptions) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const expiresAt = ttlToExpiry(now, setOptions?.ttl)
          const sealed = sealCredential(keyring, key, credential, now, expiresAt)
          const px = expiresAt === null ? 0 : Math.max(1, expiresAt - now)
          const generation = yield* run("set", () =>
            client.eval(setScript, 2, credKey(key), genKey(key), key.provider, key.subject, sealed, px) as Promise<number>
          )
          return makeStored(key, credential, now, expiresAt, generation)
        }),
      compareAndSet: (key, expected, credential, setOptions) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const expiresAt = ttlToExpiry(now, setOptions?.ttl)
          const sealed = sealCredential(keyring, key, credential, now, expiresAt)
          const px = expiresAt === null ? 0 : Math.max(1, expiresAt - now)
          const want = Option.getOrElse(expected, () => -1)
          const generation = yield* run("compareAndSet", () =>
            client.eval(
              compareAndSetScript,
              2,
              credKey(key),
              genKey(key),
              key.provider,
              key.subject,
              sealed,
              px,
              want
            ) as Promise<number>
          )
          return generation === 0 ? Option.none() : Option.some(makeStored(key, credential, now, expiresAt, generation))
        }),
      compareAndDelete: (key, expected) =>
        Effect.map(
          run("compareAndDelete", () => client.eval(compareAndDeleteScript, 1, credKey(key), expected) as Promise<number>),
          (n) => n === 1
        ),
      // the generation counter stays (see setScript)
      delete: (key) => Effect.map(run("delete", () => client.del(credKey(key))), (n) => n > 0),
      // the generation counters stay (see setScript)
      deleteSubject: (subject) =>
        run("delete", async () => {
          const keys = await scanKeys(`${glob(prefix)}cred:${digest(subject)}:*`)
          return keys.length === 0 ? 0 : client.del(...keys)
        }),
      list: (subject) =>
        Effect.flatMap(
          scan(`${glob(prefix)}cred:${subject === undefined ? "*" : `${sha256(subject)}:*`}`),
          (raws) =>
            Effect.flatMap(Effect.forEach(raws, (raw) => openRecord(raw, subject)), (all) =>
              Effect.map(Clock.currentTimeMillis, (now) => all.filter((stored) => isLiveAt(stored, now))))
        )
    })

    /**
     * Reads a single-use record, opens it, then deletes it if it is still the one read (one taker
     * wins). A record this replica cannot open (a key it does not have yet, in a rolling key
     * rotation) fails with `DecryptionError` and stays for a replica that can.
     */
    const takeOnce = <A, E>(operation: string, key: string, open: (raw: string) => Effect.Effect<A, E>) =>
      Effect.flatMap(run(operation, () => client.get(key)), (raw) =>
        raw === null ? Effect.succeed(Option.none<A>()) : Effect.flatMap(open(raw), (opened) =>
          Effect.map(
            run(operation, () => client.eval(deleteIfScript, 1, key, raw) as Promise<number>),
            (deleted) => deleted === 1 ? Option.some(opened) : Option.none<A>()
          )))

    const takeResult = (id: string) =>
      Effect.map(takeOnce("await", resultKey(id), (raw) => openResult(keyring, id, raw)), Option.map((r) => r.result))

    const pending = PendingStore.of({
      create: (input, ttl) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const entry = makeEntry(input, now, ttl)
          const px = entry.expiresAt.epochMillis - now
          yield* run("create", () => client.set(pendingKey(entry.id), sealPending(keyring, entry), "PX", px))
          return entry
        }),
      get: (id) =>
        Effect.flatMap(run("get", () => client.get(pendingKey(id))), (raw) =>
          raw === null ? Effect.succeed(Option.none()) : Effect.asSome(openPending(keyring, id, raw))),
      take: (id) => takeOnce("take", pendingKey(id), (raw) => openPending(keyring, id, raw)),
      complete: (id, result, completeOptions) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const px = entryTtlMillis(completeOptions?.ttl ?? defaultResultTtl)
          const sealed = sealResult(keyring, id, result, now + px)
          yield* run("complete", () => client.set(resultKey(id), sealed, "PX", px))
          yield* run("complete", () => client.publish(channel, sha256(id)))
        }),
      await: (id, timeout) =>
        awaitResult<VaultError>({
          id: sha256(id),
          wakeups,
          take: takeResult(id),
          timeout,
          pollInterval: options.pollInterval ?? Duration.seconds(1)
        })
    })

    return { credentials, pending }
  })

/**
 * Both stores on Redis, as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: RedisStoreOptions = {}
): Layer.Layer<CredentialStore | PendingStore, StoreError, Keyring> =>
  Layer.scopedContext(Effect.map(make(options), toContext))

/**
 * Both stores on Redis, with the URL and prefix read from `Config`, e.g.
 * `{ url: Config.redacted("REDIS_URL"), prefix: Config.string("REDIS_KEY_PREFIX") }`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Config.Config.Wrap<Pick<RedisStoreOptions, "url" | "prefix">>
): Layer.Layer<CredentialStore | PendingStore, StoreError | ConfigError.ConfigError, Keyring> =>
  Layer.scopedContext(Effect.map(Effect.flatMap(Config.unwrap(options), make), toContext))
