/**
 * The embedded default backend: one JSON file per namespace (`<directory>/<namespace>.json`,
 * mode 0600, directory 0700) holding the credentials, pending entries and results of that
 * namespace, each record sealed with the `Keyring`. Every write re-reads the file, drops expired
 * records and replaces the file atomically (temp file + rename), so it survives restarts and a
 * crash never leaves half a file. Meant for one process: several processes sharing a file see each
 * other's writes but may lose a concurrent update; use Redis or Postgres for replicas.
 * `compareAndSet`/`compareAndDelete` run under the same in-process lock as every write, so they are
 * atomic for every store instance of the process that uses the same file.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import type * as Scope from "effect/Scope"
import * as crypto from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { CredentialStore, type OpenCacheOptions, type StoreKey } from "./CredentialStore.js"
import {
  awaitResult,
  credentialId,
  makeStored,
  isLiveAt,
  makeCredentialOpener,
  openPending,
  openResult,
  ownerFor,
  sealCredential,
  sealPending,
  sealResult,
  sha256,
  toContext
} from "./internal/records.js"
import { entryTtlMillis, ttlToExpiry } from "./internal/ttl.js"
import { Keyring } from "./Keyring.js"
import { defaultResultTtl, makeEntry, PendingStore } from "./PendingStore.js"
import { StoreError, type VaultError } from "./VaultError.js"

/**
 * Options of the file backend. `namespace` (default `"default"`) names the file; it must match
 * `[A-Za-z0-9_-]+`.
 *
 * @since 0.1.0
 * @category models
 */
export interface FileStoreOptions {
  readonly directory: string
  readonly namespace?: string | undefined
  /** How often a waiter re-reads the file, for completions written by another process. Default 250 ms. */
  readonly pollInterval?: Duration.DurationInput | undefined
  /**
   * The cache of opened records (see `OpenCacheOptions`): default on (60 s, 10,000 records);
   * `false` decrypts every read.
   */
  readonly openCache?: OpenCacheOptions | false | undefined
}

interface CredentialRecord {
  readonly provider: string
  readonly subject: string
  readonly generation: number
  readonly expiresAt: number | null
  readonly sealed: string
}
interface ExpiringRecord {
  readonly expiresAt: number
  readonly sealed: string
}
interface FileContent {
  format: "mcp-credentials/vault@1"
  credentials: Record<string, CredentialRecord>
  generations: Record<string, number>
  pending: Record<string, ExpiringRecord>
  results: Record<string, ExpiringRecord>
}

const isTable = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)
const isRecord = (u: unknown): u is Record<string, unknown> => isTable(u)
const isExpiry = (u: unknown) => typeof u === "number" && Number.isFinite(u)

/** What is wrong with the shape of a file's content (the table named), or `undefined`. */
const malformed = (content: FileContent): string | undefined => {
  for (const table of ["credentials", "generations", "pending", "results"] as const) {
    if (!isTable(content[table])) return `"${table}" is not an object`
  }
  for (const r of Object.values(content.credentials) as Array<unknown>) {
    if (
      !isRecord(r) || typeof r.provider !== "string" || typeof r.subject !== "string" || typeof r.sealed !== "string" ||
      !Number.isSafeInteger(r.generation) || (r.expiresAt !== null && !isExpiry(r.expiresAt))
    ) return "a record of \"credentials\""
  }
  for (const g of Object.values(content.generations) as Array<unknown>) {
    if (!Number.isSafeInteger(g)) return "a value of \"generations\""
  }
  for (const table of ["pending", "results"] as const) {
    for (const r of Object.values(content[table]) as Array<unknown>) {
      if (!isRecord(r) || typeof r.sealed !== "string" || !isExpiry(r.expiresAt)) return `a record of "${table}"`
    }
  }
  return undefined
}

const empty = (): FileContent => ({
  format: "mcp-credentials/vault@1",
  credentials: {},
  generations: {},
  pending: {},
  results: {}
})

const locks = new Map<string, Effect.Semaphore>()
const wakeupsByFile = new Map<string, PubSub.PubSub<string>>()

/**
 * The path of a namespace's file.
 *
 * @since 0.1.0
 * @category accessors
 */
export const filePath = (options: FileStoreOptions): string =>
  path.resolve(options.directory, `${options.namespace ?? "default"}.json`)

/**
 * Builds both stores over one file. Fails with `StoreError` when the directory cannot be created
 * or the file exists but cannot be read. The cache of opened records is released with the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: FileStoreOptions
): Effect.Effect<
  { readonly credentials: CredentialStore["Type"]; readonly pending: PendingStore["Type"] },
  StoreError,
  Keyring | Scope.Scope
> =>
  Effect.gen(function*() {
    const keyring = yield* Keyring
    if (!/^[A-Za-z0-9_-]+$/.test(options.namespace ?? "default")) {
      return yield* new StoreError({
        backend: "file",
        operation: "open",
        cause: new Error("invalid namespace"),
        reason: "the option namespace may hold only letters, digits, '_' and '-'"
      })
    }
    const file = filePath(options)
    const fail = (operation: string) => (cause: unknown) => new StoreError({ backend: "file", operation, cause })
    let lock = locks.get(file)
    if (lock === undefined) {
      lock = yield* Effect.makeSemaphore(1)
      locks.set(file, lock)
    }
    let wakeups = wakeupsByFile.get(file)
    if (wakeups === undefined) {
      wakeups = yield* PubSub.unbounded<string>()
      wakeupsByFile.set(file, wakeups)
    }
    const pollInterval = options.pollInterval ?? Duration.millis(250)

    const read = Effect.tryPromise({
      try: async (): Promise<FileContent> => {
        let text: string
        try {
          text = await fs.readFile(file, "utf8")
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === "ENOENT") return empty()
          throw e
        }
        const parsed = JSON.parse(text) as FileContent
        if (parsed?.format !== "mcp-credentials/vault@1") throw new Error("unknown file format")
        const content = { ...empty(), ...parsed }
        // a table or record of the wrong shape is a malformed file (a store error, the file left
        // as it is), not an empty table or a record that is silently skipped
        const problem = malformed(content)
        if (problem !== undefined) throw new Error(`the store file is malformed (${problem})`)
        return content
      },
      catch: fail("read")
    })
    const write = (content: FileContent, now: number) =>
      Effect.tryPromise({
        try: async () => {
          for (const [k, r] of Object.entries(content.credentials)) {
            if (r.expiresAt !== null && r.expiresAt <= now) delete content.credentials[k]
          }
          for (const table of [content.pending, content.results]) {
            for (const [k, r] of Object.entries(table)) if (r.expiresAt <= now) delete table[k]
          }
          const tmp = `${file}.${process.pid}.${crypto.randomBytes(6).toString("hex")}.tmp`
          const handle = await fs.open(tmp, "wx", 0o600)
          try {
            try {
              await handle.writeFile(JSON.stringify(content), "utf8")
              await handle.sync()
            } finally {
              await handle.close()
            }
            await fs.rename(tmp, file)
          } catch (e) {
            // a failed write leaves no temporary file behind (the store file is unchanged)
            await fs.rm(tmp, { force: true }).catch(() => undefined)
            throw e
          }
          // the rename itself reaches the disk (a power loss after it keeps this write)
          await syncDirectory(options.directory)
        },
        catch: fail("write")
      })
    const modify = <A, E>(f: (content: FileContent, now: number) => Effect.Effect<readonly [A, boolean], E>) =>
      lock.withPermits(1)(
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const content = yield* read
          const [a, changed] = yield* f(content, now)
          // a write, once started, ends before the lock is let go: interrupted midway (a cancelled
          // call, a timeout around the store), its rename would land after a later writer's
          if (changed) yield* Effect.uninterruptible(write(content, now))
          return a
        })
      )

    yield* Effect.tryPromise({ try: () => fs.mkdir(options.directory, { recursive: true, mode: 0o700 }), catch: fail("open") })
    yield* read

    // records are opened as the owner the caller asked for (`ownerFor`)
    const openCredential = yield* makeCredentialOpener(keyring, options.openCache)
    const openRecord = (r: CredentialRecord, owner?: StoreKey) =>
      openCredential(ownerFor(owner, r), r.sealed, r.generation)

    const credentials = CredentialStore.of({
      get: (key) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const r = (yield* read).credentials[credentialId(key)]
          if (r === undefined || (r.expiresAt !== null && r.expiresAt <= now)) return Option.none()
          const stored = yield* openRecord(r, key)
          return isLiveAt(stored, now) ? Option.some(stored) : Option.none()
        }),
      set: (key, credential, setOptions) =>
        modify((content, now) => {
          const id = credentialId(key)
          const generation = (content.generations[id] ?? 0) + 1
          const expiresAt = ttlToExpiry(now, setOptions?.ttl)
          const sealed = sealCredential(keyring, key, credential, now, expiresAt)
          content.generations[id] = generation
          content.credentials[id] = { provider: key.provider, subject: key.subject, generation, expiresAt, sealed }
          return Effect.succeed([makeStored(key, credential, now, expiresAt, generation), true] as const)
        }),
      compareAndSet: (key, expected, credential, setOptions) =>
        modify((content, now) => {
          const id = credentialId(key)
          const r = content.credentials[id]
          const live = r !== undefined && (r.expiresAt === null || r.expiresAt > now)
          const matches = Option.isNone(expected) ? !live : live && r.generation === expected.value
          if (!matches) return Effect.succeed([Option.none(), false] as const)
          const generation = (content.generations[id] ?? 0) + 1
          const expiresAt = ttlToExpiry(now, setOptions?.ttl)
          const sealed = sealCredential(keyring, key, credential, now, expiresAt)
          content.generations[id] = generation
          content.credentials[id] = { provider: key.provider, subject: key.subject, generation, expiresAt, sealed }
          return Effect.succeed([Option.some(makeStored(key, credential, now, expiresAt, generation)), true] as const)
        }),
      compareAndDelete: (key, expected) =>
        modify((content, now) => {
          const id = credentialId(key)
          const r = content.credentials[id]
          const live = r !== undefined && (r.expiresAt === null || r.expiresAt > now)
          if (!live || r.generation !== expected) return Effect.succeed([false, false] as const)
          // the generation counter stays, so a later record never reuses this generation
          delete content.credentials[id]
          return Effect.succeed([true, true] as const)
        }),
      delete: (key) =>
        modify((content, now) => {
          const id = credentialId(key)
          const r = content.credentials[id]
          const existed = r !== undefined && (r.expiresAt === null || r.expiresAt > now)
          // the generation counter stays: a later record never reuses a generation
          delete content.credentials[id]
          return Effect.succeed([existed, r !== undefined] as const)
        }),
      deleteSubject: (subject) =>
        modify((content) => {
          let removed = 0
          for (const [id, r] of Object.entries(content.credentials)) {
            if (r.subject === subject) {
              delete content.credentials[id]
              removed++
            }
          }
          return Effect.succeed([removed, removed > 0] as const)
        }),
      list: (subject) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const records = Object.values((yield* read).credentials).filter((r) =>
            (r.expiresAt === null || r.expiresAt > now) && (subject === undefined || r.subject === subject)
          )
          const all = yield* Effect.forEach(records, (r) => openRecord(r))
          return all.filter((stored) => isLiveAt(stored, now))
        })
    })

    const takeResult = (id: string) =>
      modify((content, now) => {
        const h = sha256(id)
        const r = content.results[h]
        if (r === undefined) return Effect.succeed([Option.none(), false] as const)
        delete content.results[h]
        if (r.expiresAt <= now) return Effect.succeed([Option.none(), true] as const)
        return Effect.map(openResult(keyring, id, r.sealed), (p) => [Option.some(p.result), true] as const)
      })

    const pending = PendingStore.of({
      create: (input, ttl) =>
        modify((content, now) => {
          const entry = makeEntry(input, now, ttl)
          content.pending[sha256(entry.id)] = { expiresAt: entry.expiresAt.epochMillis, sealed: sealPending(keyring, entry) }
          return Effect.succeed([entry, true] as const)
        }),
      get: (id) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const r = (yield* read).pending[sha256(id)]
          if (r === undefined || r.expiresAt <= now) return Option.none()
          return Option.some(yield* openPending(keyring, id, r.sealed))
        }),
      take: (id) =>
        modify((content, now) => {
          const h = sha256(id)
          const r = content.pending[h]
          if (r === undefined) return Effect.succeed([Option.none(), false] as const)
          delete content.pending[h]
          if (r.expiresAt <= now) return Effect.succeed([Option.none(), true] as const)
          return Effect.map(openPending(keyring, id, r.sealed), (e) => [Option.some(e), true] as const)
        }),
      complete: (id, result, completeOptions) =>
        modify((content, now) => {
          const expiresAt = now + entryTtlMillis(completeOptions?.ttl ?? defaultResultTtl)
          content.results[sha256(id)] = { expiresAt, sealed: sealResult(keyring, id, result, expiresAt) }
          return Effect.succeed([undefined, true] as const)
        }).pipe(Effect.zipLeft(PubSub.publish(wakeups, id))),
      await: (id, timeout) => awaitResult<VaultError>({ id, wakeups, take: takeResult(id), timeout, pollInterval })
    })

    return { credentials, pending }
  })

/**
 * Both stores over one file, as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: FileStoreOptions): Layer.Layer<CredentialStore | PendingStore, StoreError, Keyring> =>
  Layer.scopedContext(Effect.map(make(options), toContext))

/**
 * Both stores over one file, with options read from `Config` (the application picks the
 * variable names), e.g. `{ directory: Config.string("MCP_CREDENTIALS_FILE_DIR") }`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Config.Config.Wrap<FileStoreOptions>
): Layer.Layer<CredentialStore | PendingStore, StoreError | ConfigError.ConfigError, Keyring> =>
  Layer.scopedContext(Effect.map(Effect.flatMap(Config.unwrap(options), make), toContext))

/** fsync of a directory, where the platform allows it (not on Windows), so a rename in it is durable. */
const syncDirectory = async (directory: string): Promise<void> => {
  let handle: fs.FileHandle | undefined
  try {
    handle = await fs.open(directory, "r")
    await handle.sync()
  } catch {
    // EISDIR, EPERM or EINVAL where a directory cannot be synced: the rename stands as it is
  } finally {
    await handle?.close().catch(() => undefined)
  }
}
