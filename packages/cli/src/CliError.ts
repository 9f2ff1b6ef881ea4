/**
 * The errors of the `mcp-credentials` commands. The binary prints a message on one line of
 * stderr and exits non-zero; a message names the file, option or variable that is wrong and
 * never quotes key material, a token, a secret or a credential value.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"

/**
 * Marks every CLI error, so `isCliError` can tell them apart from other failures.
 *
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@mcp-credentials/cli/CliError")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * A file could not be read, written or removed. `reason` is a short description of the system
 * error (`file not found`, `permission denied`, `is a directory`, …).
 *
 * @since 0.1.0
 * @category errors
 */
export class FileError extends Schema.TaggedError<FileError>("@mcp-credentials/cli/FileError")("FileError", {
  path: Schema.String,
  operation: Schema.Literal("read", "write", "remove"),
  reason: Schema.String
}) {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `Cannot ${this.operation} ${this.path}: ${this.reason}`
  }
}

/**
 * `keys generate` would overwrite an existing key file and `--force` was not given.
 *
 * @since 0.1.0
 * @category errors
 */
export class KeyFileExistsError extends Schema.TaggedError<KeyFileExistsError>(
  "@mcp-credentials/cli/KeyFileExistsError"
)("KeyFileExistsError", {
  path: Schema.String
}) {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `${this.path} already exists: pass --force to overwrite it, or run 'mcp-credentials keys rotate' to add a key`
  }
}

/**
 * A file holds something other than the expected key (not JSON, not a JWK or JWKS, no private
 * part, a key for the other use). `reason` never quotes the file's content.
 *
 * @since 0.1.0
 * @category errors
 */
export class KeyFormatError extends Schema.TaggedError<KeyFormatError>("@mcp-credentials/cli/KeyFormatError")(
  "KeyFormatError",
  {
    path: Schema.String,
    reason: Schema.String
  }
) {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `${this.path}: ${this.reason}`
  }
}

/**
 * A command-line option has a value the command cannot use, or options that cannot go together.
 * `option` is the flag (`--claims`) or variable name; `reason` never quotes a secret.
 *
 * @since 0.1.0
 * @category errors
 */
/**
 * The handler of a command group run without a subcommand: a usage error (exit 2) naming the
 * subcommands, as the seed's argparse program does (`mcp-secrets` without one exits 2).
 *
 * @since 0.1.0
 * @category constructors
 */
export const subcommandRequired = (path: string, subcommands: ReadonlyArray<string>) => () =>
  Effect.fail(
    new InvalidArgumentError({
      option: "command",
      reason: `${path} needs a subcommand: ${subcommands.join(", ")} (see ${path} --help)`
    })
  )

export class InvalidArgumentError extends Schema.TaggedError<InvalidArgumentError>(
  "@mcp-credentials/cli/InvalidArgumentError"
)("InvalidArgumentError", {
  option: Schema.String,
  reason: Schema.String
}) {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `Invalid ${this.option}: ${this.reason}`
  }
}

/**
 * A cryptographic operation failed (key generation, signing, encryption). `reason` is fixed
 * text, never a library message that could quote key material.
 *
 * @since 0.1.0
 * @category errors
 */
export class CryptoError extends Schema.TaggedError<CryptoError>("@mcp-credentials/cli/CryptoError")("CryptoError", {
  operation: Schema.String,
  reason: Schema.String
}) {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `Cannot ${this.operation}: ${this.reason}`
  }
}

/**
 * `doctor` found a misconfiguration; it has already printed the details (the library's own
 * messages) on stdout.
 *
 * @since 0.1.0
 * @category errors
 */
export class DoctorProblemsError extends Schema.TaggedError<DoctorProblemsError>(
  "@mcp-credentials/cli/DoctorProblemsError"
)("DoctorProblemsError", {
  problems: Schema.Number
}) {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `doctor found ${this.problems} problem${this.problems === 1 ? "" : "s"}`
  }
}

/**
 * A credential store could not be opened or used: its driver failed, the encryption key is
 * missing or wrong, a record does not decrypt. `reason` is the library's message plus a short
 * description of the system error; it never holds a connection URL, a key or a stored value.
 *
 * @since 0.1.0
 * @category errors
 */
export class CredentialStoreError extends Schema.TaggedError<CredentialStoreError>(
  "@mcp-credentials/cli/CredentialStoreError"
)("CredentialStoreError", {
  store: Schema.Literal("file", "redis", "postgres"),
  operation: Schema.String,
  reason: Schema.String
}) {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `Cannot ${this.operation} the ${this.store} credential store: ${this.reason}`
  }
}

/**
 * `vault revoke` found no live credential to remove.
 *
 * @since 0.1.0
 * @category errors
 */
export class NoStoredCredentialError extends Schema.TaggedError<NoStoredCredentialError>(
  "@mcp-credentials/cli/NoStoredCredentialError"
)("NoStoredCredentialError", {
  subject: Schema.String,
  provider: Schema.optional(Schema.String)
}) {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `No stored credential for subject ${JSON.stringify(this.subject)}${
      this.provider === undefined ? "" : ` and provider ${JSON.stringify(this.provider)}`
    }`
  }
}

/**
 * Every error a command can fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type CliError =
  | FileError
  | KeyFileExistsError
  | KeyFormatError
  | InvalidArgumentError
  | CryptoError
  | DoctorProblemsError
  | CredentialStoreError
  | NoStoredCredentialError

/**
 * Tells whether a value is one of this module's errors.
 *
 * @since 0.1.0
 * @category refinements
 */
export const isCliError = (u: unknown): u is CliError => Predicate.hasProperty(u, TypeId)
