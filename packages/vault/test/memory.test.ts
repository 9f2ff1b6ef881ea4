import { assert, describe, it } from "@effect/vitest"
import { Clock, DateTime, Effect, Layer, Option, TestClock } from "effect"
import { ToolContext } from "@mcp-credentials/server"
import { CredentialStore, Elicitation, PendingStore } from "../src/index.js"
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

describe("Elicitation (2025-11-25), fail-fast", () => {
  it.effect("fix: the elicitations awaiting their form expire on the Clock that gave their expiry (TestClock), not the wall clock", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_000_000)
      const elicitation = yield* Elicitation.make2025_11_25
      const notified: Array<string> = []
      const tool = {
        toolName: "t",
        notify: (_method: string, params: unknown) => Effect.sync(() => void notified.push((params as { elicitationId: string }).elicitationId))
      } as unknown as ToolContext.ToolContextShape
      const now = yield* Clock.currentTimeMillis
      for (const id of ["one", "two"]) {
        const request: Elicitation.ElicitationRequest = {
          provider: { name: "jira", title: "Jira" },
          user: { subject: "alice", label: "alice" },
          pendingId: `p-${id}`,
          elicitationId: `e-${id}`,
          url: `https://mcp.example/credentials/jira/entry?t=p-${id}`,
          message: "m",
          requestDigest: "d",
          mode: "failFast",
          expiresAt: DateTime.unsafeMake(now + 600_000)
        }
        yield* Effect.flip(elicitation.elicit(request).pipe(Effect.provideService(ToolContext.ToolContext, tool)))
      }
      for (const id of ["one", "two"]) {
        yield* elicitation.submitted({ id: `p-${id}`, provider: "jira", subject: "alice", data: {}, createdAt: DateTime.unsafeMake(now), expiresAt: DateTime.unsafeMake(now + 600_000) })
      }
      assert.deepStrictEqual(notified, ["e-one", "e-two"])
    }))
})
