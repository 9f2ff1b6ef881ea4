/**
 * The sealed requestState of the 2026-07-28 URL-elicitation flow: tampered, expired, replayed,
 * other-user and other-request values are refused with tagged errors; single use holds across two
 * store instances sharing Redis (a second replica).
 */
import { assert, describe, it } from "@effect/vitest"
import { ResolvedCredential } from "@mcp-credentials/core"
import { Duration, Effect, Exit, Layer, Option, Redacted, TestClock } from "effect"
import { Redis } from "ioredis"
import * as crypto from "node:crypto"
import { afterAll } from "vitest"
import { Keyring, PendingStore } from "../src/index.js"
import * as RedisStore from "../src/RedisStore.js"
import * as RequestState from "../src/RequestState.js"
import { deleteRedisPrefix, probeRedis, redisUrl as url } from "./services.js"

const keyA = Keyring.generateSpec("a")
const keyB = Keyring.generateSpec("b")
const keyring = (spec = keyA) => Keyring.layer(Redacted.make(spec))
const memory = (spec = keyA) => Layer.merge(PendingStore.layerMemory, keyring(spec))

const call = { subject: "user-alice", toolName: "list_repos", arguments: { org: "acme", page: 2, filter: { archived: false, topics: ["a", "b"] } } }

/** The error tag of an unseal that must fail. */
const refusal = (sealed: string, request: RequestState.Request) =>
  Effect.map(Effect.flip(RequestState.unseal(sealed, request)), (e) => e._tag)

/** Flips one bit of the ciphertext part of a sealed value. */
const tamper = (sealed: string) => {
  const parts = sealed.split(".")
  const ct = Buffer.from(parts[3]!, "base64url")
  ct[3] = ct[3]! ^ 0x01
  return [...parts.slice(0, 3), ct.toString("base64url")].join(".")
}

describe("RequestState (memory store)", () => {
  it.effect("seals a value that names nothing in clear; the retried identical call unseals it once", () =>
    Effect.gen(function*() {
      const sealed = yield* RequestState.seal({ ...call, provider: "github" })
      assert.isTrue(sealed.startsWith("v1.a."))
      for (const clear of ["user-alice", "list_repos", "acme", "github"]) assert.notInclude(sealed, clear)
      // key order of the arguments does not matter (canonical JSON)
      const reordered = { filter: { topics: ["a", "b"], archived: false }, page: 2, org: "acme" }
      const state = yield* RequestState.unseal(sealed, { ...call, arguments: reordered })
      assert.strictEqual(state.subject, "user-alice")
      assert.deepStrictEqual(state.provider, Option.some("github"))
      assert.strictEqual(state.requestDigest, RequestState.requestDigest("list_repos", call.arguments))
      assert.strictEqual(state.id.length, 43)
      // single use
      assert.strictEqual(yield* refusal(sealed, call), "RequestStateReplayedError")
    }).pipe(Effect.provide(memory())))

  it.effect("server-side data given at seal stays out of the sealed value and comes back from unseal only", () =>
    Effect.gen(function*() {
      const sealed = yield* RequestState.seal({ ...call, data: { pendingId: "pending-capability-0123456789" } })
      assert.notInclude(sealed, "pending-capability-0123456789")
      const opened = yield* RequestState.open(sealed)
      assert.isUndefined(opened.data)
      const state = yield* RequestState.unseal(sealed, call)
      assert.deepStrictEqual(state.data, { pendingId: "pending-capability-0123456789" })
    }).pipe(Effect.provide(memory())))

  it.effect("tampered, truncated, foreign-key and non-state values are refused as invalid", () =>
    Effect.gen(function*() {
      const sealed = yield* RequestState.seal(call)
      assert.strictEqual(yield* refusal(tamper(sealed), call), "RequestStateInvalidError")
      assert.strictEqual(yield* refusal(sealed.slice(0, -4), call), "RequestStateInvalidError")
      assert.strictEqual(yield* refusal("", call), "RequestStateInvalidError")
      assert.strictEqual(yield* refusal("v1.a.x.y", call), "RequestStateInvalidError")
      // sealed under a key this keyring does not hold
      const foreign = yield* RequestState.seal(call).pipe(Effect.provide(memory(keyB)))
      const e = yield* Effect.flip(RequestState.unseal(foreign, call))
      assert.strictEqual(e._tag, "RequestStateInvalidError")
      assert.include(e.message, "not in the keyring")
      // a credential record sealed by the same keyring (other additional data) is not a state
      const ring = yield* Keyring.Keyring
      const record = ring.seal(JSON.stringify({ v: 1, id: "x", sub: "user-alice", exp: 9e15, req: "r", tool: "t" }), "github\0user-alice")
      assert.strictEqual(yield* refusal(record, call), "RequestStateInvalidError")
      // the genuine value still works: refusals of forgeries do not consume it
      assert.strictEqual((yield* RequestState.unseal(sealed, call)).subject, "user-alice")
    }).pipe(Effect.provide(memory())))

  it.effect("a rotated keyring still opens states sealed with the old key", () =>
    Effect.gen(function*() {
      const sealed = yield* RequestState.seal(call)
      const rotated = `${keyB},${keyA}`
      const state = yield* RequestState.unseal(sealed, call).pipe(Effect.provide(keyring(rotated)))
      assert.strictEqual(state.subject, "user-alice")
    }).pipe(Effect.provide(memory())))

  it.effect("expired (TestClock): refused with the expiry, not consumed as a replay", () =>
    Effect.gen(function*() {
      const sealed = yield* RequestState.seal({ ...call, ttl: Duration.minutes(5) })
      assert.isTrue(Option.isSome(yield* Effect.option(RequestState.open(sealed))))
      yield* TestClock.adjust(Duration.minutes(5))
      const e = yield* Effect.flip(RequestState.unseal(sealed, call))
      assert.strictEqual(e._tag, "RequestStateExpiredError")
      assert.include(e.message, "expired at")
      assert.strictEqual((yield* Effect.flip(RequestState.open(sealed)))._tag, "RequestStateExpiredError")
    }).pipe(Effect.provide(memory())))

  it.effect("another user is refused without naming either user, and does not burn the state", () =>
    Effect.gen(function*() {
      const sealed = yield* RequestState.seal(call)
      const e = yield* Effect.flip(RequestState.unseal(sealed, { ...call, subject: "user-mallory" }))
      assert.strictEqual(e._tag, "RequestStateUserMismatchError")
      assert.notInclude(e.message, "alice")
      assert.notInclude(e.message, "mallory")
      assert.strictEqual((yield* RequestState.unseal(sealed, call)).subject, "user-alice")
    }).pipe(Effect.provide(memory())))

  it.effect("another request (other arguments, other tool) is refused naming the field", () =>
    Effect.gen(function*() {
      const sealed = yield* RequestState.seal(call)
      const args = yield* Effect.flip(RequestState.unseal(sealed, { ...call, arguments: { ...call.arguments, org: "evil" } }))
      assert.strictEqual(args._tag, "RequestStateRequestMismatchError")
      assert.include(args.message, "arguments")
      assert.notInclude(args.message, "evil")
      const extra = yield* refusal(sealed, { ...call, arguments: { ...call.arguments, more: 1 } })
      assert.strictEqual(extra, "RequestStateRequestMismatchError")
      const tool = yield* Effect.flip(RequestState.unseal(sealed, { ...call, toolName: "delete_repo" }))
      assert.strictEqual(tool._tag, "RequestStateRequestMismatchError")
      assert.include(tool.message, "toolName")
      assert.strictEqual((yield* RequestState.unseal(sealed, call)).subject, "user-alice")
    }).pipe(Effect.provide(memory())))

  it.effect("a state whose record is gone from the store (never issued here, or already taken) is a replay", () =>
    Effect.gen(function*() {
      // sealed with the same key but recorded in another store: this deployment never issued it
      const elsewhere = yield* RequestState.seal(call).pipe(Effect.provide(memory()))
      assert.strictEqual(yield* refusal(elsewhere, call), "RequestStateReplayedError")
    }).pipe(Effect.provide(memory())))

  it.effect("bound to a digest given by the caller (the elicitation flow's requestDigest)", () =>
    Effect.gen(function*() {
      const sealed = yield* RequestState.seal({ subject: "user-alice", requestDigest: "digest-of-call-1", provider: "jira" })
      assert.notInclude(sealed, "digest-of-call-1")
      const other = yield* Effect.flip(RequestState.unseal(sealed, { subject: "user-alice", requestDigest: "digest-of-call-2" }))
      assert.strictEqual(other._tag, "RequestStateRequestMismatchError")
      assert.include(other.message, "request digest")
      // a digest-bound state is never accepted for a tool call given by name and arguments
      assert.strictEqual(yield* refusal(sealed, call), "RequestStateRequestMismatchError")
      assert.strictEqual(yield* refusal(sealed, { subject: "user-bob", requestDigest: "digest-of-call-1" }), "RequestStateUserMismatchError")
      const state = yield* RequestState.unseal(sealed, { subject: "user-alice", requestDigest: "digest-of-call-1" })
      assert.deepStrictEqual(state.provider, Option.some("jira"))
      assert.strictEqual(yield* refusal(sealed, { subject: "user-alice", requestDigest: "digest-of-call-1" }), "RequestStateReplayedError")
    }).pipe(Effect.provide(memory())))

  it("canonical JSON sorts keys recursively and drops undefined members", () => {
    assert.strictEqual(RequestState.canonicalJson({ b: 1, a: { d: [1, { z: 1, y: undefined }], c: "x" } }), '{"a":{"c":"x","d":[1,{"z":1}]},"b":1}')
    assert.strictEqual(RequestState.requestDigest("t", undefined), RequestState.requestDigest("t", {}))
    assert.notStrictEqual(RequestState.requestDigest("t", { a: 1 }), RequestState.requestDigest("t", { a: "1" }))
    assert.notStrictEqual(RequestState.requestDigest("ab", {}), RequestState.requestDigest("a", { b: {} }))
  })

  it.effect("never carries a credential: a sealed value opened with the key holds only ids, names and digests", () =>
    Effect.gen(function*() {
      const secret = ResolvedCredential.StaticCredential.fromFields({ apiKey: "sk-never-in-state-42" })
      const sealed = yield* RequestState.seal({ ...call, arguments: { repo: "x" }, provider: "github" })
      const ring = yield* Keyring.Keyring
      const plain = yield* ring.open(sealed, "mcp-credentials/request-state/v1")
      assert.deepStrictEqual(Object.keys(JSON.parse(plain)).sort(), ["exp", "id", "prv", "req", "sub", "tool", "v"])
      assert.notInclude(plain, Redacted.value(secret.fields.apiKey!))
      assert.notInclude(plain, '"repo"')
    }).pipe(Effect.provide(memory())))
})

// -----------------------------------------------------------------------------
// two replicas sharing Redis
// -----------------------------------------------------------------------------

const prefix = `mcv-test-rs:${crypto.randomBytes(4).toString("hex")}:`
const unavailable = await probeRedis()

afterAll(async () => {
  if (unavailable === undefined) await deleteRedisPrefix(prefix)
})

/** One replica: its own Redis connections, the shared prefix and keyring. */
const replica = () => RedisStore.layer({ url: Redacted.make(url), prefix }).pipe(Layer.provideMerge(keyring()))

if (unavailable !== undefined && process.env.MCP_CREDENTIALS_REQUIRE_SERVICES !== "1") {
  console.warn(`[vault] skipping the RequestState Redis cases: ${unavailable}`)
  describe.skip(`RequestState across replicas (skipped: ${unavailable})`, () => {
    it("unavailable", () => {})
  })
} else {
  describe("RequestState across two replicas sharing Redis", () => {
    it.live("sealed on replica A, the retry on replica B succeeds once; A then sees a replay", () =>
      Effect.gen(function*() {
        if (unavailable !== undefined) throw new Error(`Redis is required (MCP_CREDENTIALS_REQUIRE_SERVICES=1): ${unavailable}`)
        const a = yield* Layer.build(replica())
        const b = yield* Layer.build(replica())
        const sealed = yield* RequestState.seal({ ...call, provider: "github" }).pipe(Effect.provide(a))
        const state = yield* RequestState.unseal(sealed, call).pipe(Effect.provide(b))
        assert.strictEqual(state.subject, "user-alice")
        const replay = yield* Effect.flip(RequestState.unseal(sealed, call)).pipe(Effect.provide(a))
        assert.strictEqual(replay._tag, "RequestStateReplayedError")
        // other-user and tampered on B leave the next state usable on A
        const next = yield* RequestState.seal(call).pipe(Effect.provide(a))
        assert.strictEqual((yield* Effect.flip(RequestState.unseal(next, { ...call, subject: "bob" })).pipe(Effect.provide(b)))._tag, "RequestStateUserMismatchError")
        assert.strictEqual((yield* Effect.flip(RequestState.unseal(tamper(next), call)).pipe(Effect.provide(b)))._tag, "RequestStateInvalidError")
        assert.strictEqual((yield* RequestState.unseal(next, call).pipe(Effect.provide(a))).subject, "user-alice")
      }).pipe(Effect.scoped))

    it.live("two replicas racing on one state: exactly one wins", () =>
      Effect.gen(function*() {
        if (unavailable !== undefined) throw new Error(`Redis is required (MCP_CREDENTIALS_REQUIRE_SERVICES=1): ${unavailable}`)
        const a = yield* Layer.build(replica())
        const b = yield* Layer.build(replica())
        for (let i = 0; i < 5; i++) {
          const sealed = yield* RequestState.seal(call).pipe(Effect.provide(a))
          const exits = yield* Effect.all(
            [a, b, a, b].map((ctx) => Effect.exit(RequestState.unseal(sealed, call).pipe(Effect.provide(ctx)))),
            { concurrency: "unbounded" }
          )
          assert.strictEqual(exits.filter(Exit.isSuccess).length, 1)
        }
      }).pipe(Effect.scoped))

    it.live("the record expires in Redis with the state's lifetime", () =>
      Effect.gen(function*() {
        if (unavailable !== undefined) throw new Error(`Redis is required (MCP_CREDENTIALS_REQUIRE_SERVICES=1): ${unavailable}`)
        const a = yield* Layer.build(replica())
        yield* RequestState.seal({ ...call, ttl: Duration.seconds(30) }).pipe(Effect.provide(a))
        const ttls = yield* Effect.promise(async () => {
          const admin = new Redis(url)
          const keys: Array<string> = []
          let cursor = "0"
          do {
            const [next, batch] = await admin.scan(cursor, "MATCH", `${prefix}pending:*`, "COUNT", 500)
            cursor = next
            keys.push(...batch)
          } while (cursor !== "0")
          const out = await Promise.all(keys.map((k) => admin.pttl(k)))
          await admin.quit()
          return out
        })
        assert.isTrue(ttls.length > 0)
        assert.isTrue(ttls.some((t) => t > 0 && t <= 30_000))
      }).pipe(Effect.scoped))
  })
}
