/**
 * The one schema for secret strings. Every secret field of this project (access tokens, refresh
 * tokens, client secrets, static credential fields) is declared with it, so a secret is
 * `Redacted` from the moment it is decoded: `String`, `JSON.stringify`, `util.inspect` and error
 * messages show `<redacted>`.
 *
 * @since 0.1.0
 */
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"

/**
 * A string held as `Redacted<string>`. Decodes from a plain string; encoding gives the plain
 * string back, so only encode into a store that is itself protected (the vault encrypts).
 *
 * @since 0.1.0
 * @category schemas
 */
export const SecretString: Schema.Redacted<typeof Schema.String> = Schema.Redacted(Schema.String)

/**
 * The type of a secret string.
 *
 * @since 0.1.0
 * @category models
 */
export type SecretString = Redacted.Redacted<string>

/**
 * Wraps a plain string as a secret.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (value: string): SecretString => Redacted.make(value)

/**
 * Reads the plain value. Call it only where the secret leaves the process (the outgoing request).
 *
 * @since 0.1.0
 * @category accessors
 */
export const value = (secret: SecretString): string => Redacted.value(secret)
