import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"

interface Waiter<K, A, E> {
  readonly key: K
  readonly done: (exit: Exit.Exit<A, E>) => void
}

/**
 * A batched single-key read (see `makeBatcher`).
 *
 * @internal
 */
export interface Batcher<K, A, E> {
  /** One read: waits for its batch and succeeds with this key's result. */
  (key: K): Effect.Effect<A, E>
  /**
   * One read continued by `f` in the same resumption: `f` gets the batch's outcome for this key
   * and returns what the caller resumes with. A synchronous continuation (parse, open a cached
   * record, compare a time) returned as an `Exit` costs the caller no further fiber steps: the
   * store's `get` is one suspension instead of a chain of `flatMap`s, and allocates that much less
   * per call (the garbage a hundred concurrent gets leave is what the young generation's pauses
   * are made of).
   */
  readonly then: <B, E2>(key: K, f: (exit: Exit.Exit<A, E>) => Effect.Effect<B, E2>) => Effect.Effect<B, E2>
}

/**
 * Coalesces the single-key reads that arrive in the same turn of the event loop into batches of
 * at most `maxBatch` keys, each run by `run` (one Redis `MGET`, one Postgres `= ANY($1)` query),
 * so 100 concurrent callers cost one round trip instead of 100 queued ones. `run` returns one
 * result per key, in key order. A failed batch fails every caller in it with the same error. An
 * interrupted caller stops waiting at once; its key stays in the batch and its result is dropped
 * (the runtime ignores a resumption after an interruption). There is deliberately no canceler to
 * take the key out: with one, every read is wrapped in `onInterrupt` (an uninterruptible region,
 * a match, an exit handler), which was a third of what a get allocated, for saving one key in a
 * read that runs anyway.
 *
 * The batch runs outside the callers' fibers, so `run` must not depend on their context (it
 * closes over its connection; callers apply their own clock to what it returns).
 *
 * @internal
 */
export const makeBatcher = <K, A, E>(options: {
  readonly maxBatch: number
  readonly run: (keys: ReadonlyArray<K>) => Effect.Effect<ReadonlyArray<A>, E>
}): Batcher<K, A, E> => {
  let queue: Array<Waiter<K, A, E>> = []
  const runChunk = (chunk: Array<Waiter<K, A, E>>) => {
    Effect.runCallback(options.run(chunk.map((w) => w.key)), {
      onExit: (exit) => {
        if (Exit.isSuccess(exit)) {
          const results = exit.value
          for (let i = 0; i < chunk.length; i++) {
            chunk[i]!.done(i < results.length ? Exit.succeed(results[i]!) : Exit.die(new Error("batch returned too few results")))
          }
        } else {
          const failed = Exit.failCause(exit.cause)
          for (const w of chunk) w.done(failed)
        }
      }
    })
  }
  const flush = () => {
    const waiting = queue
    queue = []
    let chunk: Array<Waiter<K, A, E>> = []
    for (const w of waiting) {
      chunk.push(w)
      if (chunk.length === options.maxBatch) {
        runChunk(chunk)
        chunk = []
      }
    }
    if (chunk.length > 0) runChunk(chunk)
  }
  const then = <B, E2>(key: K, f: (exit: Exit.Exit<A, E>) => Effect.Effect<B, E2>): Effect.Effect<B, E2> =>
    Effect.async<B, E2>((resume) => {
      const done = (exit: Exit.Exit<A, E>) => {
        // `f` runs in the batch's callback, outside the caller's fiber: a throw is the caller's defect
        let next: Effect.Effect<B, E2>
        try {
          next = f(exit)
        } catch (defect) {
          next = Exit.die(defect)
        }
        resume(next)
      }
      const w: Waiter<K, A, E> = { key, done }
      // after the microtasks of this turn (where Effect starts concurrent fibers), so one flush
      // sees every read started together
      if (queue.push(w) === 1) setImmediate(flush)
    })
  const get = (key: K): Effect.Effect<A, E> => then(key, (exit) => exit)
  return Object.assign(get, { then })
}
