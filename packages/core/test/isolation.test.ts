import { assert, describe, it } from "@effect/vitest"
import { Effect, Random, Redacted } from "effect"
import { CredentialMiddleware, CurrentCredential, ResolvedCredential } from "../src/index.js"
import { CredentialBackend } from "../src/index.js"

const N = 10_000

describe("isolation", () => {
  it.live(`${N} concurrent fibers with random delays each read only their own credential`, () =>
    Effect.gen(function*() {
      const results = yield* Effect.forEach(
        Array.from({ length: N }, (_, i) => i),
        (i) => {
          const mine = ResolvedCredential.StaticCredential.fromFields({ apiKey: `key-${i}` })
          const read = Effect.gen(function*() {
            const seen: Array<string> = []
            for (let step = 0; step < 3; step++) {
              yield* Effect.sleep(`${yield* Random.nextIntBetween(0, 4)} millis`)
              const c = yield* CurrentCredential.getStatic()
              seen.push(Redacted.value(c.fields.apiKey!))
              // plain async code started from the tool sees the same credential
              const viaAsync = yield* Effect.flatMap(
                CurrentCredential.callWithScope(async () => {
                  await new Promise((r) => setTimeout(r, 0))
                  return CurrentCredential.unsafeGet()
                }),
                (p) => Effect.promise(() => p)
              )
              seen.push(viaAsync.type === "static" ? Redacted.value(viaAsync.fields.apiKey!) : "?")
            }
            return seen
          })
          return Effect.gen(function*() {
            const seen = yield* CredentialMiddleware.withCredentials(CredentialMiddleware.requirements("static"), {})(read).pipe(
              Effect.provide(CredentialBackend.layerTest(mine))
            )
            const after = yield* Effect.either(CurrentCredential.get())
            return { i, seen, afterIsEmpty: after._tag === "Left" }
          })
        },
        { concurrency: "unbounded" }
      )
      let wrong = 0
      for (const { afterIsEmpty, i, seen } of results) {
        if (seen.length !== 6 || seen.some((v) => v !== `key-${i}`) || !afterIsEmpty) wrong++
      }
      assert.strictEqual(results.length, N)
      assert.strictEqual(wrong, 0)
      assert.throws(() => CurrentCredential.unsafeGet(), /No credential/)
    }), { timeout: 120_000 })
})
