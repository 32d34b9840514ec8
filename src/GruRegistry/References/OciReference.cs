using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;

namespace GruRegistry.References;

/// <summary>
/// A model reference <c>oci://host[:port]/repository:tag</c> or <c>oci://host[:port]/repository@sha256:&lt;hex&gt;</c>
/// (both given: the digest wins, as in Docker). Repository and tag follow the grammar of the OCI distribution spec.
/// </summary>
public sealed partial record OciReference
{
    /// <summary>The URI scheme of model references.</summary>
    public const string Scheme = "oci://";

    private OciReference(string registry, string repository, string? tag, Sha256Digest? digest)
    {
        Registry = registry;
        Repository = repository;
        Tag = tag;
        Digest = digest;
    }

    /// <summary>host[:port] of the registry, e.g. <c>registry.example.com</c> or <c>127.0.0.1:5000</c>.</summary>
    public string Registry { get; }

    /// <summary>Repository name inside the registry, e.g. <c>models/session-recs</c>.</summary>
    public string Repository { get; }

    /// <summary>The tag, when the reference names one.</summary>
    public string? Tag { get; }

    /// <summary>The manifest digest, when the reference pins one.</summary>
    public Sha256Digest? Digest { get; }

    /// <summary>What goes after <c>/manifests/</c>: the digest when pinned, else the tag.</summary>
    public string ManifestReference => Digest?.ToString() ?? Tag!;

    /// <summary>This repository pinned to <paramref name="digest"/> (the tag is kept for display).</summary>
    public OciReference WithDigest(Sha256Digest digest) => new(Registry, Repository, Tag, digest);

    /// <summary>This repository at another tag, without a digest.</summary>
    public OciReference WithTag(string tag) =>
        TagPattern().IsMatch(tag) ? new(Registry, Repository, tag, null) : throw new FormatException($"'{tag}' is not a valid tag: {TagRule}");

    /// <summary>Parses a reference; throws <see cref="FormatException"/> naming the reference and what to fix.</summary>
    public static OciReference Parse(string text) =>
        TryParse(text, out var reference, out var error) ? reference : throw new FormatException(error);

    /// <summary>Parses a reference; on failure <paramref name="error"/> names the reference and what to fix.</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out OciReference? reference, [NotNullWhen(false)] out string? error)
    {
        reference = null;
        const string Shape = "expected oci://host[:port]/repository:tag or oci://host[:port]/repository@sha256:<digest>";
        if (string.IsNullOrWhiteSpace(text) || !text.StartsWith(Scheme, StringComparison.Ordinal))
        {
            error = $"'{text}' is not an OCI reference: {Shape}";
            return false;
        }

        var rest = text[Scheme.Length..];
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0)
        {
            error = $"'{text}' names no registry host or no repository: {Shape}";
            return false;
        }

        var registry = rest[..slash];
        if (!HostPattern().IsMatch(registry))
        {
            error = $"'{text}': '{registry}' is not a registry host[:port]";
            return false;
        }

        var path = rest[(slash + 1)..];
        Sha256Digest? digest = null;
        var at = path.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            if (!Sha256Digest.TryParse(path[(at + 1)..], out var parsed, out var digestError))
            {
                error = $"'{text}': {digestError}";
                return false;
            }

            digest = parsed;
            path = path[..at];
        }

        string? tag = null;
        var colon = path.LastIndexOf(':');
        if (colon >= 0 && colon > path.LastIndexOf('/'))
        {
            tag = path[(colon + 1)..];
            path = path[..colon];
            if (!TagPattern().IsMatch(tag))
            {
                error = $"'{text}': '{tag}' is not a valid tag: {TagRule}";
                return false;
            }
        }

        if (!RepositoryPattern().IsMatch(path) || path.Length > 255)
        {
            error = $"'{text}': '{path}' is not a valid repository name: lowercase letters, digits and separators (. _ __ -) in /-separated parts, e.g. models/session-recs";
            return false;
        }

        if (tag is null && digest is null)
        {
            error = $"'{text}' names neither a tag nor a digest: add :<tag> (e.g. :1.0) or @sha256:<digest>";
            return false;
        }

        reference = new OciReference(registry, path, tag, digest);
        error = null;
        return true;
    }

    /// <inheritdoc/>
    public override string ToString() =>
        $"{Scheme}{Registry}/{Repository}{(Tag is null ? "" : ":" + Tag)}{(Digest is { } d ? "@" + d : "")}";

    private const string TagRule = "up to 128 characters of letters, digits, '_', '.' and '-', not starting with '.' or '-'";

    // The OCI distribution spec's <name> and <reference> (tag) grammars.
    [GeneratedRegex("^[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*$")]
    private static partial Regex RepositoryPattern();

    [GeneratedRegex("^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")]
    private static partial Regex TagPattern();

    [GeneratedRegex("^([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\\[[0-9a-fA-F:]+\\])(:[0-9]{1,5})?$")]
    private static partial Regex HostPattern();
}
