using GruServing.Contract.Models;

namespace GruOperator.Domain.Rollout;

/// <summary>How a model file is obtained.</summary>
public enum ModelSourceKind
{
    /// <summary>An OCI artifact in a registry.</summary>
    Oci,

    /// <summary>A file downloaded over HTTPS.</summary>
    Https,

    /// <summary>A file already present in the server image (or a mounted volume).</summary>
    File,
}

/// <summary>A parsed spec.model.source plus the digest the pods must verify, when one is known.</summary>
public sealed record ModelSource(ModelSourceKind Kind, string Uri, string Location, string? Sha256Hex)
{
    /// <summary>"sha256:&lt;hex&gt;" or null when the digest is not known yet (an oci tag without a pinned digest).</summary>
    public string? Digest => Sha256Hex is null ? null : ModelDigest.Prefix + Sha256Hex;

    /// <summary>The source as it may be shown (status, annotations, events): no user info, a query as "?…" (<see cref="RedactedUri"/>).</summary>
    public string Shown => RedactedUri.Of(Uri);

    /// <summary>
    /// Parses <paramref name="source"/> and <paramref name="sha256"/>. Examples:
    /// ("file:///opt/models/m.onnx", "ab…") → File, location /opt/models/m.onnx;
    /// ("oci://reg:5000/models/m@sha256:ab…", "") → Oci, digest taken from the reference;
    /// ("oci://reg:5000/models/m:1.0", "") → Oci, digest unknown until the registry resolves the tag.
    /// </summary>
    public static bool TryParse(string? source, string? sha256, out ModelSource? parsed, out string error)
    {
        parsed = null;
        error = "";
        if (string.IsNullOrWhiteSpace(source))
        {
            error = "spec.model.source is empty: set it to oci://, https:// or file:// followed by the model's location";
            return false;
        }

        var hex = string.IsNullOrEmpty(sha256) ? null : ModelDigest.TryParse(sha256)?.Hex;
        if (!string.IsNullOrEmpty(sha256) && hex is null)
        {
            error = $"spec.model.sha256 '{sha256}' is not a sha256: use {ModelDigest.Expected}";
            return false;
        }

        var separator = source.IndexOf("://", StringComparison.Ordinal);
        var scheme = separator < 0 ? "" : source[..separator];
        var rest = separator < 0 ? "" : source[(separator + 3)..];
        switch (scheme)
        {
            case "file":
                if (!rest.StartsWith('/') || rest.Length < 2)
                {
                    error = $"spec.model.source '{source}' must be an absolute path: file:///path/to/model.onnx";
                    return false;
                }
                if (string.IsNullOrEmpty(hex))
                {
                    error = "spec.model.sha256 is required for file:// sources: set it to the output of sha256sum model.onnx";
                    return false;
                }
                parsed = new ModelSource(ModelSourceKind.File, source, rest, hex);
                return true;
            case "https":
                if (!System.Uri.TryCreate(source, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
                {
                    error = $"spec.model.source '{RedactedUri.Of(source)}' is not a valid https URL";
                    return false;
                }
                if (uri.UserInfo.Length > 0)
                {
                    // It would be copied into the pod spec, where anyone who may read Deployments reads it.
                    error = $"spec.model.source '{RedactedUri.Of(source)}' carries user:password@: remove it, and serve the model from a presigned URL or from an oci:// registry with spec.model.registrySecretRef";
                    return false;
                }
                if (string.IsNullOrEmpty(hex))
                {
                    error = "spec.model.sha256 is required for https:// sources: set it to the output of sha256sum model.onnx";
                    return false;
                }
                parsed = new ModelSource(ModelSourceKind.Https, source, source, hex);
                return true;
            case "oci":
                var at = rest.IndexOf("@sha256:", StringComparison.Ordinal);
                var referenceHex = at < 0 ? null : ModelDigest.TryParse(rest[(at + 1)..])?.Hex;
                if (at >= 0 && referenceHex is null)
                {
                    error = $"spec.model.source '{source}' has a malformed digest: use oci://registry/repo@sha256:<64 lowercase hex digits>";
                    return false;
                }
                if (referenceHex is not null && !string.IsNullOrEmpty(hex) && referenceHex != hex)
                {
                    error = "spec.model.sha256 differs from the digest in spec.model.source: remove spec.model.sha256 or make them equal";
                    return false;
                }
                if (rest.Length == 0 || rest.StartsWith('/') || !rest.Contains('/'))
                {
                    error = $"spec.model.source '{source}' must name a registry and repository: oci://registry[:port]/repository[:tag|@sha256:digest]";
                    return false;
                }
                parsed = new ModelSource(ModelSourceKind.Oci, source, rest, referenceHex ?? (string.IsNullOrEmpty(hex) ? null : hex));
                return true;
            default:
                error = $"spec.model.source '{source}' has an unsupported scheme: use oci://, https:// or file://";
                return false;
        }
    }
}
