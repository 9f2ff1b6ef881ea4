import { assert, describe, it } from "@effect/vitest"
import { ResolvedCredential } from "@mcp-credentials/core"
import { ConfigProvider, DateTime, Duration, Effect, Exit, Fiber, Layer, Option, Redacted } from "effect"
import { CredentialsProvider, CredentialStore, Keyring, PendingStore } from "../src/index.js"
import type { StoreKey } from "../src/CredentialStore.js"

export type Stores = CredentialStore.CredentialStore | PendingStore.PendingStore

/** Raw access to what a backend wrote, bypassing the store (for the encryption cases). */
export interface RawAccess {
  /** Every byte this instance stored, as text. */
  readonly dump: Effect.Effect<string, unknown>
  /** The sealed value (`v1.<kid>.…`) stored for a credential. */
  readonly sealed: (key: StoreKey) => Effect.Effect<string | undefined, unknown>
  /** Copies the record of `from` into the slot of `to`, as an attacker with database access would. */
  readonly move: (from: StoreKey, to: StoreKey) => Effect.Effect<void, unknown>
  /** Copies the record of `from` into the slot of `to` unchanged, owner fields included. */
  readonly copyVerbatim: (from: StoreKey, to: StoreKey) => Effect.Effect<void, unknown>
  /** Removes the backend's own expiry of a credential (Redis PERSIST, expires_at = NULL), as an attacker with write access could. */
  readonly stripExpiry: (key: StoreKey) => Effect.Effect<void, unknown>
  /** Replaces the sealed value of a credential. */
  readonly replace: (key: StoreKey, sealed: string) => Effect.Effect<void, unknown>
}

/** One isolated namespace of a backend (its own file, key prefix or schema). */
export interface Instance {
  /** A fresh store instance (own connections) over this namespace, sealing with `keys`. */
  readonly layer: (keys?: string) => Layer.Layer<Stores, unknown>
  /** The same, with the keyring from `Keyring.layerConfig()`. */
  readonly layerConfig: () => Layer.Layer<Stores, unknown>
  readonly raw?: RawAccess
}

export interface Harness {
  readonly name: string
  /** Why the backend cannot run here; `undefined` when it can. */
  readonly unavailable: string | undefined
  readonly crossInstance: boolean
  readonly fresh: () => Instance
}

export const keyA = Keyring.generateSpec("a")
export const keyB = Keyring.generateSpec("b")

const use = <A, E>(
  layer: Layer.Layer<Stores, unknown>,
  f: (cs: CredentialStore.CredentialStore["Type"], ps: PendingStore.PendingStore["Type"]) => Effect.Effect<A, E>
) =>
  Effect.gen(function*() {
    const cs = yield* CredentialStore.CredentialStore
    const ps = yield* PendingStore.PendingStore
    return yield* f(cs, ps)
  }).pipe(Effect.provide(layer))

let counter = 0
const uniq = (label: string) => `${label}-${Date.now().toString(36)}-${++counter}`
const staticCred = (secret: string) => ResolvedCredential.StaticCredential.fromFields({ apiKey: secret })
const apiKey = (s: CredentialStore.StoredCredential) =>
  s.credential.type === "static" ? Redacted.value(s.credential.fields.apiKey!) : undefined

export const contract = (harness: Harness) => {
  if (harness.unavailable !== undefined) {
    if (process.env.MCP_CREDENTIALS_REQUIRE_SERVICES === "1") {
      describe(`contract: ${harness.name}`, () => {
        it(`requires ${harness.name} (MCP_CREDENTIALS_REQUIRE_SERVICES=1)`, () => {
          throw new Error(`${harness.name} is unavailable: ${harness.unavailable}`)
        })
      })
    } else {
      console.warn(`[vault] skipping the ${harness.name} contract suite: ${harness.unavailable}`)
      describe.skip(`contract: ${harness.name} (skipped: ${harness.unavailable})`, () => {
        it("unavailable", () => {})
      })
    }
    return
  }

  describe(`contract: ${harness.name}`, () => {
    it.live("credential round trip (static and OAuth), generation grows on overwrite", () => {
      const inst = harness.fresh()
      const key = { provider: "github", subject: uniq("alice") }
      return use(inst.layer(), (cs) =>
        Effect.gen(function*() {
          assert.isTrue(Option.isNone(yield* cs.get(key)))
          const first = yield* cs.set(key, staticCred("sk-round-1"))
          assert.strictEqual(first.generation, 1)
          const got = Option.getOrThrow(yield* cs.get(key))
          assert.strictEqual(apiKey(got), "sk-round-1")
          assert.strictEqual(got.generation, 1)
          assert.isTrue(Option.isNone(got.expiresAt))
          const second = yield* cs.set(key, staticCred("sk-round-2"))
          assert.strictEqual(second.generation, 2)
          assert.strictEqual(apiKey(Option.getOrThrow(yield* cs.get(key))), "sk-round-2")

          const oauthKey = { provider: "jira", subject: key.subject }
          const expiresAt = DateTime.unsafeMake("2030-01-01T00:00:00Z")
          yield* cs.set(
            oauthKey,
            new ResolvedCredential.OAuthCredential({
              type: "oauth",
              accessToken: Redacted.make("at-1"),
              refreshToken: Redacted.make("rt-1"),
              scopes: ["read"],
              expiresAt,
              extra: { site: "eu" }
            })
          )
          const oauth = Option.getOrThrow(yield* cs.get(oauthKey)).credential
          assert.strictEqual(oauth.type, "oauth")
          if (oauth.type === "oauth") {
            assert.strictEqual(Redacted.value(oauth.accessToken), "at-1")
            assert.strictEqual(Redacted.value(oauth.refreshToken!), "rt-1")
            assert.deepStrictEqual(oauth.scopes, ["read"])
            assert.isTrue(DateTime.Equivalence(oauth.expiresAt!, expiresAt))
            assert.deepStrictEqual(oauth.extra, { site: "eu" })
          }
          // providers and subjects do not collide
          assert.isTrue(Option.isNone(yield* cs.get({ provider: "github", subject: uniq("bob") })))
        }))
    })

    it.live("concurrent writers get distinct generations; the last one is stored", () => {
      const inst = harness.fresh()
      const key = { provider: "github", subject: uniq("gen") }
      return use(inst.layer(), (cs) =>
        Effect.gen(function*() {
          const written = yield* Effect.all(
            Array.from({ length: 8 }, (_, i) => cs.set(key, staticCred(`sk-${i}`))),
            { concurrency: "unbounded" }
          )
          assert.deepStrictEqual(written.map((w) => w.generation).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8])
          const stored = Option.getOrThrow(yield* cs.get(key))
          assert.strictEqual(stored.generation, 8)
          assert.strictEqual(apiKey(stored), apiKey(written.find((w) => w.generation === 8)!))
        }))
    })

    it.live("compareAndSet: absent → create, matching generation wins, stale generation loses", () => {
      const inst = harness.fresh()
      const key = { provider: "github", subject: uniq("cas") }
      return use(inst.layer(), (cs) =>
        Effect.gen(function*() {
          assert.isTrue(Option.isNone(yield* cs.compareAndSet(key, Option.some(1), staticCred("sk-none"))))
          const first = Option.getOrThrow(yield* cs.compareAndSet(key, Option.none(), staticCred("sk-cas-1")))
          assert.strictEqual(first.generation, 1)
          assert.isTrue(Option.isNone(yield* cs.compareAndSet(key, Option.none(), staticCred("sk-again"))))
          const second = Option.getOrThrow(yield* cs.compareAndSet(key, Option.some(1), staticCred("sk-cas-2")))
          assert.strictEqual(second.generation, 2)
          assert.isTrue(Option.isNone(yield* cs.compareAndSet(key, Option.some(1), staticCred("sk-stale"))))
          const stored = Option.getOrThrow(yield* cs.get(key))
          assert.strictEqual(stored.generation, 2)
          assert.strictEqual(apiKey(stored), "sk-cas-2")
          // a plain set moves the generation on, so a writer holding generation 2 now loses
          yield* cs.set(key, staticCred("sk-set"))
          assert.isTrue(Option.isNone(yield* cs.compareAndSet(key, Option.some(2), staticCred("sk-late"))))
          assert.strictEqual(apiKey(Option.getOrThrow(yield* cs.get(key))), "sk-set")
        }))
    })

    it.live("fix: a generation is never reused for a key — not after delete, compareAndDelete or expiry", () => {
      const inst = harness.fresh()
      const key = { provider: "github", subject: uniq("gen") }
      return use(inst.layer(), (cs) =>
        Effect.gen(function*() {
          const seen: Array<number> = []
          seen.push((yield* cs.set(key, staticCred("sk-1"))).generation)
          seen.push((yield* cs.set(key, staticCred("sk-2"))).generation)
          assert.isTrue(yield* cs.delete(key))
          assert.isFalse(yield* cs.delete(key), "nothing live to delete")
          seen.push((yield* cs.set(key, staticCred("sk-3"))).generation)
          assert.isTrue(yield* cs.compareAndDelete(key, seen.at(-1)!))
          seen.push(Option.getOrThrow(yield* cs.compareAndSet(key, Option.none(), staticCred("sk-4"))).generation)
          seen.push((yield* cs.set(key, staticCred("sk-5"), { ttl: "100 millis" })).generation)
          yield* Effect.sleep("250 millis")
          assert.isTrue(Option.isNone(yield* cs.get(key)))
          seen.push((yield* cs.set(key, staticCred("sk-6"))).generation)
          for (let i = 1; i < seen.length; i++) assert.isAbove(seen[i]!, seen[i - 1]!, `generations ${seen.join(", ")}`)
          // a writer still holding an old generation matches nothing
          for (const old of seen.slice(0, -1)) {
            assert.isTrue(Option.isNone(yield* cs.compareAndSet(key, Option.some(old), staticCred("sk-stale"))))
            assert.isFalse(yield* cs.compareAndDelete(key, old))
          }
          assert.strictEqual(apiKey(Option.getOrThrow(yield* cs.get(key))), "sk-6")
        }))
    })

    it.live("compareAndDelete never removes a newer generation", () => {
      const inst = harness.fresh()
      const key = { provider: "github", subject: uniq("cad") }
      return use(inst.layer(), (cs) =>
        Effect.gen(function*() {
          assert.isFalse(yield* cs.compareAndDelete(key, 1))
          yield* cs.set(key, staticCred("sk-1"))
          const newer = yield* cs.set(key, staticCred("sk-2"))
          assert.isFalse(yield* cs.compareAndDelete(key, 1))
          assert.strictEqual(apiKey(Option.getOrThrow(yield* cs.get(key))), "sk-2")
          assert.isTrue(yield* cs.compareAndDelete(key, newer.generation))
          assert.isTrue(Option.isNone(yield* cs.get(key)))
          assert.isFalse(yield* cs.compareAndDelete(key, newer.generation))
          // after a delete, "expect absent" wins again
          assert.isTrue(Option.isSome(yield* cs.compareAndSet(key, Option.none(), staticCred("sk-3"))))
        }))
    })

    it.live("compareAndSet on an expired record: it counts as absent", () => {
      const inst = harness.fresh()
      const key = { provider: "github", subject: uniq("cas-ttl") }
      return use(inst.layer(), (cs) =>
        Effect.gen(function*() {
          const old = yield* cs.set(key, staticCred("sk-short"), { ttl: "300 millis" })
          yield* Effect.sleep("450 millis")
          assert.isTrue(Option.isNone(yield* cs.compareAndSet(key, Option.some(old.generation), staticCred("sk-x"))))
          const fresh = yield* cs.compareAndSet(key, Option.none(), staticCred("sk-fresh"))
          assert.isTrue(Option.isSome(fresh))
          assert.strictEqual(apiKey(Option.getOrThrow(yield* cs.get(key))), "sk-fresh")
        }))
    })

    it.live("concurrent compareAndSet: exactly one winner per generation", () => {
      const inst = harness.fresh()
      const key = { provider: "github", subject: uniq("cas-race") }
      return use(inst.layer(), (cs) =>
        Effect.gen(function*() {
          // round 0 expects "absent", then each round expects the previous winner's generation
          let expected: Option.Option<number> = Option.none()
          for (let round = 0; round < 5; round++) {
            const results = yield* Effect.all(
              Array.from({ length: 16 }, (_, i) => cs.compareAndSet(key, expected, staticCred(`sk-${round}-${i}`))),
              { concurrency: "unbounded" }
            )
            const winners = results.filter(Option.isSome).map((o) => o.value)
            assert.strictEqual(winners.length, 1, `round ${round}: one winner`)
            const stored = Option.getOrThrow(yield* cs.get(key))
            assert.strictEqual(stored.generation, winners[0]!.generation)
            assert.strictEqual(apiKey(stored), apiKey(winners[0]!))
            expected = Option.some(stored.generation)
          }
        }))
    })

    it.live("credential TTL: live before, gone after (get and list)", () => {
      const inst = harness.fresh()
      const key = { provider: "github", subject: uniq("ttl") }
      return use(inst.layer(), (cs) =>
        Effect.gen(function*() {
          const stored = yield* cs.set(key, staticCred("sk-ttl"), { ttl: "1 second" })
          assert.isTrue(Option.isSome(stored.expiresAt))
          assert.isTrue(Option.isSome(yield* cs.get(key)))
          yield* Effect.sleep("1200 millis")
          assert.isTrue(Option.isNone(yield* cs.get(key)))
          assert.strictEqual((yield* cs.list(key.subject)).length, 0)
        }))
    })

    it.live("fix: a TTL that is not whole milliseconds works (Redis and Postgres refused it); an infinite one is no expiry (memory and file died)", () => {
      const inst = harness.fresh()
      const key = { provider: "github", subject: uniq("ttl-frac") }
      const forever = { provider: "github", subject: uniq("ttl-inf") }
      return use(inst.layer(), (cs, ps) =>
        Effect.gen(function*() {
          const stored = yield* cs.set(key, staticCred("sk-frac"), { ttl: Duration.millis(60_000.5) })
          assert.isTrue(Option.isSome(stored.expiresAt))
          assert.isTrue(Option.isSome(yield* cs.get(key)))
          const cas = yield* cs.compareAndSet(key, Option.some(stored.generation), staticCred("sk-frac-2"), { ttl: Duration.millis(30_000.25) })
          assert.isTrue(Option.isSome(cas))
          const endless = yield* cs.set(forever, staticCred("sk-inf"), { ttl: Duration.infinity })
          assert.isTrue(Option.isNone(endless.expiresAt))
          assert.strictEqual(apiKey(Option.getOrThrow(yield* cs.get(forever))), "sk-inf")
          const entry = yield* ps.create({ provider: "github", subject: key.subject }, Duration.millis(60_000.5))
          yield* ps.complete(entry.id, { status: "ok" }, { ttl: Duration.millis(5_000.5) })
          assert.deepStrictEqual(yield* ps.await(entry.id, "2 seconds"), Option.some({ status: "ok" }))
          const long = yield* ps.create({ provider: "github", subject: key.subject }, Duration.infinity)
          assert.isTrue(Option.isSome(yield* ps.get(long.id)))
          yield* ps.complete(long.id, { status: "kept" }, { ttl: Duration.infinity })
          assert.deepStrictEqual(yield* ps.await(long.id, "2 seconds"), Option.some({ status: "kept" }))
        }))
    })

    it.live("delete removes, and is a no-op for an absent key", () => {
      const inst = harness.fresh()
      const key = { provider: "github", subject: uniq("del") }
      return use(inst.layer(), (cs) =>
        Effect.gen(function*() {
          yield* cs.set(key, staticCred("sk-del"))
          assert.isTrue(yield* cs.delete(key))
          assert.isTrue(Option.isNone(yield* cs.get(key)))
          assert.isFalse(yield* cs.delete(key))
        }))
    })

    it.live("list by subject and all", () => {
      const inst = harness.fresh()
      const alice = uniq("alice")
      const bob = uniq("bob")
      return use(inst.layer(), (cs) =>
        Effect.gen(function*() {
          yield* cs.set({ provider: "github", subject: alice }, staticCred("a1"))
          yield* cs.set({ provider: "jira", subject: alice }, staticCred("a2"))
          yield* cs.set({ provider: "github", subject: bob }, staticCred("b1"))
          const mine = yield* cs.list(alice)
          assert.deepStrictEqual(mine.map((s) => s.provider).sort(), ["github", "jira"])
          assert.isTrue(mine.every((s) => s.subject === alice))
          const all = yield* cs.list()
          assert.deepStrictEqual(all.map((s) => `${s.subject}/${s.provider}`).sort(), [
            `${alice}/github`,
            `${alice}/jira`,
            `${bob}/github`
          ].sort())
        }))
    })

    it.live("pending: create, read, take is single-use", () => {
      const inst = harness.fresh()
      return use(inst.layer(), (_, ps) =>
        Effect.gen(function*() {
          const entry = yield* ps.create({ provider: "jira", subject: uniq("p"), data: { tool: "search" } }, "1 minute")
          assert.isAtLeast(entry.id.length, 22)
          const read = Option.getOrThrow(yield* ps.get(entry.id))
          assert.deepStrictEqual(read.data, { tool: "search" })
          assert.strictEqual(read.subject, entry.subject)
          assert.strictEqual(Option.getOrThrow(yield* ps.take(entry.id)).id, entry.id)
          assert.isTrue(Option.isNone(yield* ps.take(entry.id)))
          assert.isTrue(Option.isNone(yield* ps.get(entry.id)))
          assert.isTrue(Option.isNone(yield* ps.take("no-such-id")))
        }))
    })

    it.live("pending: entries expire (get and take)", () => {
      const inst = harness.fresh()
      return use(inst.layer(), (_, ps) =>
        Effect.gen(function*() {
          const a = yield* ps.create({ provider: "jira", subject: uniq("p") }, "1 second")
          const b = yield* ps.create({ provider: "jira", subject: uniq("p") }, "1 second")
          yield* Effect.sleep("1200 millis")
          assert.isTrue(Option.isNone(yield* ps.get(a.id)))
          assert.isTrue(Option.isNone(yield* ps.take(b.id)))
        }))
    })

    it.live("pending: of 20 concurrent takes exactly one wins", () => {
      const inst = harness.fresh()
      return use(inst.layer(), (_, ps) =>
        Effect.gen(function*() {
          const entry = yield* ps.create({ provider: "jira", subject: uniq("p") }, "1 minute")
          const results = yield* Effect.all(Array.from({ length: 20 }, () => ps.take(entry.id)), {
            concurrency: "unbounded"
          })
          assert.strictEqual(results.filter(Option.isSome).length, 1)
        }))
    })

    it.live("await resolves on complete, and consumes the result", () => {
      const inst = harness.fresh()
      return use(inst.layer(), (_, ps) =>
        Effect.gen(function*() {
          const entry = yield* ps.create({ provider: "jira", subject: uniq("p") }, "1 minute")
          const waiter = yield* Effect.fork(ps.await(entry.id, "10 seconds"))
          yield* Effect.sleep("50 millis")
          yield* ps.complete(entry.id, { status: "ok" })
          assert.deepStrictEqual(yield* Fiber.join(waiter), Option.some({ status: "ok" }))
          assert.isTrue(Option.isNone(yield* ps.await(entry.id, "100 millis")))
          // a result completed before anyone waits is kept for the waiter
          yield* ps.complete("early", { status: "early" })
          assert.deepStrictEqual(yield* ps.await("early", "2 seconds"), Option.some({ status: "early" }))
        }))
    })

    it.live("await times out with None", () => {
      const inst = harness.fresh()
      return use(inst.layer(), (_, ps) =>
        Effect.gen(function*() {
          const entry = yield* ps.create({ provider: "jira", subject: uniq("p") }, "1 minute")
          const [elapsed, result] = yield* Effect.timed(ps.await(entry.id, "300 millis"))
          assert.isTrue(Option.isNone(result))
          assert.isAtLeast(Duration.toMillis(elapsed), 290)
        }))
    })

    it.live("fix: a result already there is returned whatever the timeout (0 included): the limit is on the waiting, not on the read", () => {
      const inst = harness.fresh()
      return use(inst.layer(), (_, ps) =>
        Effect.gen(function*() {
          const entry = yield* ps.create({ provider: "jira", subject: uniq("p") }, "1 minute")
          yield* ps.complete(entry.id, { status: "ready" })
          assert.deepStrictEqual(yield* ps.await(entry.id, "0 millis"), Option.some({ status: "ready" }))
          assert.isTrue(Option.isNone(yield* ps.await(entry.id, "0 millis")), "consumed once")
        }))
    })

    if (harness.crossInstance) {
      it.live("cross-instance: complete on one instance wakes await on another", () => {
        const inst = harness.fresh()
        return use(inst.layer(), (csA, psA) =>
          use(inst.layer(), (csB, psB) =>
            Effect.gen(function*() {
              const key = { provider: "github", subject: uniq("x") }
              yield* csA.set(key, staticCred("sk-shared"))
              assert.strictEqual(apiKey(Option.getOrThrow(yield* csB.get(key))), "sk-shared")
              const entry = yield* psA.create({ provider: "jira", subject: key.subject }, "1 minute")
              const waiter = yield* Effect.fork(psA.await(entry.id, "10 seconds"))
              yield* Effect.sleep("100 millis")
              assert.isTrue(Option.isSome(yield* psB.take(entry.id)))
              const [elapsed] = yield* Effect.timed(
                Effect.zipRight(psB.complete(entry.id, { status: "submitted-on-b" }), Fiber.join(waiter)).pipe(
                  Effect.tap((r) => assert.deepStrictEqual(r, Option.some({ status: "submitted-on-b" })))
                )
              )
              assert.isBelow(Duration.toMillis(elapsed), 900, "woken by notification, not by polling")
            })))
      })
    }

    if (harness.crossInstance) {
      it.live("cross-instance: concurrent compareAndSet from two instances has exactly one winner", () => {
        const inst = harness.fresh()
        const key = { provider: "github", subject: uniq("cas-x") }
        return use(inst.layer(), (csA) =>
          use(inst.layer(), (csB) =>
            Effect.gen(function*() {
              const base = yield* csA.set(key, staticCred("sk-base"))
              for (let round = 0; round < 3; round++) {
                const current = Option.getOrThrow(yield* csB.get(key))
                const results = yield* Effect.all(
                  Array.from({ length: 12 }, (_, i) =>
                    (i % 2 === 0 ? csA : csB).compareAndSet(key, Option.some(current.generation), staticCred(`sk-x-${round}-${i}`))),
                  { concurrency: "unbounded" }
                )
                assert.strictEqual(results.filter(Option.isSome).length, 1, `round ${round}: one winner`)
                assert.strictEqual(Option.getOrThrow(yield* csA.get(key)).generation, current.generation + 1)
              }
              assert.strictEqual(Option.getOrThrow(yield* csB.get(key)).generation, base.generation + 3)
            })))
      })
    }

    const raw = harness.fresh().raw
    if (raw !== undefined) {
      describe("encryption at rest", () => {
        it.live("the raw stored bytes contain no plaintext secret", () => {
          const inst = harness.fresh()
          const key = { provider: "github", subject: uniq("enc") }
          const secret = `sk-PLAINTEXT-${uniq("s")}`
          const refresh = `rt-PLAINTEXT-${uniq("r")}`
          const marker = `PENDING-MARKER-${uniq("m")}`
          return Effect.gen(function*() {
            yield* use(inst.layer(), (cs, ps) =>
              Effect.gen(function*() {
                yield* cs.set(key, staticCred(secret))
                yield* cs.set(
                  { provider: "oauth", subject: key.subject },
                  new ResolvedCredential.OAuthCredential({
                    type: "oauth",
                    accessToken: Redacted.make(secret),
                    refreshToken: Redacted.make(refresh),
                    extra: {}
                  })
                )
                const e = yield* ps.create({ provider: "jira", subject: key.subject, data: { marker } }, "1 minute")
                yield* ps.complete(e.id, { marker })
              }))
            const bytes = yield* inst.raw!.dump
            assert.isAbove(bytes.length, 0)
            assert.notInclude(bytes, secret)
            assert.notInclude(bytes, refresh)
            assert.notInclude(bytes, marker)
            assert.include(bytes, "v1.a.")
          })
        })

        it.live("a tampered record fails with DecryptionError and is not dropped", () => {
          const inst = harness.fresh()
          const key = { provider: "github", subject: uniq("tamper") }
          return Effect.gen(function*() {
            yield* use(inst.layer(), (cs) => cs.set(key, staticCred("sk-tamper")))
            const sealed = (yield* inst.raw!.sealed(key))!
            const last = sealed.at(-2) === "A" ? "B" : "A"
            yield* inst.raw!.replace(key, sealed.slice(0, -2) + last + sealed.slice(-1))
            const error = yield* use(inst.layer(), (cs) => Effect.flip(cs.get(key)))
            assert.strictEqual(error._tag, "DecryptionError")
            assert.notInclude(error.message, "sk-tamper")
            assert.isDefined(yield* inst.raw!.sealed(key))
          })
        })

        // `move` copies the sealed value only; `copyVerbatim` the whole record, owner fields and all
        for (const [what, how, listFails] of [
          ["moved to another subject", "move", true],
          ["copied verbatim (owner fields and all) into another user's slot", "copyVerbatim", false]
        ] as const) {
          it.live(`a record ${what} fails to decrypt`, () => {
            const inst = harness.fresh()
            const alice = { provider: "github", subject: uniq("alice") }
            const mallory = { provider: "github", subject: uniq("mallory") }
            return use(inst.layer(), (cs) =>
              Effect.gen(function*() {
                yield* cs.set(alice, staticCred("sk-alice"))
                yield* cs.set(mallory, staticCred("sk-mallory"))
                yield* inst.raw![how](alice, mallory)
                const error = yield* Effect.flip(cs.get(mallory))
                assert.strictEqual(error._tag, "DecryptionError")
                assert.notInclude(error.message, "sk-alice")
                if (listFails) {
                  const listed = yield* Effect.exit(cs.list(mallory.subject))
                  assert.isTrue(Exit.isFailure(listed), "list fails rather than skipping the record")
                }
                assert.strictEqual(apiKey(Option.getOrThrow(yield* cs.get(alice))), "sk-alice")
              }))
          })
        }

        it.live("fix: the expiry sealed in the record applies even when the backend's own expiry is removed", () => {
          const inst = harness.fresh()
          const key = { provider: "github", subject: uniq("persist") }
          return use(inst.layer(), (cs) =>
            Effect.gen(function*() {
              yield* cs.set(key, staticCred("sk-short"), { ttl: "300 millis" })
              yield* inst.raw!.stripExpiry(key)
              assert.isTrue(Option.isSome(yield* cs.get(key)))
              yield* Effect.sleep("500 millis")
              assert.isTrue(Option.isNone(yield* cs.get(key)), "an expired record is not served")
              assert.deepStrictEqual(yield* cs.list(key.subject), [])
            }))
        })

        it.live("key rotation: old records readable, new ones sealed with the newest key", () => {
          const inst = harness.fresh()
          const old = { provider: "github", subject: uniq("old") }
          const fresh = { provider: "github", subject: uniq("new") }
          return Effect.gen(function*() {
            yield* use(inst.layer(keyA), (cs) => cs.set(old, staticCred("sk-old")))
            yield* use(inst.layer(`${keyB},${keyA}`), (cs) =>
              Effect.gen(function*() {
                assert.strictEqual(apiKey(Option.getOrThrow(yield* cs.get(old))), "sk-old")
                yield* cs.set(fresh, staticCred("sk-new"))
              }))
            assert.isTrue((yield* inst.raw!.sealed(old))!.startsWith("v1.a."))
            assert.isTrue((yield* inst.raw!.sealed(fresh))!.startsWith("v1.b."))
            yield* use(inst.layer(keyB), (cs) =>
              Effect.gen(function*() {
                assert.strictEqual(apiKey(Option.getOrThrow(yield* cs.get(fresh))), "sk-new")
                const error = yield* Effect.flip(cs.get(old))
                assert.strictEqual(error._tag, "DecryptionError")
                assert.include(error.message, "key id a")
              }))
          })
        })

        it.live("fix: a pending entry or result a replica cannot open (rolling key rotation) stays for one that can; one taker wins", () => {
          const inst = harness.fresh()
          return Effect.gen(function*() {
            // a replica already on the new key seals with it
            const entry = yield* use(inst.layer(`${keyB},${keyA}`), (_, ps) =>
              Effect.gen(function*() {
                const e = yield* ps.create({ provider: "jira", subject: uniq("rolling") }, "5 minutes")
                yield* ps.complete(e.id, { status: "submitted" })
                return e
              }))
            // one still on the old key only cannot open them: an error, and nothing is consumed
            yield* use(inst.layer(keyA), (_, ps) =>
              Effect.gen(function*() {
                assert.strictEqual((yield* Effect.flip(ps.take(entry.id)))._tag, "DecryptionError")
                assert.strictEqual((yield* Effect.flip(ps.await(entry.id, "10 millis")))._tag, "DecryptionError")
              }))
            yield* use(inst.layer(`${keyB},${keyA}`), (_, ps) =>
              Effect.gen(function*() {
                assert.strictEqual(Option.getOrThrow(yield* ps.take(entry.id)).id, entry.id)
                assert.isTrue(Option.isNone(yield* ps.take(entry.id)), "taken once")
                assert.deepStrictEqual(Option.getOrThrow(yield* ps.await(entry.id, "10 millis")), { status: "submitted" })
                assert.isTrue(Option.isNone(yield* ps.await(entry.id, "10 millis")), "consumed once")
              }))
          })
        })

        it.live("fix: revoke removes every record of the subject, also those sealed with a key the keyring no longer holds", () => {
          const inst = harness.fresh()
          const subject = uniq("closed")
          const other = { provider: "github", subject: uniq("stays") }
          return Effect.gen(function*() {
            yield* use(inst.layer(keyA), (cs) =>
              Effect.gen(function*() {
                yield* cs.set({ provider: "github", subject }, staticCred("sk-old-key"))
                yield* cs.set(other, staticCred("sk-other"))
              }))
            yield* use(inst.layer(`${keyB},${keyA}`), (cs) => cs.set({ provider: "jira", subject }, staticCred("sk-new-key")))
            // only the new key now: the old record cannot be opened, so listing fails
            yield* use(inst.layer(keyB), (cs) =>
              Effect.gen(function*() {
                assert.strictEqual((yield* Effect.flip(cs.list(subject)))._tag, "DecryptionError")
                assert.strictEqual(yield* CredentialsProvider.revoke(subject).pipe(Effect.provideService(CredentialStore.CredentialStore, cs)), 2)
                assert.deepStrictEqual(yield* cs.list(subject), [])
              }))
            yield* use(inst.layer(`${keyB},${keyA}`), (cs) =>
              Effect.gen(function*() {
                assert.isTrue(Option.isNone(yield* cs.get({ provider: "github", subject })))
                assert.strictEqual(apiKey(Option.getOrThrow(yield* cs.get(other))), "sk-other")
              }))
          })
        })

        it.live("a missing or malformed key fails at startup, naming the variable, and leaves the data untouched", () => {
          const inst = harness.fresh()
          const key = { provider: "github", subject: uniq("keep") }
          const bad = "c2hvcnQta2V5" // base64 of 9 bytes
          return Effect.gen(function*() {
            yield* use(inst.layer(keyA), (cs) => cs.set(key, staticCred("sk-keep")))
            const before = yield* inst.raw!.dump
            for (const env of [{ MCP_CREDENTIALS_ENCRYPTION_KEY: bad }, { MCP_CREDENTIALS_ENCRYPTION_KEY: "%%%" }, {}]) {
              const error = yield* use(inst.layerConfig(), (cs) => cs.get(key)).pipe(
                Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))),
                Effect.flip
              )
              assert.strictEqual((error as { _tag: string })._tag, "EncryptionKeyError")
              assert.include((error as Error).message, "MCP_CREDENTIALS_ENCRYPTION_KEY")
              assert.notInclude((error as Error).message, bad)
            }
            assert.strictEqual(yield* inst.raw!.dump, before)
            const ok = yield* use(inst.layerConfig(), (cs) => cs.get(key)).pipe(
              Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["MCP_CREDENTIALS_ENCRYPTION_KEY", keyA]])))
            )
            assert.strictEqual(apiKey(Option.getOrThrow(ok)), "sk-keep")
          })
        })
      })
    }
  })
}
