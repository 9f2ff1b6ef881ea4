/**
 * The errors of the credentials-provider flow. Each reaches the client as a tool error (or, for
 * `UrlElicitationRequiredError` in `Elicitation`, a JSON-RPC error). Messages name the provider,
 * a field's label or an operation, never a secret, a state or a one-time link.
 *
 * @since 0.1.0
 */
import { CredentialError } from "@mcp-credentials/core"
import * as Schema from "effect/Schema"

/**
 * The tool needs per-user credentials and the call carries no authenticated user (no access token
 * with a `sub`). The seed returned the text `Error: no authenticated user context.`; this is the
 * same refusal as a tagged error, and a token without `sub` is refused too (no shared `""` user).
 *
 * @since 0.1.0
 * @category errors
 */
export class NoAuthenticatedUserError extends Schema.TaggedError<NoAuthenticatedUserError>(
  "@mcp-credentials/vault/NoAuthenticatedUserError"
)("NoAuthenticatedUserError", {
  provider: Schema.String
}) {
  readonly [CredentialError.TypeId]: CredentialError.TypeId = CredentialError.TypeId
  override get message(): string {
    return `Error: no authenticated user context. ${this.provider} credentials are kept per user; call with an access token that names the user (sub).`
  }
}

/**
 * The client cannot open a URL elicitation: the user must connect the provider in a browser.
 * `connectUrl` is the provider's connect page, which asks the user to sign in first: it is not a
 * one-time link, so it is safe in front of the model.
 *
 * @since 0.1.0
 * @category errors
 */
export class CredentialsRequiredError extends Schema.TaggedError<CredentialsRequiredError>(
  "@mcp-credentials/vault/CredentialsRequiredError"
)("CredentialsRequiredError", {
  provider: Schema.String,
  title: Schema.String,
  connectUrl: Schema.String
}) {
  readonly [CredentialError.TypeId]: CredentialError.TypeId = CredentialError.TypeId
  override get message(): string {
    return `${this.title} credentials are required and none are stored for this user. ` +
      `Ask the user to open ${this.connectUrl} in a browser, sign in, and enter their ${this.title} credentials; then call the tool again.`
  }
}

/**
 * The user declined or cancelled the elicitation, the form was not submitted in time, or the
 * client failed the request.
 *
 * @since 0.1.0
 * @category errors
 */
export class CredentialsNotProvidedError extends Schema.TaggedError<CredentialsNotProvidedError>(
  "@mcp-credentials/vault/CredentialsNotProvidedError"
)("CredentialsNotProvidedError", {
  provider: Schema.String,
  title: Schema.String,
  reason: Schema.Literal("declined", "cancelled", "timeout", "failed")
}) {
  readonly [CredentialError.TypeId]: CredentialError.TypeId = CredentialError.TypeId
  override get message(): string {
    return `${this.title} credentials were not provided or the request timed out. Please try again.`
  }
}

/**
 * The credential or pending store failed (the driver's detail is logged, not shown).
 *
 * @since 0.1.0
 * @category errors
 */
export class CredentialsUnavailableError extends Schema.TaggedError<CredentialsUnavailableError>(
  "@mcp-credentials/vault/CredentialsUnavailableError"
)("CredentialsUnavailableError", {
  provider: Schema.String,
  operation: Schema.String
}) {
  readonly [CredentialError.TypeId]: CredentialError.TypeId = CredentialError.TypeId
  override get message(): string {
    return `${this.provider} credentials are unavailable right now (store failure during ${this.operation}). Try again later.`
  }
}

/**
 * What a provider's `validate` fails with when the downstream API refuses the credentials. The
 * message is shown on the form, so it must not quote the credential.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidCredentialsError extends Schema.TaggedError<InvalidCredentialsError>(
  "@mcp-credentials/vault/InvalidCredentialsError"
)("InvalidCredentialsError", {
  message: Schema.String
}) {}

/**
 * A provider definition or a page option is invalid (raised when the layer or router is built).
 *
 * @since 0.1.0
 * @category errors
 */
export class ProviderConfigError extends Schema.TaggedError<ProviderConfigError>(
  "@mcp-credentials/vault/ProviderConfigError"
)("ProviderConfigError", {
  field: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Invalid credentials provider option ${this.field}: ${this.reason}`
  }
}
