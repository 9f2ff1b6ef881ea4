/**
 * `internal/deadline.ts`: a time limit that holds inside an uninterruptible region (where
 * `Effect.timeout` waits for the work), passes results and failures through, and leaves an
 * interruptible caller interruptible.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import * as Deadline from "../src/internal/deadline.js"

const late = () => "late" as const

describe("Deadline.within", () => {
  it.live("inside an uninterruptible region, work that never ends fails at the deadline (Effect.timeout waits there)", () =>
    Effect.gen(function*() {
      const started = Date.now()
      const e = yield* Effect.flip(Effect.uninterruptible(Deadline.within(Effect.never, "100 millis", late)))
      assert.strictEqual(e, "late")
      assert.isBelow(Date.now() - started, 1_000)
    }))

  it.live("results and failures pass through; an interruptible caller is interrupted at once", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* Deadline.within(Effect.succeed(1), "1 second", late), 1)
      assert.strictEqual(yield* Effect.flip(Deadline.within(Effect.fail("boom" as const), "1 second", late)), "boom")
      const fiber = yield* Effect.fork(Deadline.within(Effect.never, "1 hour", late))
      yield* Effect.sleep("20 millis")
      const started = Date.now()
      const exit = yield* Fiber.interrupt(fiber)
      assert.isTrue(Exit.isInterrupted(exit))
      assert.isBelow(Date.now() - started, 500)
    }))
})
