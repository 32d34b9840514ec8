namespace GruRegistry.Distribution;

/// <summary>What went wrong talking to a registry, so callers can decide (retry, alert, refuse) without parsing messages.</summary>
public enum RegistryErrorKind
{
    /// <summary>401: no or wrong credentials.</summary>
    Unauthorized,

    /// <summary>403: the credentials may not do this.</summary>
    Forbidden,

    /// <summary>404: repository, tag, manifest or blob unknown.</summary>
    NotFound,

    /// <summary>5xx or 429 after the retries.</summary>
    ServerError,

    /// <summary>Connection refused, reset or DNS failure, after the retries.</summary>
    Unreachable,

    /// <summary>No answer within the configured timeout.</summary>
    Timeout,

    /// <summary>Content whose sha256 or size differs from the digest asked for: never used.</summary>
    DigestMismatch,

    /// <summary>The manifest is not a GRU model artifact.</summary>
    NotAModel,

    /// <summary>An answer the client cannot use (unexpected status, malformed JSON or headers).</summary>
    BadResponse,

    /// <summary>Local trouble: credentials that cannot be parsed, a file that cannot be written.</summary>
    Local,
}

/// <summary>A registry operation that failed; the message is one line naming the reference and, where there is one, the fix.</summary>
public sealed class RegistryException(RegistryErrorKind kind, string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The category of failure.</summary>
    public RegistryErrorKind Kind { get; } = kind;

    /// <summary>True for failures a later attempt may not hit (server errors, unreachable, timeouts).</summary>
    public bool IsTransient => Kind is RegistryErrorKind.ServerError or RegistryErrorKind.Unreachable or RegistryErrorKind.Timeout;
}
