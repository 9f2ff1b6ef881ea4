/**
 * A time limit that holds also inside an uninterruptible region. `Effect.timeout` interrupts the
 * work when the time is up and waits for it to end; in an uninterruptible region (the pages' and
 * the refresh's steps that must not be cut short) the interruption waits too, so a query on a
 * connection that stopped answering was never given up on. Here the work and the timer run in
 * their own fibers and whichever ends first decides; the other is interrupted in the background.
 * An interruptible caller is still interrupted at once.
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"

/** @internal */
export const within = <A, E, R, E2>(
  self: Effect.Effect<A, E, R>,
  duration: Duration.DurationInput,
  onTimeout: () => E2
): Effect.Effect<A, E | E2, R> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const done = yield* Deferred.make<A, E | E2>()
      const work = yield* Effect.forkDaemon(Effect.interruptible(Effect.exit(self)).pipe(Effect.flatMap((exit) => Deferred.done(done, exit))))
      const timer = yield* Effect.forkDaemon(
        Effect.interruptible(Effect.sleep(duration)).pipe(Effect.zipRight(Effect.suspend(() => Deferred.fail(done, onTimeout()))))
      )
      return yield* restore(Deferred.await(done)).pipe(
        Effect.ensuring(Effect.zipRight(Fiber.interruptFork(work), Fiber.interruptFork(timer)))
      )
    })
  )
