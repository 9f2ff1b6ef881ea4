import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option, TestClock } from "effect"
import { CredentialStore, PendingStore } from "../src/index.js"
import { contract } from "./contract.js"

contract({
  name: "memory",
  unavailable: undefined,
  crossInstance: false,
  fresh: () => {
    const layer = Layer.merge(CredentialStore.layerMemory, PendingStore.layerMemory)
    return { layer: () => layer, layerConfig: () => layer }
  }
})

describe("memory PendingStore", () => {
  it.effect("fix: expired entries and unread results are dropped by a later write, not kept until their id is read", () =>
    Effect.gen(function*() {
      const { size, store } = yield* PendingStore.makeMemoryWithSize
      for (let i = 0; i < 500; i++) {
        const e = yield* store.create({ provider: "p", subject: `u${i}` }, "1 second")
        yield* store.complete(e.id, { status: "stored" }, { ttl: "1 second" })
      }
      assert.deepStrictEqual(size(), { entries: 500, results: 500 })
      yield* TestClock.adjust("1 hour")
      const live = yield* store.create({ provider: "p", subject: "late" }, "1 minute")
      assert.deepStrictEqual(size(), { entries: 1, results: 0 })
      assert.isTrue(Option.isSome(yield* store.get(live.id)))
    }))
})
