using Kube.Local.Crds;

namespace Kube.Local.Resources;

/// <summary>How object names of a resource are validated (apimachinery's name validators).</summary>
internal enum NameRule
{
    Subdomain,
    Label,
    Dns1035Label,
}

/// <summary>One served resource at one version: discovery facts plus the behaviours the generic registry needs.</summary>
internal sealed record ResourceType
{
    public required string Group { get; init; }
    public required string Version { get; init; }
    public required string Plural { get; init; }
    public required string Kind { get; init; }
    public required bool Namespaced { get; init; }
    public string Singular => Kind.ToLowerInvariant();
    public IReadOnlyList<string> ShortNames { get; init; } = [];
    public IReadOnlyList<string> Categories { get; init; } = [];

    /// <summary>Has a /status subresource: the main endpoint ignores status, /status changes only status.</summary>
    public bool HasStatus { get; init; }

    /// <summary>DELETE answers with the deleted object rather than a Status (pods, services, serviceaccounts: their registries set ReturnDeletedObject, and typed clients expect it).</summary>
    public bool ReturnsDeletedObject { get; init; }

    /// <summary>Has a /scale subresource, and where its fields live; null when not scalable.</summary>
    public ScalePaths? Scale { get; init; }

    /// <summary>metadata.generation is set on create and bumped when anything outside metadata and status changes.</summary>
    public bool TracksGeneration { get; init; }

    public NameRule NameRule { get; init; } = NameRule.Subdomain;

    /// <summary>Field labels usable in fieldSelector beyond metadata.name and metadata.namespace.</summary>
    public IReadOnlyList<string> FieldLabels { get; init; } = [];

    /// <summary>Built-in kinds accept strategic merge patches; custom resources do not (as in Kubernetes).</summary>
    public bool IsBuiltIn { get; init; } = true;

    /// <summary>Schema, printer columns and defaulting of a custom resource version; null for built-ins.</summary>
    public CrdVersionSchema? Schema { get; init; }

    /// <summary>Where objects live: all versions of a resource share one storage bucket.</summary>
    public string StorageKey { get; init; } = "";

    public string GroupVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";

    public string ApiPrefix => Group.Length == 0 ? $"/api/{Version}" : $"/apis/{Group}/{Version}";

    public string QualifiedResource => Group.Length == 0 ? Plural : $"{Plural}.{Group}";

    public ResourceType Normalize() => StorageKey.Length > 0 ? this : this with { StorageKey = $"{Group}/{Plural}" };
}
