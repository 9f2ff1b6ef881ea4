import { assert, describe, it } from "@effect/vitest"
import { Cause, DateTime, Deferred, Effect, Exit, Fiber, Option, Redacted } from "effect"
import { ResolvedCredential } from "@mcp-credentials/core"
import { makeBatcher } from "../src/internal/batch.js"
import { makeCredentialOpener, sealCredential } from "../src/internal/records.js"
import { Keyring } from "../src/index.js"

describe("makeBatcher", () => {
  it.live("reads started together share one batch; results go to their own callers, in order", () =>
    Effect.gen(function*() {
      const batches: Array<ReadonlyArray<number>> = []
      const get = makeBatcher({
        maxBatch: 500,
        run: (keys: ReadonlyArray<number>) => Effect.sync(() => (batches.push(keys), keys.map((k) => k * 10)))
      })
      const results = yield* Effect.forEach(Array.from({ length: 100 }, (_, i) => i), get, { concurrency: "unbounded" })
      assert.deepStrictEqual(results, Array.from({ length: 100 }, (_, i) => i * 10))
      assert.strictEqual(batches.length, 1)
      // a later read is a new batch
      assert.strictEqual(yield* get(7), 70)
      assert.strictEqual(batches.length, 2)
    }))

  it.live("splits into batches of at most maxBatch", () =>
    Effect.gen(function*() {
      const sizes: Array<number> = []
      const get = makeBatcher({
        maxBatch: 30,
        run: (keys: ReadonlyArray<number>) => Effect.sync(() => (sizes.push(keys.length), keys))
      })
      const results = yield* Effect.forEach(Array.from({ length: 100 }, (_, i) => i), get, { concurrency: "unbounded" })
      assert.deepStrictEqual(results, Array.from({ length: 100 }, (_, i) => i))
      assert.deepStrictEqual(sizes, [30, 30, 30, 10])
    }))

  it.live("a failed batch fails every caller in it with its error", () =>
    Effect.gen(function*() {
      const get = makeBatcher({ maxBatch: 10, run: (_: ReadonlyArray<number>) => Effect.fail("down" as const) })
      const exits = yield* Effect.forEach([1, 2, 3], (k) => Effect.exit(get(k)), { concurrency: "unbounded" })
      for (const exit of exits) assert.deepStrictEqual(exit, Exit.fail("down"))
    }))

  it.live("an interrupted caller stops waiting at once; the others in its batch still get their results", () =>
    Effect.gen(function*() {
      const release = yield* Deferred.make<void>()
      const get = makeBatcher({
        maxBatch: 10,
        run: (keys: ReadonlyArray<number>) => Effect.as(Deferred.await(release), keys)
      })
      const a = yield* Effect.fork(get(1))
      const b = yield* Effect.fork(get(2))
      yield* Effect.sleep("5 millis") // the batch is in flight
      assert.isTrue(Exit.isInterrupted(yield* Fiber.interrupt(a)))
      yield* Deferred.succeed(release, undefined)
      assert.strictEqual(yield* Fiber.join(b), 2)
    }))

  it.live("then: the continuation runs on the batch's outcome; a throw in it is the caller's defect", () =>
    Effect.gen(function*() {
      const get = makeBatcher({ maxBatch: 10, run: (keys: ReadonlyArray<number>) => Effect.succeed(keys) })
      const [ok, failed, thrown] = yield* Effect.all([
        get.then(1, (exit) => Exit.map(exit, (n) => `got ${n}`)),
        Effect.exit(get.then(2, () => Exit.fail("refused" as const))),
        Effect.exit(get.then(3, () => {
          throw new Error("boom")
        }))
      ], { concurrency: "unbounded" })
      assert.strictEqual(ok, "got 1")
      assert.deepStrictEqual(failed, Exit.fail("refused"))
      assert.isTrue(Exit.isFailure(thrown) && Cause.isDie(thrown.cause))
    }))

  it.live("a batch returning too few results is a defect for the callers without one", () =>
    Effect.gen(function*() {
      const get = makeBatcher({ maxBatch: 10, run: (keys: ReadonlyArray<number>) => Effect.succeed(keys.slice(1)) })
      const exits = yield* Effect.forEach([1, 2], (k) => Effect.exit(get(k)), { concurrency: "unbounded" })
      assert.isTrue(Exit.isSuccess(exits[0]!))
      assert.isTrue(Exit.isFailure(exits[1]!) && !Exit.isInterrupted(exits[1]!))
    }))
})

describe("makeCredentialOpener (cache of opened records)", () => {
  const ring = Keyring.make([{ id: "main", key: Redacted.make(new Uint8Array(32).fill(3)) }])
  const alice = { provider: "jira", subject: "alice" }
  const bob = { provider: "jira", subject: "bob" }
  const cred = (pat: string) => ResolvedCredential.StaticCredential.fromFields({ pat })
  const pat = (s: { credential: ResolvedCredential.ResolvedCredential }) =>
    s.credential.type === "static" ? Redacted.value(s.credential.fields.pat!) : undefined

  it.scoped("serves only a byte-identical record read for the same key and generation", () =>
    Effect.gen(function*() {
      let decrypts = 0
      const counting: typeof ring = { ...ring, open: (s, aad) => Effect.ensuring(ring.open(s, aad), Effect.sync(() => decrypts++)) }
      const open = yield* makeCredentialOpener(counting, undefined)
      const sealed = sealCredential(ring, alice, cred("p-1"), 1, null)
      const first = yield* open(alice, sealed, 1)
      const again = yield* open(alice, sealed, 1)
      assert.strictEqual(pat(first), "p-1")
      assert.strictEqual(again, first)
      assert.strictEqual(decrypts, 1)
      // another generation, another record, another owner: opened (and checked) again
      assert.strictEqual((yield* open(alice, sealed, 2)).generation, 2)
      assert.strictEqual(pat(yield* open(alice, sealCredential(ring, alice, cred("p-2"), 2, null), 3)), "p-2")
      const wrongOwner = yield* Effect.flip(open(bob, sealed, 1))
      assert.strictEqual(wrongOwner._tag, "DecryptionError")
      assert.strictEqual(decrypts, 4)
      // a tampered copy is never served from the cache
      const tampered = sealed.slice(0, -2) + (sealed.at(-2) === "A" ? "B" : "A") + sealed.slice(-1)
      assert.strictEqual((yield* Effect.flip(open(alice, tampered, 1)))._tag, "DecryptionError")
    }))

  it.live("entries expire after ttl, are bounded by maxEntries, and `false` turns the cache off", () =>
    Effect.scoped(Effect.gen(function*() {
      let decrypts = 0
      const counting: typeof ring = { ...ring, open: (s, aad) => Effect.ensuring(ring.open(s, aad), Effect.sync(() => decrypts++)) }
      const sealed = sealCredential(ring, alice, cred("p-1"), 1, null)
      const short = yield* makeCredentialOpener(counting, { ttl: "30 millis" })
      yield* short(alice, sealed, 1)
      yield* short(alice, sealed, 1)
      assert.strictEqual(decrypts, 1)
      yield* Effect.sleep("60 millis")
      yield* short(alice, sealed, 1)
      assert.strictEqual(decrypts, 2)

      decrypts = 0
      const small = yield* makeCredentialOpener(counting, { maxEntries: 2 })
      const keys = ["a", "b", "c"].map((subject) => ({ provider: "jira", subject }))
      const records = keys.map((k) => sealCredential(ring, k, cred(k.subject), 1, null))
      for (let i = 0; i < 3; i++) yield* small(keys[i]!, records[i]!, 1)
      yield* small(keys[2]!, records[2]!, 1) // still cached
      yield* small(keys[0]!, records[0]!, 1) // the oldest was dropped
      assert.strictEqual(decrypts, 4)

      decrypts = 0
      const off = yield* makeCredentialOpener(counting, false)
      yield* off(alice, sealed, 1)
      yield* off(alice, sealed, 1)
      assert.strictEqual(decrypts, 2)
    })))

  it.effect("the stored credential keeps its dates", () =>
    Effect.scoped(Effect.gen(function*() {
      const open = yield* makeCredentialOpener(ring, undefined)
      const s = yield* open(alice, sealCredential(ring, alice, cred("p"), 1000, 5000), 1)
      assert.strictEqual(DateTime.toEpochMillis(s.createdAt), 1000)
      assert.deepStrictEqual(Option.map(s.expiresAt, DateTime.toEpochMillis), Option.some(5000))
    })))
})
