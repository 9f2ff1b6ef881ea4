/**
 * Durability of the persistent stores (issue 6):
 *
 * - credentials survive a restart: the store (its connections, its file handle) is closed and a
 *   new one is built from the same options, then reads the credential back — for the file store
 *   also across OS processes (a child `node` process writes, exits, this process reads);
 * - the raw stored bytes of the restarted store hold no plaintext secret (the contract suite,
 *   `test/contract.ts` "encryption at rest", checks the same and the moved-ciphertext case on every
 *   backend: a record copied under another subject fails with `DecryptionError`);
 * - Redis / Postgres unreachable → a tagged `StoreError` within a bound, and nothing lost once the
 *   service is back. The shared services are never stopped: an in-test TCP proxy (node:net) sits
 *   between the store and 127.0.0.1:6379 / :5432 and is destroyed (listener and every socket),
 *   then restarted on the same port. The same store instance must then read the earlier data,
 *   write, and wake a waiter through a notification again (the poll is set to 30 s, so a wake-up
 *   within 1.5 s proves Redis re-subscribed / PgStore replaced its LISTEN connection).
 *
 * The bound: Redis fails a command after `maxRetriesPerRequest` (3) refused reconnects or after
 * `commandTimeout` (the store's default, 5 s); Postgres fails when a new pool connection is refused
 * or after `connectTimeout` (2 s here); PgStore checks its LISTEN connection every
 * `listenCheckInterval` (300 ms here, 5 s by default). Each operation below is also wrapped in a 8 s test timeout
 * that fails the test (rather than the store) if it ever hangs.
 *
 * Each run uses its own key prefix / schema / directory and removes it. Redis and Postgres cases
 * skip with a printed reason when the service is absent and fail when
 * MCP_CREDENTIALS_REQUIRE_SERVICES=1.
 */
import { PgClient } from "@effect/sql-pg"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { ResolvedCredential } from "@mcp-credentials/core"
import { Context, Duration, Effect, Exit, Fiber, Layer, Option, Redacted, Scope } from "effect"
import { Redis } from "ioredis"
import { spawn } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { CredentialStore, FileStore, Keyring, PendingStore } from "../src/index.js"
import * as PgStore from "../src/PgStore.js"
import * as RedisStore from "../src/RedisStore.js"
import { deleteRedisPrefix, dropPgSchemas, pgClient, probePg, probeRedis, redisUrl, required } from "./services.js"

const runId = crypto.randomBytes(4).toString("hex")
const redisPrefix = `mcv-durability:${runId}:`
const pgSchemaPrefix = `mcv_durability_${runId}`
const keySpec = Keyring.generateSpec("dur")
const keyring = Keyring.layer(Redacted.make(keySpec))
const directory = fs.mkdtempSync(path.join(os.tmpdir(), "mcp-vault-durability-"))

type Stores = CredentialStore.CredentialStore | PendingStore.PendingStore

const redisReason = await probeRedis()
const pg = await probePg()
const pgUser = pg.user ?? "postgres"

afterAll(async () => {
  fs.rmSync(directory, { recursive: true, force: true })
  if (redisReason === undefined) await deleteRedisPrefix(redisPrefix)
  if (pg.user !== undefined) await dropPgSchemas(pgUser, pgSchemaPrefix)
})

// -- helpers ----------------------------------------------------------------------------------------

let counter = 0
const uniq = (label: string) => `${label}-${runId}-${++counter}`
const pat = (secret: string) => ResolvedCredential.StaticCredential.fromFields({ pat: secret })
const patOf = (stored: Option.Option<CredentialStore.StoredCredential>) => {
  const s = Option.getOrThrow(stored)
  return s.credential.type === "static" ? Redacted.value(s.credential.fields.pat!) : undefined
}

/** Runs `f` on a freshly built store; the store is closed (connections, listeners) afterwards. */
const withStore = <A, E>(
  layer: Layer.Layer<Stores, unknown>,
  f: (cs: CredentialStore.CredentialStore["Type"], ps: PendingStore.PendingStore["Type"]) => Effect.Effect<A, E>
) =>
  Effect.gen(function*() {
    const cs = yield* CredentialStore.CredentialStore
    const ps = yield* PendingStore.PendingStore
    return yield* f(cs, ps)
  }).pipe(Effect.provide(layer))

/** Fails the test (not the store) if an operation does not settle within 8 s. */
const bounded = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.timeoutFail(self, { duration: "8 seconds", onTimeout: () => new Error("the store operation hung") })

/** A TCP proxy on loopback; `stop` closes the listener and destroys every open socket. */
const startProxy = async (target: number, port = 0) => {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((client) => {
    const upstream = net.connect(target, "127.0.0.1")
    const connection = { dead: false }
    live.add(connection)
    sockets.add(client)
    sockets.add(upstream)
    const end = () => {
      client.destroy()
      upstream.destroy()
      sockets.delete(client)
      sockets.delete(upstream)
    }
    client.on("error", end).on("close", end)
    upstream.on("error", end).on("close", end)
    // frozen: the sockets stay open but nothing is forwarded (a black-holed network), held back
    // until thawed
    const forward = (to: net.Socket) => (data: Buffer) =>
      connection.dead ? undefined : frozen ? held.push([to, data]) : to.write(data)
    client.on("data", forward(upstream))
    upstream.on("data", forward(client))
  })
  let frozen = false
  const held: Array<[net.Socket, Buffer]> = []
  const live = new Set<{ dead: boolean }>()
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(port, "127.0.0.1", () => resolve())
  })
  return {
    port: (server.address() as net.AddressInfo).port,
    freeze: () => {
      frozen = true
    },
    thaw: () => {
      frozen = false
      for (const [to, data] of held.splice(0)) if (!to.destroyed) to.write(data)
    },
    /** The open connections go silent for good (half-open, as a failover leaves them); new ones are forwarded. */
    sever: () => {
      for (const c of live) c.dead = true
      live.clear()
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        sockets.clear()
        server.close(() => resolve())
      })
  }
}

const serviceSuite = (name: string, reason: string | undefined, body: () => void) => {
  if (reason === undefined) return describe(name, body)
  if (required) {
    return describe(name, () => {
      it("the service is required (MCP_CREDENTIALS_REQUIRE_SERVICES=1)", () => assert.fail(reason))
    })
  }
  console.log(`[vault durability tests] ${name} skipped: ${reason}`)
  return describe.skip(`${name} (skipped: ${reason})`, () => {
    it("unavailable", () => {})
  })
}

/** Restart: write with one store instance, close it, read back with a new one built from the same options. */
const restartCase = (layer: () => Layer.Layer<Stores, unknown>, dump?: () => Promise<string>) =>
  Effect.gen(function*() {
    const key = { provider: "jira", subject: uniq("alice") }
    const secret = `pat-PLAINTEXT-${uniq("s")}`
    const written = yield* withStore(layer(), (cs) => cs.set(key, pat(secret)))
    const read = yield* withStore(layer(), (cs) => Effect.zip(cs.get(key), cs.list(key.subject)))
    assert.strictEqual(patOf(read[0]), secret)
    assert.strictEqual(Option.getOrThrow(read[0]).generation, written.generation)
    assert.strictEqual(read[1].length, 1)
    if (dump !== undefined) {
      const bytes = yield* Effect.promise(dump)
      assert.include(bytes, "v1.dur.", "records are sealed with the configured key")
      assert.notInclude(bytes, secret)
    }
  })

/** Outage: the proxy goes away → tagged StoreError within the bound; back on the same port → data intact, writes work. */
const outageCase = (
  target: number,
  layer: (port: number) => Layer.Layer<Stores, unknown>,
  backend: "redis" | "postgres"
) =>
  Effect.gen(function*() {
    const proxy = yield* Effect.promise(() => startProxy(target))
    let restarted: Awaited<ReturnType<typeof startProxy>> | undefined
    const key = { provider: "jira", subject: uniq("outage") }
    const later = { provider: "jira", subject: uniq("later") }
    yield* Effect.gen(function*() {
      yield* withStore(layer(proxy.port), (cs, ps) =>
        Effect.gen(function*() {
          yield* cs.set(key, pat("pat-before-outage"))
          const entry = yield* ps.create({ provider: "jira", subject: key.subject, data: {} }, "5 minutes")

          yield* Effect.promise(() => proxy.stop())
          const started = Date.now()
          const failed = yield* bounded(Effect.flip(cs.get(key)))
          assert.strictEqual(failed._tag, "StoreError")
          if (failed._tag === "StoreError") {
            assert.strictEqual(failed.backend, backend)
            assert.strictEqual(failed.operation, "get")
            assert.notInclude(failed.message, "pat-before-outage")
          }
          const failedWrite = yield* bounded(Effect.flip(cs.set(later, pat("pat-during-outage"))))
          assert.strictEqual(failedWrite._tag, "StoreError")
          assert.isBelow(Date.now() - started, 12_000, "failures are bounded, not hangs")

          restarted = yield* Effect.promise(() => startProxy(target, proxy.port))
          // the same store instance (no rebuild) reconnects by itself
          assert.strictEqual(patOf(yield* bounded(cs.get(key))), "pat-before-outage")
          assert.isTrue(Option.isSome(yield* bounded(ps.get(entry.id))), "the pending entry survived")
          yield* bounded(cs.set(later, pat("pat-after-outage")))
          assert.strictEqual(patOf(yield* bounded(cs.get(later))), "pat-after-outage")
          // wake-ups recover too (Redis re-subscribes, the Postgres LISTEN connection is replaced):
          // with the poll at 30 s, a waiter that wakes within 1.5 s was woken by a notification
          let woken = false
          for (let attempt = 0; attempt < 12 && !woken; attempt++) {
            const next = yield* ps.create({ provider: "jira", subject: key.subject }, "1 minute")
            const waiter = yield* Effect.fork(ps.await(next.id, Duration.millis(1500)))
            yield* Effect.sleep("50 millis")
            yield* ps.complete(next.id, { ok: "yes" })
            woken = Option.isSome(yield* Fiber.join(waiter))
          }
          assert.isTrue(woken, "completions wake waiters again after the outage")
        }))
      // a new instance sees everything written before and after the outage
      const after = yield* withStore(layer(target), (cs) => Effect.zip(cs.get(key), cs.get(later)))
      assert.strictEqual(patOf(after[0]), "pat-before-outage")
      assert.strictEqual(patOf(after[1]), "pat-after-outage")
    }).pipe(Effect.ensuring(Effect.promise(() => (restarted ?? proxy).stop())))
  })

/**
 * Black hole: the connections stay open but nothing comes back (a partition, a failover leaving
 * half-open sockets) → each operation fails with a tagged StoreError within the bound; once the
 * network answers again the same store serves.
 */
const blackHoleCase = (target: number, layer: (port: number) => Layer.Layer<Stores, unknown>) =>
  Effect.gen(function*() {
    const proxy = yield* Effect.promise(() => startProxy(target))
    const key = { provider: "jira", subject: uniq("hole") }
    yield* withStore(layer(proxy.port), (cs, ps) =>
      Effect.gen(function*() {
        yield* cs.set(key, pat("pat-before-hole"))
        yield* cs.get(key)
        proxy.freeze()
        const started = Date.now()
        const outcomes = yield* Effect.all([
          bounded(Effect.flip(cs.get(key))),
          bounded(Effect.flip(cs.set({ provider: "jira", subject: uniq("other") }, pat("pat-during-hole")))),
          bounded(Effect.flip(ps.create({ provider: "jira", subject: key.subject }, "1 minute"))),
          // inside a step that must not be cut short (the pages' submit, a refresh's redemption)
          // the limit holds too: `Effect.timeout` waited there for the query
          bounded(Effect.flip(Effect.uninterruptible(cs.set({ provider: "jira", subject: uniq("kept") }, pat("pat-uninterruptible")))))
        ], { concurrency: "unbounded" })
        for (const failed of outcomes) assert.strictEqual(failed._tag, "StoreError")
        assert.isBelow(Date.now() - started, 7_000, "failures are bounded, not hangs")
        proxy.thaw()
        assert.strictEqual(patOf(yield* bounded(cs.get(key))), "pat-before-hole")
      })).pipe(Effect.ensuring(Effect.promise(() => proxy.stop())))
  })

/**
 * Half-open for good: the connections a failover leaves behind never answer again, new ones are
 * served → each operation fails with a tagged StoreError within the bound, then the store
 * serves again on new connections (it does not wait for the kernel to notice the dead ones), and
 * closing it does not hang on them.
 */
const halfOpenCase = (
  target: number,
  layer: (port: number) => Layer.Layer<Stores, unknown>,
  /** Another replica, straight to the service: a result it completes must wake a waiter here by notification. */
  replica?: Layer.Layer<Stores, unknown>
) =>
  Effect.gen(function*() {
    const proxy = yield* Effect.promise(() => startProxy(target))
    const key = { provider: "jira", subject: uniq("severed") }
    const closing = yield* Effect.gen(function*() {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(layer(proxy.port), scope)
      const cs = Context.get(context, CredentialStore.CredentialStore)
      yield* cs.set(key, pat("pat-before-failover"))
      proxy.sever()
      assert.strictEqual((yield* bounded(Effect.flip(cs.get(key))))._tag, "StoreError")
      let served: Option.Option<unknown> = Option.none()
      const started = Date.now()
      while (Option.isNone(served) && Date.now() - started < 15_000) {
        served = yield* Effect.option(bounded(cs.get(key)))
        if (Option.isNone(served)) yield* Effect.sleep("500 millis")
      }
      assert.isTrue(Option.isSome(served), "serves again on new connections within 15 s")
      assert.strictEqual(patOf(served.pipe(Option.getOrThrow) as Option.Option<CredentialStore.StoredCredential>), "pat-before-failover")
      if (replica !== undefined) {
        // the notification connection was left half-open too: made again (the waiters poll only
        // every 30 s here)
        const ps = Context.get(context, PendingStore.PendingStore)
        const entry = yield* ps.create({ provider: "jira", subject: key.subject }, "1 minute")
        const waiting = yield* Effect.fork(ps.await(entry.id, "20 seconds"))
        yield* Effect.sleep("3 seconds")
        const t0 = Date.now()
        yield* withStore(replica, (_, other) => other.complete(entry.id, { status: "ok" }))
        assert.deepStrictEqual(yield* Fiber.join(waiting), Option.some({ status: "ok" }))
        assert.isBelow(Date.now() - t0, 5_000, "woken by the notification, not the 30 s poll")
      }
      const t0 = Date.now()
      yield* Scope.close(scope, Exit.void).pipe(
        Effect.timeoutFail({ duration: "15 seconds", onTimeout: () => new Error("closing the store hung on the dead connections") })
      )
      return Date.now() - t0
    }).pipe(Effect.ensuring(Effect.promise(() => proxy.stop())))
    assert.isBelow(closing, 15_000)
  })

// -- file -------------------------------------------------------------------------------------------

describe("durability: file", () => {
  const options = (namespace: string) => ({ directory, namespace })
  const fileLayer = (namespace: string) => () =>
    FileStore.layer(options(namespace)).pipe(Layer.provide(keyring))

  it.live("credentials survive a restart (same process, new store instance); no plaintext on disk", () => {
    const ns = uniq("restart")
    return restartCase(fileLayer(ns), async () => fs.readFileSync(FileStore.filePath(options(ns)), "utf8"))
  })

  it.live("a credential written by another OS process that has exited is read back", () => {
    const ns = uniq("child")
    const subject = uniq("bob")
    const secret = `pat-CHILD-${uniq("s")}`
    const fixture = fileURLToPath(new URL("./fixtures/fileWriter.mjs", import.meta.url))
    return Effect.gen(function*() {
      const exit = yield* Effect.promise(() =>
        new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
          const child = spawn(process.execPath, [fixture, directory, ns, subject], {
            env: { ...process.env, VAULT_TEST_KEY: keySpec, VAULT_TEST_SECRET: secret },
            stdio: ["ignore", "pipe", "pipe"]
          })
          let out = ""
          let err = ""
          child.stdout.on("data", (d) => (out += d))
          child.stderr.on("data", (d) => (err += d))
          child.on("exit", (code) => resolve({ code, out, err }))
        })
      )
      assert.strictEqual(exit.code, 0, exit.err)
      assert.include(exit.out, "written")
      const file = FileStore.filePath(options(ns))
      const mode = fs.statSync(file).mode & 0o777
      assert.strictEqual(mode, 0o600)
      assert.notInclude(fs.readFileSync(file, "utf8"), secret)
      const got = yield* withStore(fileLayer(ns)(), (cs) => cs.get({ provider: "jira", subject }))
      assert.strictEqual(patOf(got), secret)
    })
  })

  it.live("the wrong key fails with DecryptionError and leaves the file as it was", () => {
    const ns = uniq("wrongkey")
    const key = { provider: "jira", subject: uniq("carol") }
    return Effect.gen(function*() {
      yield* withStore(fileLayer(ns)(), (cs) => cs.set(key, pat("pat-carol")))
      const before = fs.readFileSync(FileStore.filePath(options(ns)), "utf8")
      const other = FileStore.layer(options(ns)).pipe(Layer.provide(Keyring.layer(Redacted.make(Keyring.generateSpec("x")))))
      const exit = yield* Effect.exit(withStore(other, (cs) => cs.get(key)))
      assert.isTrue(Exit.isFailure(exit))
      assert.strictEqual(fs.readFileSync(FileStore.filePath(options(ns)), "utf8"), before)
      assert.strictEqual(patOf(yield* withStore(fileLayer(ns)(), (cs) => cs.get(key))), "pat-carol")
    })
  })
})

// -- Redis ------------------------------------------------------------------------------------------

serviceSuite("durability: redis", redisReason, () => {
  const target = Number(new URL(redisUrl).port || 6379)
  const redisLayer = (port: number, prefix: string, heartbeat?: Duration.DurationInput) =>
    RedisStore.layer({
      url: Redacted.make(`redis://127.0.0.1:${port}`),
      prefix,
      redis: { commandTimeout: 2000 },
      pollInterval: "30 seconds",
      heartbeat
    }).pipe(Layer.provide(keyring))

  it.live("credentials survive a restart (connections closed, new store); no plaintext in Redis", () => {
    const prefix = `${redisPrefix}${uniq("restart")}:`
    const admin = new Redis(redisUrl)
    const dump = async () => {
      const keys = await admin.keys(`${prefix}*`)
      const values = keys.length === 0 ? [] : await admin.mget(...keys)
      return keys.map((k, i) => `${k}=${values[i]}`).join("\n")
    }
    return restartCase(() => redisLayer(target, prefix), dump).pipe(Effect.ensuring(Effect.promise(() => admin.quit())))
  })

  it.live("Redis unreachable → StoreError within the bound; back on the same port → nothing lost, writes work", () => {
    const prefix = `${redisPrefix}${uniq("outage")}:`
    return outageCase(target, (port) => redisLayer(port, prefix), "redis")
  }, 60_000)

  it.live("a connection that stops answering fails each operation after commandTimeout; then serves again", () => {
    const prefix = `${redisPrefix}${uniq("hole")}:`
    return blackHoleCase(target, (port) => redisLayer(port, prefix))
  }, 60_000)

  it.live("fix: connections left half-open for good (a failover): StoreError, then served again on new connections (it never recovered)", () => {
    const prefix = `${redisPrefix}${uniq("severed")}:`
    return halfOpenCase(target, (port) => redisLayer(port, prefix, "500 millis"), redisLayer(target, prefix))
  }, 60_000)
})

// -- Postgres ---------------------------------------------------------------------------------------

serviceSuite("durability: postgres", pg.reason, () => {
  const pgLayer = (port: number, schema: string) =>
    PgStore.layer({ schema, pollInterval: "30 seconds", listenCheckInterval: "300 millis" }).pipe(Layer.provide(keyring), Layer.provide(pgClient(pgUser, { port, connectTimeout: "2 seconds" })))

  it.live("credentials survive a restart (pool closed, new store); no plaintext in the tables", () => {
    const schema = `${pgSchemaPrefix}_${++counter}`
    const dump = () =>
      Effect.runPromise(Effect.scoped(
        Effect.gen(function*() {
          const sql = yield* PgClient.PgClient
          const out: Array<unknown> = []
          for (const table of ["credentials", "pending", "results"]) out.push(yield* sql.unsafe(`SELECT * FROM "${schema}".${table}`))
          return JSON.stringify(out)
        }).pipe(Effect.provide(pgClient(pgUser, { connectTimeout: "2 seconds" })))
      ))
    return restartCase(() => pgLayer(5432, schema), dump)
  })

  it.live("Postgres unreachable → StoreError within the bound; back on the same port → nothing lost, writes work", () => {
    const schema = `${pgSchemaPrefix}_${++counter}`
    return outageCase(5432, (port) => pgLayer(port, schema), "postgres")
  }, 60_000)

  it.live("fix: a connection that stops answering fails each operation after queryTimeout (it hung for the kernel's TCP timeout)", () => {
    const schema = `${pgSchemaPrefix}_${++counter}`
    return blackHoleCase(5432, (port) =>
      PgStore.layer({ schema, queryTimeout: "2 seconds" }).pipe(
        Layer.provide(keyring),
        Layer.provide(pgClient(pgUser, { port, connectTimeout: "2 seconds" }))
      ))
  }, 60_000)

  it.live("fix: after a network freeze longer than the LISTEN teardown's bound, completions wake waiters by NOTIFY again once it heals", () => {
    const schema = `${pgSchemaPrefix}_${++counter}`
    const layer = (port: number) =>
      PgStore.layer({ schema, pollInterval: "30 seconds", listenCheckInterval: "300 millis", queryTimeout: "2 seconds" }).pipe(
        Layer.provide(keyring),
        Layer.provide(pgClient(pgUser, { port, connectTimeout: "2 seconds" }))
      )
    return Effect.gen(function*() {
      const proxy = yield* Effect.promise(() => startProxy(5432))
      yield* withStore(layer(proxy.port), (_, ps) =>
        withStore(layer(5432), (__, other) =>
          Effect.gen(function*() {
            proxy.freeze()
            yield* Effect.sleep("10 seconds") // the check fails (~4 s), and the teardown hangs past its 2 s
            proxy.thaw()
            yield* Effect.sleep("3 seconds") // the old listener ends, a new one starts
            const entry = yield* ps.create({ provider: "jira", subject: uniq("freeze") }, "1 minute")
            const waiting = yield* Effect.fork(ps.await(entry.id, "20 seconds"))
            yield* Effect.sleep("1 second")
            const t0 = Date.now()
            yield* other.complete(entry.id, { status: "ok" })
            assert.deepStrictEqual(yield* Fiber.join(waiting), Option.some({ status: "ok" }))
            assert.isBelow(Date.now() - t0, 5_000, "woken by NOTIFY, not the 30 s poll")
          }))).pipe(Effect.ensuring(Effect.promise(() => proxy.stop())))
    })
  }, 60_000)

  it.live("fix: connections left half-open for good (a failover): StoreError, served again on new connections, and closing does not hang", () => {
    const schema = `${pgSchemaPrefix}_${++counter}`
    return halfOpenCase(5432, (port) =>
      PgStore.layer({ schema, queryTimeout: "2 seconds" }).pipe(
        Layer.provide(keyring),
        Layer.provide(pgClient(pgUser, { port, connectTimeout: "2 seconds" }))
      ))
  }, 60_000)
})
