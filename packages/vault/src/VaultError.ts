/**
 * The errors of the vault. Messages name a variable, an operation or a key id, never a secret, a
 * subject's stored value or a connection URL.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Schema from "effect/Schema"

/**
 * A storage driver failed (file system, Redis, Postgres), or a store's option is invalid
 * (`reason` names the option). `cause` holds the driver's error; it may mention a host name, so
 * log the message, not the cause.
 *
 * @since 0.1.0
 * @category errors
 */
export class StoreError extends Data.TaggedError("StoreError")<{
  readonly backend: "memory" | "file" | "redis" | "postgres"
  readonly operation: string
  readonly cause: unknown
  /** What is wrong, when it is known without the cause (an invalid option, by name). */
  readonly reason?: string | undefined
}> {
  override get message(): string {
    return `Credential store (${this.backend}) failed during ${this.operation}${this.reason === undefined ? "" : `: ${this.reason}`}`
  }
}

/**
 * A stored record could not be decrypted or decoded: the key is not in the keyring, the record
 * was tampered with, or it was copied under another provider or subject. The record is left in
 * place; it is never silently dropped.
 *
 * @since 0.1.0
 * @category errors
 */
export class DecryptionError extends Schema.TaggedError<DecryptionError>(
  "@mcp-credentials/vault/DecryptionError"
)("DecryptionError", {
  keyId: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `A stored record could not be decrypted (key id ${this.keyId || "unknown"}): ${this.reason}`
  }
}

/**
 * The encryption key is missing or malformed. Raised while the store layer is built, before any
 * stored data is read, so a typo never deletes or rewrites anything.
 *
 * @since 0.1.0
 * @category errors
 */
export class EncryptionKeyError extends Schema.TaggedError<EncryptionKeyError>(
  "@mcp-credentials/vault/EncryptionKeyError"
)("EncryptionKeyError", {
  variable: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Invalid encryption key in ${this.variable}: ${this.reason}`
  }
}

/**
 * What a store operation can fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type VaultError = StoreError | DecryptionError
