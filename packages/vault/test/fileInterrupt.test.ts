/**
 * FileStore on a slow disk: a write interrupted while it runs (a cancelled tool call, a timeout
 * around a store call) still ends before the store's lock is let go, so it never lands on top of a
 * later, acknowledged write. The disk is slowed by wrapping `node:fs/promises` (one temp file's
 * fsync takes 300 ms, as cloud disks do under load); everything else is the real file system.
 */
import { ResolvedCredential } from "@mcp-credentials/core"
import { Effect, Fiber, Layer, Option, Redacted } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { expect, it, vi } from "vitest"
import { CredentialStore, FileStore, Keyring, PendingStore } from "../src/index.js"

const slow = { next: false }
vi.mock("node:fs/promises", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:fs/promises")>()
  return {
    ...real,
    open: async (...args: Parameters<typeof real.open>) => {
      const handle = await real.open(...args)
      if (slow.next && String(args[0]).endsWith(".tmp")) {
        slow.next = false
        const sync = handle.sync.bind(handle)
        handle.sync = async () => {
          await new Promise((r) => setTimeout(r, 300))
          return sync()
        }
      }
      return handle
    }
  }
})

it("fix: an interrupted write ends before the next one starts, so a later acknowledged write is kept", async () => {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "mcp-vault-interrupt-"))
  const layer = FileStore.layer({ directory, namespace: "t" }).pipe(
    Layer.provide(Keyring.layer(Redacted.make(Keyring.generateSpec("k1"))))
  )
  try {
    const result = await Effect.runPromise(Effect.scoped(
      Effect.gen(function*() {
        const credentials = yield* CredentialStore.CredentialStore
        const pending = yield* PendingStore.PendingStore
        // user A's call creates its pending entry and is cancelled while the write is in fsync
        slow.next = true
        const a = yield* Effect.fork(pending.create({ provider: "jira", subject: "a" }, "5 minutes"))
        yield* Effect.sleep("50 millis")
        yield* Fiber.interrupt(a)
        // user B's credential is stored and acknowledged
        const stored = yield* credentials.set(
          { provider: "jira", subject: "b" },
          ResolvedCredential.StaticCredential.fromFields({ pat: "pat-b" })
        )
        yield* Effect.sleep("500 millis")
        const later = yield* credentials.get({ provider: "jira", subject: "b" })
        return { generation: stored.generation, kept: Option.isSome(later) }
      }).pipe(Effect.provide(layer))
    ))
    expect(result).toEqual({ generation: 1, kept: true })
  } finally {
    fs.rmSync(directory, { recursive: true, force: true })
  }
}, 30_000)
