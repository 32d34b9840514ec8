namespace Kube.Local.Storage;

/// <summary>How unknown fields in a request body are treated (the fieldValidation query parameter).</summary>
internal enum FieldValidation
{
    Ignore,
    Warn,
    Strict,
}

/// <summary>The query parameters every write carries.</summary>
internal sealed record WriteOptions(bool DryRun, string FieldManager, FieldValidation FieldValidation)
{
    public static readonly WriteOptions Default = new(false, "unknown", FieldValidation.Warn);

    /// <summary>Warnings to send back in Warning headers (unknown fields under fieldValidation=Warn).</summary>
    public List<string> Warnings { get; } = [];
}

/// <summary>The body or query of a DELETE: propagation policy, preconditions, dryRun and gracePeriodSeconds (null: the object's default).</summary>
internal sealed record DeleteOptions(string? PropagationPolicy, string? PreconditionUid, string? PreconditionResourceVersion, bool DryRun, long? GracePeriodSeconds = null);
