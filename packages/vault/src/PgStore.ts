/**
 * Postgres backend on `@effect/sql-pg` (an optional peer dependency loaded only by this module).
 * The tables (`credentials`, `pending`, `results`) are created on first use in a configurable
 * schema (default `mcp_credentials`), under an advisory lock so replicas starting together do not
 * race. `expires_at` (epoch millis) is honoured on every read and swept periodically; `take` is one
 * `DELETE … RETURNING`; `await` is woken by `LISTEN`/`NOTIFY`, so a form completed on replica B
 * wakes a waiter on replica A. Every value is sealed with the `Keyring`.
 *
 * @since 0.1.0
 */
import { PgClient } from "@effect/sql-pg"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { CredentialStore, type OpenCacheOptions, type StoredCredential, type StoreKey } from "./CredentialStore.js"
import {
  awaitResult,
  credentialId,
  makeStored,
  isLiveAt,
  makeCredentialOpener,
  mapOpened,
  openPending,
  openResult,
  ownerFor,
  randomId,
  sealCredential,
  sealPending,
  sealResult,
  sha256,
  toContext
} from "./internal/records.js"
import { makeBatcher } from "./internal/batch.js"
import * as Deadline from "./internal/deadline.js"
import { entryTtlMillis, ttlToExpiry } from "./internal/ttl.js"
import { Keyring } from "./Keyring.js"
import { defaultResultTtl, makeEntry, PendingStore } from "./PendingStore.js"
import { StoreError, type VaultError } from "./VaultError.js"

/**
 * Options of the Postgres backend. `schema` must match `[a-z_][a-z0-9_]*` (at most 48 characters).
 * An unreachable Postgres fails an operation with a `StoreError` once a new pool connection is
 * refused or after the `PgClient`'s `connectTimeout`, and a query on a connection that stopped
 * answering (a network partition, a failover leaving half-open sockets) after `queryTimeout`; the
 * pool reconnects by itself afterwards.
 *
 * @since 0.1.0
 * @category models
 */
export interface PgStoreOptions {
  readonly schema?: string | undefined
  /**
   * How long one query may take before the operation fails with a `StoreError` (the query is
   * cancelled). Default 5 s, as Redis' `commandTimeout`.
   */
  readonly queryTimeout?: Duration.DurationInput | undefined
  /** How often expired credentials are emptied (the ciphertext is removed; the row keeps the key's generation counter so a generation is never reused) and expired pending entries deleted. Default 60 s. */
  readonly sweepInterval?: Duration.DurationInput | undefined
  /** Safety net for a missed notification: how often a waiter re-checks. Default 1 s. */
  readonly pollInterval?: Duration.DurationInput | undefined
  /**
   * How often the LISTEN connection is checked with a NOTIFY round trip; a lost connection is
   * replaced. Default 5 s.
   */
  readonly listenCheckInterval?: Duration.DurationInput | undefined
  /**
   * The cache of opened records (see `OpenCacheOptions`): default on (60 s, 10,000 records);
   * `false` decrypts every read.
   */
  readonly openCache?: OpenCacheOptions | false | undefined
}

/**
 * The default schema.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultSchema = "mcp_credentials"

interface CredentialRow {
  readonly provider: string
  readonly subject: string
  readonly generation: string | number
  readonly sealed: string
}

/**
 * Builds both stores on the `PgClient` in context: creates the schema and tables, starts
 * listening for completions and the sweeper, all tied to the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: PgStoreOptions = {}) =>
  Effect.gen(function*() {
    const keyring = yield* Keyring
    const pg = yield* PgClient.PgClient
    const schema = options.schema ?? defaultSchema
    const fail = (operation: string) => (cause: unknown) => new StoreError({ backend: "postgres", operation, cause })
    if (!/^[a-z_][a-z0-9_]{0,47}$/.test(schema)) {
      return yield* new StoreError({
        backend: "postgres",
        operation: "open",
        cause: new Error("invalid schema name"),
        reason: "the option schema must be a lowercase SQL name (a-z, 0-9, '_', at most 48 characters, not starting with a digit)"
      })
    }
    const queryTimeout = Duration.decode(options.queryTimeout ?? Duration.seconds(5))
    const timedOut = (operation: string) => () =>
      new StoreError({
        backend: "postgres",
        operation,
        cause: new Error("query timed out"),
        reason: `no answer within ${Duration.format(queryTimeout)} (queryTimeout)`
      })
    // a connection that stopped answering never ends a query: it is given up on (cancelled in
    // the background) after `queryTimeout`, also inside a step that must not be cut short (the
    // pages' submit, a refresh's redemption), where `Effect.timeout` would wait for it
    const q = <A extends object>(operation: string, text: string, params: ReadonlyArray<unknown> = []) =>
      Deadline.within(pg.unsafe<A>(text, params).pipe(Effect.mapError(fail(operation))), queryTimeout, timedOut(operation))
    const t = (table: string) => `"${schema}".${table}`

    yield* pg.withTransaction(
      Effect.gen(function*() {
        yield* q("open", "SELECT pg_advisory_xact_lock(hashtext($1))", [`mcp-credentials/vault/${schema}`])
        yield* q("open", `CREATE SCHEMA IF NOT EXISTS "${schema}"`)
        yield* q(
          "open",
          `CREATE TABLE IF NOT EXISTS ${t("credentials")} (id text PRIMARY KEY, provider text NOT NULL, subject text NOT NULL, generation bigint NOT NULL, expires_at bigint, sealed text NOT NULL)`
        )
        yield* q("open", `CREATE INDEX IF NOT EXISTS credentials_subject_idx ON ${t("credentials")} (subject)`)
        for (const table of ["pending", "results"]) {
          yield* q(
            "open",
            `CREATE TABLE IF NOT EXISTS ${t(table)} (id text PRIMARY KEY, expires_at bigint NOT NULL, sealed text NOT NULL)`
          )
        }
      })
    ).pipe(Effect.mapError(fail("open")))

    const sweep = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      yield* q("sweep", `UPDATE ${t("credentials")} SET sealed = '' WHERE expires_at IS NOT NULL AND expires_at <= $1 AND sealed <> ''`, [now])
      yield* q("sweep", `DELETE FROM ${t("pending")} WHERE expires_at <= $1`, [now])
      yield* q("sweep", `DELETE FROM ${t("results")} WHERE expires_at <= $1`, [now])
    })
    yield* sweep
    yield* Effect.forkScoped(
      Effect.repeat(Effect.ignore(sweep), Schedule.spaced(options.sweepInterval ?? Duration.seconds(60)))
    )

    const pollEvery = Duration.decode(options.pollInterval ?? Duration.seconds(1))
    // Completions: NOTIFY <channel>, sha256(id). Listen before returning, proven by a round trip.
    const channel = `mcv_done_${sha256(schema).slice(0, 16)}`
    const wakeups = yield* Effect.acquireRelease(PubSub.unbounded<string>(), PubSub.shutdown)
    const notify = (operation: string, payload: string) =>
      q(operation, "SELECT pg_notify($1, $2)", [channel, payload])
    // One NOTIFY that must come back through our own LISTEN connection within `within`.
    const roundTrip = (label: string, within: Duration.DurationInput) =>
      Effect.scoped(Effect.gen(function*() {
        const messages = yield* PubSub.subscribe(wakeups)
        const nonce = `${label}:${randomId()}`
        yield* notify("listen", nonce)
        yield* Queue.take(messages).pipe(
          Effect.repeat({ until: (m) => m === nonce }),
          Effect.timeoutFail({ duration: within, onTimeout: () => fail("listen")(new Error("LISTEN not ready")) })
        )
      }))
    // The LISTEN connection is supervised: when a heartbeat round trip does not come back (the
    // connection dropped, Postgres restarted), the listener is torn down (its connection closed)
    // and started again, so wake-ups recover after an outage instead of leaving only the poll.
    // Tearing down sends UNLISTEN on that connection (@effect/sql-pg), which never returns on a
    // half-open one (a failover that left the socket open, a long freeze): the listener is then
    // left to end in the background, and the next one starts only when it has (the client shares
    // one LISTEN connection while any listener holds it); meanwhile waiters find completions by
    // polling (`pollInterval`). Closing the store never waits for it.
    let listening: Fiber.RuntimeFiber<void> | undefined
    const listenOnce = Effect.gen(function*() {
      listening = yield* Effect.forkDaemon(
        pg.listen(channel).pipe(Stream.runForEach((payload) => PubSub.publish(wakeups, payload)), Effect.ignore)
      )
      const current = listening
      const checks = Effect.gen(function*() {
        yield* roundTrip("ready", "250 millis").pipe(Effect.retry({ times: 20, schedule: Schedule.spaced("100 millis") }))
        yield* Effect.forever(
          Effect.zipRight(
            Effect.sleep(options.listenCheckInterval ?? Duration.seconds(5)),
            roundTrip("check", "1 second").pipe(Effect.retry({ times: 1 }))
          )
        )
      })
      yield* Effect.ignore(checks)
      // the teardown; the next listener starts only once it has ended (it would share the
      // connection), which on a half-open one is when the network heals, or never
      yield* Fiber.interruptFork(current)
      const ended = yield* Effect.option(Effect.timeout(Fiber.await(current), "2 seconds"))
      if (Option.isNone(ended)) {
        yield* Effect.logWarning(
          `PgStore: the LISTEN connection stopped answering and cannot be closed yet; completions from other replicas are found by polling every ${Duration.format(pollEvery)} until it is replaced`
        )
        yield* Fiber.await(current)
      }
    })
    const supervisor = yield* Effect.forkDaemon(Effect.forever(Effect.zipRight(listenOnce, Effect.sleep("1 second"))))
    yield* Effect.addFinalizer(() =>
      Effect.zipRight(Fiber.interruptFork(supervisor), listening === undefined ? Effect.void : Fiber.interruptFork(listening))
    )
    yield* roundTrip("ready", "250 millis").pipe(Effect.retry(Schedule.recurs(40)))

    const now = Clock.currentTimeMillis
    // records are opened as the owner the caller asked for (`ownerFor`)
    const openCredential = yield* makeCredentialOpener(keyring, options.openCache)
    const openRow = (r: CredentialRow, owner: StoreKey | string | undefined) =>
      openCredential(
        ownerFor(owner, r),
        r.sealed,
        Number(r.generation)
      )
    // concurrent gets share one query per turn of the event loop; each caller applies its own
    // clock to the row's expiry
    const getRows = makeBatcher({
      maxBatch: 500,
      run: (ids: ReadonlyArray<string>) =>
        Effect.map(
          q<CredentialRow & { readonly id: string; readonly expires_at: string | number | null }>(
            "get",
            `SELECT id, provider, subject, generation, sealed, expires_at FROM ${t("credentials")} WHERE id = ANY($1)`,
            [ids]
          ),
          (rows) => {
            const byId = new Map(rows.map((r) => [r.id, r]))
            return ids.map((id) => byId.get(id))
          }
        )
    })

    const credentials = CredentialStore.of({
      // one suspension per get (see `Batcher.then`); the time is read before the query, as the
      // row's expiry is compared with the time the caller asked
      get: (key: StoreKey) =>
        Effect.clockWith((clock) => {
          const at = clock.unsafeCurrentTimeMillis()
          return getRows.then(credentialId(key), (exit): Effect.Effect<Option.Option<StoredCredential>, VaultError> => {
            if (Exit.isFailure(exit)) return Exit.failCause(exit.cause)
            const row = exit.value
            if (row === undefined || (row.expires_at !== null && Number(row.expires_at) <= at)) {
              return Exit.succeed(Option.none())
            }
            return mapOpened(openRow(row, key), (stored) => isLiveAt(stored, at) ? Option.some(stored) : Option.none())
          })
        }),
      set: (key, credential, setOptions) =>
        Effect.gen(function*() {
          const at = yield* now
          const expiresAt = ttlToExpiry(at, setOptions?.ttl)
          const sealed = sealCredential(keyring, key, credential, at, expiresAt)
          const rows = yield* q<{ generation: string | number }>(
            "set",
            `INSERT INTO ${t("credentials")} AS c (id, provider, subject, generation, expires_at, sealed)
             VALUES ($1, $2, $3, 1, $4, $5)
             ON CONFLICT (id) DO UPDATE SET generation = c.generation + 1, provider = EXCLUDED.provider,
               subject = EXCLUDED.subject, expires_at = EXCLUDED.expires_at, sealed = EXCLUDED.sealed
             RETURNING generation`,
            [credentialId(key), key.provider, key.subject, expiresAt, sealed]
          )
          return makeStored(key, credential, at, expiresAt, Number(rows[0]?.generation ?? 1))
        }),
      compareAndSet: (key, expected, credential, setOptions) =>
        Effect.gen(function*() {
          const at = yield* now
          const expiresAt = ttlToExpiry(at, setOptions?.ttl)
          const sealed = sealCredential(keyring, key, credential, at, expiresAt)
          // One statement each: Postgres locks the row, and a concurrent writer re-checks the
          // condition against the row it committed, so exactly one of them matches.
          const rows = Option.isSome(expected)
            ? yield* q<{ generation: string | number }>(
              "compareAndSet",
              `UPDATE ${t("credentials")} SET generation = generation + 1, expires_at = $3, sealed = $4
               WHERE id = $1 AND generation = $2 AND (expires_at IS NULL OR expires_at > $5)
               RETURNING generation`,
              [credentialId(key), expected.value, expiresAt, sealed, at]
            )
            : yield* q<{ generation: string | number }>(
              "compareAndSet",
              `INSERT INTO ${t("credentials")} AS c (id, provider, subject, generation, expires_at, sealed)
               VALUES ($1, $2, $3, 1, $4, $5)
               ON CONFLICT (id) DO UPDATE SET generation = c.generation + 1, provider = EXCLUDED.provider,
                 subject = EXCLUDED.subject, expires_at = EXCLUDED.expires_at, sealed = EXCLUDED.sealed
               WHERE c.expires_at IS NOT NULL AND c.expires_at <= $6
               RETURNING generation`,
              [credentialId(key), key.provider, key.subject, expiresAt, sealed, at]
            )
          const [row] = rows
          return row === undefined
            ? Option.none()
            : Option.some(makeStored(key, credential, at, expiresAt, Number(row.generation)))
        }),
      compareAndDelete: (key, expected) =>
        Effect.gen(function*() {
          const rows = yield* q<{ id: string }>(
            "compareAndDelete",
            `UPDATE ${t("credentials")} SET expires_at = 0, sealed = '' WHERE id = $1 AND generation = $2 AND (expires_at IS NULL OR expires_at > $3)
             RETURNING id`,
            [credentialId(key), expected, yield* now]
          )
          return rows.length > 0
        }),
      delete: (key) =>
        Effect.gen(function*() {
          const at = yield* now
          const rows = yield* q<{ id: string }>(
            "delete",
            `UPDATE ${t("credentials")} SET expires_at = 0, sealed = '' WHERE id = $1 AND (expires_at IS NULL OR expires_at > $2)
             RETURNING id`,
            [credentialId(key), at]
          )
          return rows.length > 0
        }),
      // as `delete`: the row (and its generation) stays, emptied
      deleteSubject: (subject) =>
        Effect.map(
          q<{ id: string }>(
            "delete",
            `UPDATE ${t("credentials")} SET expires_at = 0, sealed = '' WHERE subject = $1 AND sealed <> '' RETURNING id`,
            [subject]
          ),
          (rows) => rows.length
        ),
      list: (subject) =>
        Effect.gen(function*() {
          const at = yield* now
          const rows = subject === undefined
            ? yield* q<CredentialRow>(
              "list",
              `SELECT provider, subject, generation, sealed FROM ${t("credentials")} WHERE expires_at IS NULL OR expires_at > $1`,
              [at]
            )
            : yield* q<CredentialRow>(
              "list",
              `SELECT provider, subject, generation, sealed FROM ${t("credentials")} WHERE subject = $1 AND (expires_at IS NULL OR expires_at > $2)`,
              [subject, at]
            )
          const all = yield* Effect.forEach(rows, (row) => openRow(row, subject))
          return all.filter((stored) => isLiveAt(stored, at))
        })
    })

    /**
     * Reads a single-use row, opens it, then deletes it if it is still the one read (one taker
     * wins). A row this replica cannot open (a key it does not have yet, in a rolling key
     * rotation) fails with `DecryptionError` and stays for a replica that can.
     */
    const takeOnce = <A, E>(operation: string, table: string, id: string, open: (sealed: string) => Effect.Effect<A, E>) =>
      Effect.gen(function*() {
        const [row] = yield* q<{ sealed: string }>(
          operation,
          `SELECT sealed FROM ${t(table)} WHERE id = $1 AND expires_at > $2`,
          [sha256(id), yield* now]
        )
        if (row === undefined) return Option.none<A>()
        const opened = yield* open(row.sealed)
        const deleted = yield* q(
          operation,
          `DELETE FROM ${t(table)} WHERE id = $1 AND sealed = $2 RETURNING 1`,
          [sha256(id), row.sealed]
        )
        return deleted.length === 1 ? Option.some(opened) : Option.none<A>()
      })

    const takeResult = (id: string) =>
      Effect.map(takeOnce("await", "results", id, (sealed) => openResult(keyring, id, sealed)), Option.map((r) => r.result))

    const pending = PendingStore.of({
      create: (input, ttl) =>
        Effect.gen(function*() {
          const entry = makeEntry(input, yield* now, ttl)
          yield* q(
            "create",
            `INSERT INTO ${t("pending")} (id, expires_at, sealed) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO UPDATE SET expires_at = EXCLUDED.expires_at, sealed = EXCLUDED.sealed`,
            [sha256(entry.id), entry.expiresAt.epochMillis, sealPending(keyring, entry)]
          )
          return entry
        }),
      get: (id) =>
        Effect.gen(function*() {
          const rows = yield* q<{ sealed: string }>(
            "get",
            `SELECT sealed FROM ${t("pending")} WHERE id = $1 AND expires_at > $2`,
            [sha256(id), yield* now]
          )
          const [row] = rows
          return row === undefined ? Option.none() : Option.some(yield* openPending(keyring, id, row.sealed))
        }),
      take: (id) => takeOnce("take", "pending", id, (sealed) => openPending(keyring, id, sealed)),
      complete: (id, result, completeOptions) =>
        Effect.gen(function*() {
          const expiresAt = (yield* now) + entryTtlMillis(completeOptions?.ttl ?? defaultResultTtl)
          yield* q(
            "complete",
            `INSERT INTO ${t("results")} (id, expires_at, sealed) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO UPDATE SET expires_at = EXCLUDED.expires_at, sealed = EXCLUDED.sealed`,
            [sha256(id), expiresAt, sealResult(keyring, id, result, expiresAt)]
          )
          yield* notify("complete", sha256(id))
        }),
      await: (id, timeout) =>
        awaitResult<VaultError>({
          id: sha256(id),
          wakeups,
          take: takeResult(id),
          timeout,
          pollInterval: pollEvery
        })
    })

    return { credentials, pending }
  })

/**
 * Both stores on Postgres, as a layer. Provide a `PgClient` (for example `PgClient.layer(…)`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: PgStoreOptions = {}
): Layer.Layer<CredentialStore | PendingStore, StoreError, Keyring | PgClient.PgClient> =>
  Layer.scopedContext(Effect.map(make(options), toContext))
