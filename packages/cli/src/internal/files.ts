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
 * The real path of `path` (a symbolic link followed to the file it points to), or `path` itself
 * when there is no file there yet.
 * @internal
 */
export const realPath = (path: string): Effect.Effect<string, FileError, FileSystem.FileSystem> =>
  Effect.flatMap(FileSystem.FileSystem, (fs) =>
    fs.realPath(path).pipe(
      Effect.catchIf((e) => describe(e) === "file not found", () => Effect.succeed(path)),
      Effect.mapError(fail(path, "write"))
    ))

/**
 * Writes `content` to a new temporary file beside `path`, created with `mode` (so a private key is
 * never readable by others, not even for a moment), then renames it over `path`: a reader sees
 * the old file or the new one, never half of one.
 *
 * Replacing an existing file keeps what others rely on: a symbolic link stays (the file it points
 * to is replaced, the temporary file is written beside that one), the new file has the old one's
 * mode (masked with `keep`) and its owner and group. When the owner cannot be given to the new file
 * (only root may give a file away), nothing is replaced: a `FileError` says which user to run as.
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
    /** The bits of an existing file's mode the new file keeps (default 0o666: all but execute). */
    readonly keep?: number
  } = {}
): Effect.Effect<void, FileError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const p = yield* Path.Path
    const target = options.exclusive === true ? path : yield* realPath(path)
    const previous = options.exclusive === true ? undefined : yield* fs.stat(target).pipe(
      Effect.map(Option.some),
      Effect.catchIf((e) => describe(e) === "file not found", () => Effect.succeed(Option.none())),
      Effect.mapError(fail(path, "write")),
      Effect.map(Option.getOrUndefined)
    )
    const newMode = previous === undefined ? mode : previous.mode & 0o777 & (options.keep ?? 0o666)
    const temp = p.join(p.dirname(target), `.${p.basename(target)}.${randomBytes(6).toString("hex")}.tmp`)
    const publish = options.exclusive === true
      ? Effect.zipRight(fs.link(temp, target), Effect.ignore(fs.remove(temp)))
      : fs.rename(temp, target)
    yield* fs.writeFileString(temp, content, { flag: "wx", mode: newMode }).pipe(
      Effect.zipRight(fs.chmod(temp, newMode)),
      Effect.mapError(fail(path, "write")),
      Effect.zipRight(previous === undefined ? Effect.void : keepOwner(temp, target, previous)),
      Effect.zipRight(Effect.mapError(publish, fail(path, "write"))),
      // a failure or an interruption (Ctrl-C) leaves no temporary file (it may hold a private key)
      Effect.onExit((exit) => (Exit.isSuccess(exit) ? Effect.void : Effect.ignore(fs.remove(temp))))
    )
  })

/** Gives `temp` the owner and group of the file it replaces, or fails naming the user to run as. */
const keepOwner = (
  temp: string,
  target: string,
  previous: FileSystem.File.Info
): Effect.Effect<void, FileError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    // no owners to keep where the platform has none (Windows)
    if (Option.isNone(previous.uid) || Option.isNone(previous.gid) || process.geteuid === undefined) return
    const uid = previous.uid.value
    const gid = previous.gid.value
    const created = yield* fs.stat(temp).pipe(Effect.mapError(fail(target, "write")))
    if (Option.getOrUndefined(created.uid) === uid && Option.getOrUndefined(created.gid) === gid) return
    yield* fs.chown(temp, uid, gid).pipe(
      Effect.mapError((e) =>
        new FileError({
          path: target,
          operation: "write",
          reason: `it belongs to uid ${uid} (gid ${gid}), and this run (uid ${process.geteuid!()}) cannot give the new file ` +
            `that owner (${describe(e)}): nothing was replaced; run the command as ${
              uid === 0 ? "root" : `uid ${uid}, e.g. sudo -u '#${uid}' mcp-credentials …`
            }`
        })
      )
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
 * symbolic link is only removed, its target left alone). A file without write permission for its
 * owner is made writable first when this run owns it; one this run may not write at all (another
 * user's) is only removed: `not-overwritten`. Not a
 * reliable erase on SSDs, copy-on-write or journaling file systems, or with backups and
 * snapshots: the only sure protection of a key is never writing it to an unencrypted disk.
 * @internal
 */
export const overwriteAndRemove = (
  path: string
): Effect.Effect<"file" | "link" | "not-overwritten", FileError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    // a symbolic link is removed, never followed: overwriting would destroy the file it points to
    const isLink = yield* Effect.tryPromise(() => lstat(path)).pipe(
      Effect.map((s) => s.isSymbolicLink()),
      Effect.orElseSucceed(() => false)
    )
    const info = yield* fs.stat(path).pipe(Effect.mapError(fail(path, "remove")))
    let overwritten = true
    if (!isLink && info.type === "File") {
      const size = Number(info.size)
      const overwrite = Effect.scoped(
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
      )
      const denied = (e: PlatformError.PlatformError) => describe(e) === "permission denied"
      // a read-only file (mode 0400) of this run's user: its owner may make it writable
      const readOnlyOwn = Option.getOrUndefined(info.uid) === process.geteuid?.() && (info.mode & 0o200) === 0
      overwritten = yield* overwrite.pipe(
        Effect.catchIf(denied, (e) =>
          readOnlyOwn ? Effect.zipRight(fs.chmod(path, (info.mode & 0o7777) | 0o200), overwrite) : Effect.fail(e)),
        Effect.as(true),
        // another user's file (or one this run still cannot write): removing needs only the
        // directory's permission, so the key goes, without being overwritten (the caller warns)
        Effect.catchIf(denied, () => Effect.succeed(false)),
        Effect.mapError(fail(path, "remove"))
      )
    }
    yield* fs.remove(path).pipe(Effect.mapError(fail(path, "remove")))
    return isLink ? "link" as const : overwritten ? "file" as const : "not-overwritten" as const
  })
