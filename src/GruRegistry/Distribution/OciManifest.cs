using System.Text.Json;
using System.Text.Json.Serialization;

namespace GruRegistry.Distribution;

/// <summary>Media types of the OCI image spec (and Docker's, to name what a non-model manifest is).</summary>
public static class OciMediaTypes
{
    /// <summary>OCI image manifest.</summary>
    public const string ImageManifest = "application/vnd.oci.image.manifest.v1+json";

    /// <summary>OCI image index.</summary>
    public const string ImageIndex = "application/vnd.oci.image.index.v1+json";

    /// <summary>Docker image manifest v2 schema 2.</summary>
    public const string DockerManifest = "application/vnd.docker.distribution.manifest.v2+json";

    /// <summary>Docker manifest list.</summary>
    public const string DockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";

    /// <summary>What a manifest GET accepts: OCI first; Docker types only so a non-model answers with what it is rather than 404.</summary>
    public static readonly string[] ManifestAccept = [ImageManifest, ImageIndex, DockerManifest, DockerManifestList];
}

/// <summary>An OCI content descriptor (image-spec descriptor.md).</summary>
public sealed record OciDescriptor(
    [property: JsonPropertyName("mediaType")] string MediaType,
    [property: JsonPropertyName("digest")] string Digest,
    [property: JsonPropertyName("size")] long Size)
{
    /// <summary>Free-form annotations, e.g. <c>org.opencontainers.image.title</c>.</summary>
    [JsonPropertyName("annotations")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyDictionary<string, string>? Annotations { get; init; }
}

/// <summary>An OCI image manifest v1.1 (image-spec manifest.md), including <c>artifactType</c> for artifacts.</summary>
public sealed record OciManifest(
    [property: JsonPropertyName("schemaVersion")] int SchemaVersion,
    [property: JsonPropertyName("mediaType")] string? MediaType,
    [property: JsonPropertyName("config")] OciDescriptor? Config,
    [property: JsonPropertyName("layers")] IReadOnlyList<OciDescriptor>? Layers)
{
    /// <summary>The artifact's type (image-spec v1.1); registries older than v1.1 store it untouched in the manifest bytes.</summary>
    [JsonPropertyName("artifactType")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ArtifactType { get; init; }

    /// <summary>Free-form annotations.</summary>
    [JsonPropertyName("annotations")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyDictionary<string, string>? Annotations { get; init; }

    /// <summary>The exact bytes that are pushed and whose sha256 is the manifest digest.</summary>
    public byte[] ToBytes() => JsonSerializer.SerializeToUtf8Bytes(this, OciJsonContext.Default.OciManifest);

    /// <summary>Parses manifest bytes; null when they are not a JSON object of this shape.</summary>
    public static OciManifest? TryParse(ReadOnlySpan<byte> bytes)
    {
        try
        {
            return JsonSerializer.Deserialize(bytes, OciJsonContext.Default.OciManifest);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

/// <summary>A manifest as fetched: its bytes, their verified digest and the media type the registry served.</summary>
public sealed record ManifestContent(References.Sha256Digest Digest, string MediaType, byte[] Bytes);

/// <summary>What a blob push did.</summary>
public enum BlobPushOutcome
{
    /// <summary>The repository had the blob already (HEAD said so); nothing was sent.</summary>
    Existed,

    /// <summary>The registry mounted it from another repository; nothing was sent.</summary>
    Mounted,

    /// <summary>Uploaded in one PUT.</summary>
    UploadedMonolithic,

    /// <summary>Uploaded in PATCH chunks and a closing PUT.</summary>
    UploadedChunked,
}

[JsonSourceGenerationOptions(WriteIndented = false)]
[JsonSerializable(typeof(OciManifest))]
internal sealed partial class OciJsonContext : JsonSerializerContext;
