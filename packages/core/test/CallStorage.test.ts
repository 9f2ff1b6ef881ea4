import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { AsyncLocalStorage } from "node:async_hooks"
import { CallStorage, CurrentCredential, ResolvedCredential } from "../src/index.js"

const tick = (ms = 0) => new Promise<void>((resolve) => setTimeout(resolve, ms))

// Node's own AsyncLocalStorage on the async_hooks implementation (Node < 24 by default): the
// storage a CallStorage turns off between calls
const hookBased = typeof (new AsyncLocalStorage() as any)._propagate === "function"

describe("CallStorage", () => {
  it("a value is visible inside run, across awaits and in the timers it starts, and not outside", async () => {
    const storage = CallStorage.make<string>()
    assert.strictEqual(storage.get(), undefined)
    const seen: Array<string | undefined> = []
    const result = await storage.run("a", async () => {
      seen.push(storage.get())
      await tick()
      seen.push(storage.get())
      await new Promise<void>((resolve) =>
        setTimeout(() => {
          seen.push(storage.get())
          resolve()
        }, 1)
      )
      return 42
    })
    assert.strictEqual(result, 42)
    assert.deepStrictEqual(seen, ["a", "a", "a"])
    assert.strictEqual(storage.get(), undefined)
    assert.strictEqual(storage.active(), 0)
  })

  it("a synchronous run, and one that throws or rejects, end the call", async () => {
    const storage = CallStorage.make<string>()
    assert.strictEqual(storage.run("s", () => storage.get()), "s")
    assert.strictEqual(storage.active(), 0)
    assert.throws(() =>
      storage.run("t", () => {
        throw new Error("boom")
      }), /boom/)
    assert.strictEqual(storage.active(), 0)
    const rejected = await storage.run("u", async () => {
      await tick()
      throw new Error("late")
    }).then(() => "resolved", (e: Error) => e.message)
    assert.strictEqual(rejected, "late")
    assert.strictEqual(storage.active(), 0)
  })

  it("overlapping calls keep their own values while the others end (the storage is not turned off under a running call)", async () => {
    const storage = CallStorage.make<number>()
    const call = (i: number, waits: number) =>
      storage.run(i, async () => {
        const seen: Array<number | undefined> = []
        for (let w = 0; w < waits; w++) {
          await tick(w % 3)
          seen.push(storage.get())
        }
        return seen
      })
    // short calls end (and bring the count back down) while long ones are still waiting
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => call(i, 1 + (i % 7) * 3)))
    results.forEach((seen, i) => assert.deepStrictEqual(seen, seen.map(() => i)))
    assert.strictEqual(storage.active(), 0)
  })

  it("after the last call ends, work it left behind reads nothing (the storage, and its promise hooks, are off)", async () => {
    const storage = CallStorage.make<string>()
    let late: Promise<string | undefined> | undefined
    await storage.run("call", async () => {
      late = tick(20).then(() => storage.get())
      await tick()
    })
    assert.strictEqual(storage.active(), 0)
    // a plain AsyncLocalStorage would still answer "call" here; on async context frames (Node >= 24)
    // the storage is never turned off and the stray work keeps its value
    assert.strictEqual(await late, hookBased ? undefined : "call")
  })

  it("hold keeps the storage on for work started inside a call until it is released", async () => {
    const storage = CallStorage.make<string>()
    let release: () => void = () => {}
    let late: Promise<string | undefined> | undefined
    storage.run("held", () => {
      release = storage.hold()
      late = tick(10).then(() => storage.get())
    })
    assert.strictEqual(storage.active(), 1)
    assert.strictEqual(await late, "held")
    release()
    release() // once only
    assert.strictEqual(storage.active(), 0)
  })
})

describe("CurrentCredential with CallStorage", () => {
  const credential = ResolvedCredential.StaticCredential.fromFields({ apiKey: "k-1" })

  it.live("a timer started by callWithScope sees the credential while the scope is open, and none once it closed", () =>
    Effect.gen(function*() {
      let during: Promise<string> | undefined
      let after: Promise<string> | undefined
      yield* CurrentCredential.locally(
        Effect.gen(function*() {
          // a bare timer: callWithScope returns before it fires; the open scope keeps it visible
          yield* CurrentCredential.callWithScope(() => {
            during = new Promise((resolve) =>
              setTimeout(() => {
                const c = CurrentCredential.unsafeGet()
                resolve(c.type === "static" ? Redacted.value(c.fields.apiKey!) : "?")
              }, 5)
            )
          })
          after = yield* CurrentCredential.callWithScope(() =>
            tick(30).then(() => {
              try {
                return CurrentCredential.unsafeGet().type
              } catch (e) {
                return (e as { _tag: string })._tag
              }
            })
          )
          // the scope stays open past the first timer
          yield* Effect.sleep("15 millis")
        }),
        new Map([["default", credential]])
      )
      assert.strictEqual(yield* Effect.promise(() => during!), "k-1")
      assert.strictEqual(yield* Effect.promise(() => after!), "NoCredentialInScopeError")
    }))
})
