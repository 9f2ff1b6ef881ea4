/**
 * File operations of the commands, over `@effect/platform`'s `FileSystem`, with every platform
 * error turned into a `FileError` that says what happened in a few words.
 */
import type * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { randomBytes } from "node:crypto"
import { lstat } from "node:fs/promises"
import { FileError } from "../CliError.js"

/** @internal */
export const describe = (error: PlatformError.PlatformError): string => {
  if (error._tag === "BadArgument") return "invalid path"
  const code = (error.cause as NodeJS.ErrnoException | undefined)?.code
  switch (code) {
    case "ENOENT":
      return "file not found"
    case "EACCES":
    case "EPERM":
      return "permission denied"
    case "EISDIR":
      return "is a directory"
    case "ENOTDIR":
      return "a parent is not a directory"
    case "EEXIST":
      return "already exists"
    case "ENOSPC":
      return "no space left on device"
    case "EROFS":
      return "read-only file system"
  }
  switch (error.reason) {
    case "NotFound":
      return "file not found"
    case "PermissionDenied":
      return "permission denied"
    case "AlreadyExists":
      return "already exists"
    default:
      return code !== undefined ? `system error ${code}` : "I/O error"
  }
}

const fail = (path: string, operation: FileError["operation"]) => (error: PlatformError.PlatformError) =>
  new FileError({ path, operation, reason: describe(error) })

/** @internal */
export const readText = (path: string): Effect.Effect<string, FileError, FileSystem.FileSystem> =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readFileString(path).pipe(Effect.mapError(fail(path, "read"))))

/** @internal */
export const exists = (path: string): Effect.Effect<boolean, FileError, FileSystem.FileSystem> =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.exists(path).pipe(Effect.mapError(fail(path, "read"))))

/** @internal */
export const ensureDirectory = (dir: string): Effect.Effect<void, FileError, FileSystem.FileSystem> =>
  Effect.flatMap(
    FileSystem.FileSystem,
    (fs) => fs.makeDirectory(dir, { recursive: true, mode: 0o700 }).pipe(Effect.mapError(fail(dir, "write")))
  )

/**
 * Writes `content` to a new temporary file beside `path`, created with `mode` (so a private key is
 * never readable by others, not even for a moment), then renames it over `path`: a reader sees
 * the old file or the new one, never half of one.
 * @internal
 */
export const writeAtomic = (
  path: string,
  content: string,
  mode: number,
  options: {
    /**
     * Fail with "already exists" instead of replacing a file that exists at the moment of
     * publishing (a hard link, which the OS refuses atomically), not only when it was checked.
     */
    readonly exclusive?: boolean
  } = {}
): Effect.Effect<void, FileError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const p = yield* Path.Path
    const temp = p.join(p.dirname(path), `.${p.basename(path)}.${randomBytes(6).toString("hex")}.tmp`)
    const publish = options.exclusive === true
      ? Effect.zipRight(fs.link(temp, path), Effect.ignore(fs.remove(temp)))
      : fs.rename(temp, path)
    yield* fs.writeFileString(temp, content, { flag: "wx", mode }).pipe(
      Effect.zipRight(fs.chmod(temp, mode)),
      Effect.zipRight(publish),
      Effect.mapError(fail(path, "write")),
      // a failure or an interruption (Ctrl-C) leaves no temporary file (it may hold a private key)
      Effect.onExit((exit) => (Exit.isSuccess(exit) ? Effect.void : Effect.ignore(fs.remove(temp))))
    )
  })

/**
 * Runs `self` holding the lock file `<path>.lock` (created exclusively with a token of this run,
 * removed when `self` ends only if it still holds that token): a run that finds it held waits
 * (up to `wait`, default 30 s, then fails naming the lock), and takes over a lock older than
 * `stale` (default 2 minutes: left by a run that crashed) by renaming it away first, so two runs
 * cannot both take over the same stale lock. Taking the lock is not interruptible, waiting is.
 * @internal
 */
export const withLock = <A, E, R>(
  path: string,
  self: Effect.Effect<A, E, R>,
  options: { readonly wait?: Duration.DurationInput; readonly stale?: Duration.DurationInput } = {}
): Effect.Effect<A, E | FileError, R | FileSystem.FileSystem> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const lock = `${path}.lock`
      const token = `${process.pid} ${randomBytes(12).toString("hex")}\n`
      const waitMs = Duration.toMillis(Duration.decode(options.wait ?? Duration.seconds(30)))
      const staleMs = Duration.toMillis(Duration.decode(options.stale ?? Duration.minutes(2)))
      const deadline = Date.now() + waitMs
      while (true) {
        const created = yield* Effect.either(fs.writeFileString(lock, token, { flag: "wx", mode: 0o600 }))
        if (Either.isRight(created)) break
        const reason = describe(created.left)
        // Windows answers EPERM while a lock file is being deleted: wait as for an existing one
        const held = reason === "already exists" || (reason === "permission denied" && (yield* fs.exists(lock).pipe(Effect.orElseSucceed(() => false))))
        if (!held) return yield* fail(lock, "write")(created.left)
        const info = yield* Effect.either(fs.stat(lock))
        const age = Either.isRight(info) ? Option.map(info.right.mtime, (m) => Date.now() - m.getTime()) : Option.none()
        if (Option.isSome(age) && age.value > staleMs) {
          // only one run's rename of the stale lock succeeds; the others retry the create
          const aside = `${lock}.stale-${randomBytes(6).toString("hex")}`
          if (Either.isRight(yield* Effect.either(fs.rename(lock, aside)))) yield* Effect.ignore(fs.remove(aside))
          continue
        }
        if (Date.now() >= deadline) {
          return yield* new FileError({
            path: lock,
            operation: "write",
            reason: "held by another run (remove this file if no other run is going on)"
          })
        }
        yield* restore(Effect.sleep(Duration.millis(25)))
      }
      // a run whose lock was taken over (it outlived `stale`) must not remove the new holder's
      const release = fs.readFileString(lock).pipe(
        Effect.flatMap((content) => (content === token ? fs.remove(lock) : Effect.void)),
        Effect.ignore
      )
      return yield* Effect.ensuring(restore(self), release)
    })
  )

/**
 * Overwrites a file with random bytes of its size, flushes it to disk, then removes it (a
 * symbolic link is only removed, its target left alone). Not a
 * reliable erase on SSDs, copy-on-write or journaling file systems, or with backups and
 * snapshots: the only sure protection of a key is never writing it to an unencrypted disk.
 * @internal
 */
export const overwriteAndRemove = (path: string): Effect.Effect<"file" | "link", FileError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    // a symbolic link is removed, never followed: overwriting would destroy the file it points to
    const isLink = yield* Effect.tryPromise(() => lstat(path)).pipe(
      Effect.map((s) => s.isSymbolicLink()),
      Effect.orElseSucceed(() => false)
    )
    const info = yield* fs.stat(path).pipe(Effect.mapError(fail(path, "remove")))
    if (!isLink && info.type === "File") {
      const size = Number(info.size)
      yield* Effect.scoped(
        Effect.gen(function*() {
          const file = yield* fs.open(path, { flag: "r+" })
          let written = 0
          while (written < size) {
            const chunk = randomBytes(Math.min(64 * 1024, size - written))
            yield* file.writeAll(chunk)
            written += chunk.length
          }
          yield* file.sync
        })
      ).pipe(Effect.mapError(fail(path, "remove")))
    }
    yield* fs.remove(path).pipe(Effect.mapError(fail(path, "remove")))
    return isLink ? "link" as const : "file" as const
  })
