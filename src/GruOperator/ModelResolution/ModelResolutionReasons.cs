namespace GruOperator.ModelResolution;

/// <summary>Reasons of the ModelResolved condition and of the Events that go with them (docs/API.md lists them).</summary>
internal static class ModelResolutionReasons
{
    /// <summary>True: the source is pinned to a manifest digest (a digest reference, or a tag resolved once).</summary>
    public const string Resolved = "Resolved";

    /// <summary>True: still pinned, but the tag now points to another digest; nothing changes until re-resolve or a spec change.</summary>
    public const string TagMoved = "TagMoved";

    /// <summary>Event: serving.gru.dev/action=re-resolve moved the pin to where the tag points now.</summary>
    public const string ReResolved = "ReResolved";

    /// <summary>False: the registry did not answer (connection refused, 5xx, timeout); retried with backoff.</summary>
    public const string RegistryUnreachable = "RegistryUnreachable";

    /// <summary>False: the registry answered with something retrying will not fix alone (401, 403, 404, not a model).</summary>
    public const string RegistryError = "RegistryError";

    /// <summary>False: spec.model.registrySecretRef names a Secret that is missing or in neither supported form.</summary>
    public const string RegistrySecretInvalid = "RegistrySecretInvalid";

    /// <summary>Unknown: the tag could not be compared with the pin this time (the pin keeps serving).</summary>
    public const string TagCheckFailed = "TagCheckFailed";
}

/// <summary>Resolving an oci:// source failed; <see cref="Reason"/> is the ModelResolved condition's reason.</summary>
internal sealed class ModelResolutionException(string reason, bool transient, string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>A <see cref="ModelResolutionReasons"/> value.</summary>
    public string Reason { get; } = reason;

    /// <summary>Whether waiting alone may fix it (the registry down), as opposed to needing someone to act.</summary>
    public bool Transient { get; } = transient;
}
