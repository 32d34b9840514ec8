using System.Text.Json;
using System.Text.Json.Serialization;
using GruRegistry.Distribution;
using GruRegistry.References;

namespace GruRegistry.Models;

/// <summary>The media types of a GRU model artifact (our own, in the vnd.gru tree).</summary>
public static class ModelMediaTypes
{
    /// <summary>The manifest's <c>artifactType</c>: this manifest is a GRU model version.</summary>
    public const string Artifact = "application/vnd.gru.model.v1";

    /// <summary>The config blob: <see cref="ModelConfig"/> as JSON. Also marks a model on registries that drop artifactType.</summary>
    public const string Config = "application/vnd.gru.model.config.v1+json";

    /// <summary>The one layer: the ONNX file, byte for byte.</summary>
    public const string Onnx = "application/vnd.gru.model.onnx.v1";
}

/// <summary>One named tensor of the model's signature; -1 marks a dynamic dimension.</summary>
public sealed record TensorSignature(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("dataType")] string DataType,
    [property: JsonPropertyName("shape")] IReadOnlyList<long> Shape);

/// <summary>The GRU layers' shape, as read from the ONNX graph.</summary>
public sealed record GruShape(
    [property: JsonPropertyName("inputSize")] int InputSize,
    [property: JsonPropertyName("hiddenSize")] int HiddenSize,
    [property: JsonPropertyName("layers")] int Layers,
    [property: JsonPropertyName("direction")] string Direction,
    [property: JsonPropertyName("linearBeforeReset")] bool LinearBeforeReset);

/// <summary>The config blob of a model artifact: what the model is, so <c>inspect</c> and the operator need not download the ONNX file.</summary>
public sealed record ModelConfig(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("producer")] string Producer,
    [property: JsonPropertyName("inputs")] IReadOnlyList<TensorSignature> Inputs,
    [property: JsonPropertyName("outputs")] IReadOnlyList<TensorSignature> Outputs,
    [property: JsonPropertyName("gru")] GruShape? Gru)
{
    /// <summary>Compact JSON bytes, the config blob.</summary>
    public byte[] ToBytes() => JsonSerializer.SerializeToUtf8Bytes(this, ModelJsonContext.Default.ModelConfig);

    /// <summary>Indented JSON, for people.</summary>
    public string ToIndentedJson() => JsonSerializer.Serialize(this, Indented.ModelConfig);

    /// <summary>Parses the config blob; throws <see cref="RegistryException"/> (NotAModel) naming the reference.</summary>
    public static ModelConfig Parse(byte[] bytes, OciReference reference)
    {
        try
        {
            var config = JsonSerializer.Deserialize(bytes, ModelJsonContext.Default.ModelConfig);
            if (config is { Name.Length: > 0, Inputs: not null, Outputs: not null })
            {
                return config;
            }
        }
        catch (JsonException ex)
        {
            throw new RegistryException(RegistryErrorKind.NotAModel, $"{reference}: the model config is not valid JSON: {ex.Message}", ex);
        }

        throw new RegistryException(RegistryErrorKind.NotAModel, $"{reference}: the model config lacks name, inputs or outputs");
    }

    private static readonly ModelJsonContext Indented = new(new JsonSerializerOptions { WriteIndented = true });
}

/// <summary>A model version as the registry holds it: where it is pinned, and the descriptors of its ONNX layer and config.</summary>
public sealed record ResolvedModel(OciReference Reference, Sha256Digest ManifestDigest, OciDescriptor Layer, OciDescriptor ConfigDescriptor, ModelConfig Config)
{
    /// <summary>The ONNX file's digest: what the server computes over the bytes it loads.</summary>
    public Sha256Digest LayerDigest => Sha256Digest.Parse(Layer.Digest);
}

/// <summary>Builds and reads model manifests: image manifest v1.1, artifactType + config type, one ONNX layer.</summary>
public static class ModelManifest
{
    /// <summary>The layer annotation ORAS and others use for a file name.</summary>
    public const string TitleAnnotation = "org.opencontainers.image.title";

    /// <summary>
    /// The manifest for a model. It carries no timestamp, so the same ONNX file and config always give the same
    /// manifest digest: pushing a model twice does not create a second version.
    /// </summary>
    public static OciManifest Build(OciDescriptor config, OciDescriptor layer) =>
        new(2, OciMediaTypes.ImageManifest, config, [layer]) { ArtifactType = ModelMediaTypes.Artifact };

    /// <summary>
    /// Checks that <paramref name="manifest"/> is a GRU model and returns its ONNX layer and config descriptors. A model is
    /// an OCI image manifest with artifactType <see cref="ModelMediaTypes.Artifact"/> or, where a registry dropped that
    /// field, config media type <see cref="ModelMediaTypes.Config"/>, and exactly one layer of type <see cref="ModelMediaTypes.Onnx"/>.
    /// </summary>
    public static (OciDescriptor Layer, OciDescriptor Config) Read(ManifestContent manifest, OciReference reference)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var parsed = OciManifest.TryParse(manifest.Bytes);
        var mediaType = parsed?.MediaType ?? manifest.MediaType;
        if (parsed is null || mediaType != OciMediaTypes.ImageManifest)
        {
            throw NotAModel(reference, $"its manifest is {(string.IsNullOrEmpty(mediaType) ? "not an OCI image manifest" : mediaType)}");
        }

        var configType = parsed.Config?.MediaType;
        if (parsed.ArtifactType != ModelMediaTypes.Artifact && configType != ModelMediaTypes.Config)
        {
            throw NotAModel(reference, $"its artifactType is {parsed.ArtifactType ?? "(none)"} and its config is {configType ?? "(none)"}");
        }

        var layers = (parsed.Layers ?? []).Where(l => l.MediaType == ModelMediaTypes.Onnx).ToList();
        if (layers.Count != 1 || parsed.Config is null)
        {
            throw NotAModel(reference, $"it has {layers.Count} layers of type {ModelMediaTypes.Onnx}; a model has exactly one");
        }

        foreach (var descriptor in new[] { layers[0], parsed.Config })
        {
            if (!Sha256Digest.TryParse(descriptor.Digest, out _, out var error) || descriptor.Size < 0)
            {
                throw NotAModel(reference, $"a descriptor is malformed: {error ?? $"size {descriptor.Size}"}");
            }
        }

        return (layers[0], parsed.Config);
    }

    private static RegistryException NotAModel(OciReference reference, string why) =>
        new(RegistryErrorKind.NotAModel,
            $"{reference} is not a GRU model: {why}. Models have artifactType {ModelMediaTypes.Artifact} and one {ModelMediaTypes.Onnx} layer; push them with `gru-model push`");
}

[JsonSourceGenerationOptions(WriteIndented = false)]
[JsonSerializable(typeof(ModelConfig))]
internal sealed partial class ModelJsonContext : JsonSerializerContext;
