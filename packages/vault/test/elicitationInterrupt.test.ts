/**
 * A tool call cancelled while the user is being asked (the client's elicitation dialog is open)
 * uses the one-time link up, as a declined, cancelled or timed-out one does: the pending entry
 * is gone, so the link cannot be completed for a call that no longer waits. The elicitation is a
 * stub that never answers; the stores are the memory ones.
 */
import { assert, describe, it } from "@effect/vitest"
import { CredentialBackend } from "@mcp-credentials/core"
import { Context, Effect, Fiber, Layer, Option } from "effect"
import { CredentialsProvider, CredentialStore, Elicitation, PendingStore } from "../src/index.js"

describe("elicitation flow: a call cancelled while the user is asked", () => {
  it.scoped("uses the link up", () =>
    Effect.gen(function*() {
      const { size, store } = yield* PendingStore.makeMemoryWithSize
      let asked = 0
      const never = Elicitation.Elicitation.of({
        protocol: "2025-11-25",
        supportsUrl: Effect.succeed(true),
        elicit: () => Effect.zipRight(Effect.sync(() => asked++), Effect.never),
        completed: () => Effect.void,
        submitted: () => Effect.void,
        resume: () => Effect.succeed(Option.none())
      } as unknown as Elicitation.Elicitation["Type"])
      const jira = CredentialsProvider.make({ name: "jira", variables: { pat: { type: "password" } } })
      const ctx = yield* Layer.build(
        CredentialsProvider.layer(jira, { baseUrl: "https://mcp.example", mode: "blocking" }).pipe(
          Layer.provide(Layer.mergeAll(
            CredentialStore.layerMemory,
            Layer.succeed(PendingStore.PendingStore, store),
            Layer.succeed(Elicitation.Elicitation, never)
          ))
        )
      )
      const backend = Context.get(ctx, CredentialBackend.named("jira"))
      const call = yield* Effect.fork(backend.resolve({ kind: "static", user: { subject: "alice" } }))
      while (asked === 0) yield* Effect.yieldNow()
      assert.strictEqual(size().entries, 1)
      yield* Fiber.interrupt(call)
      assert.strictEqual(size().entries, 0)
    }))
})
